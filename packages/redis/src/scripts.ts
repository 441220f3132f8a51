// The Lua scripts behind RedisAdapter. Each runs atomically in Redis, so a publish (dedupe check,
// offset, history append, fan-out) or a presence change (count, member list, event) is never seen
// half done by another process. Time comes from Redis (`TIME`), one clock for every process.
//
// Out of memory: with `maxmemory` reached, Redis refuses a script only at its first write, and only
// if that command may grow memory ("denyoom": SET, HSET, HINCRBY, XADD, ZADD...); once a script has
// written anything it runs to the end, whatever it adds. So every script that can grow memory
// makes a denyoom command its first write (never PEXPIRE, DEL, XTRIM or ZREM, which Redis lets
// through): under maxmemory it is refused whole, before anything is written.
//
// Fencing: a channel's epoch belongs to one Redis process (its `run_id`, stored as `rid`). A
// Redis restarted from a snapshot or AOF, or a replica promoted by a failover, is another process
// whose data may be older than what clients were told (offsets 21-40 handed out again for new
// messages). So the first script to touch a channel in another Redis process starts it over under
// a new epoch: clients recovering from before get `epoch-changed`, never a reused offset. The
// adapter passes the run id it saw on the connection (`''` when unknown); only a mismatch costs an
// INFO (a few microseconds).
//
// Key layout (see keys.ts): `meta` hash {ep, off, rid}; `hist` stream of entries with id `<off>-0` and
// fields `t` (publish time, ms) and `p` (MessagePack payload); `users` hash user -> info; `counts`
// hash user -> live connections; `conns` zset member -> expiry (ms); `states` hash member ->
// presence state (MessagePack).
import type { Cluster, Redis } from 'ioredis';

const PRELUDE = `
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function fmt(n) return string.format('%d', n) end
local function id_offset(id) return tonumber(string.match(id, '^(%d+)')) end

local function run_id() return string.match(redis.call('INFO', 'server'), 'run_id:(%x+)') end

-- The channel's epoch, created when missing or written by another Redis process (see Fencing
-- above; 'hint' is the run id the adapter saw). A new epoch starts a new history: a stream left
-- over from before would hold ids above the restarted offsets, so it goes. Writes nothing for a
-- current channel; HSET (denyoom) is the first write for a new one. The caller renews the meta
-- hash's expiry afterwards.
local function channel_epoch(meta, hist, candidate, hint)
  local m = redis.call('HMGET', meta, 'ep', 'rid')
  if m[1] and m[2] == hint then return m[1] end
  local rid = run_id()
  if m[1] and m[2] == rid then return m[1] end
  redis.call('HSET', meta, 'ep', candidate, 'off', 0, 'rid', rid)
  redis.call('DEL', hist)
  return candidate
end

-- Drops entries published before cutoff. Entries are in time order (one clock), so only the
-- head is looked at; each entry is trimmed once.
local function trim_age(hist, cutoff)
  while true do
    local first = redis.call('XRANGE', hist, '-', '+', 'COUNT', 1)
    if #first == 0 or tonumber(first[1][2][2]) >= cutoff then return end
    redis.call('XTRIM', hist, 'MINID', fmt(id_offset(first[1][1]) + 1) .. '-0')
  end
end

local function fan_out(sharded, topic, frame)
  if sharded == '1' then
    redis.call('SPUBLISH', topic, frame)
  else
    redis.call('PUBLISH', topic, frame)
  end
end

-- Presence members are '<byte length of user>:<user><connection>'.
local function member_user(m)
  local colon = string.find(m, ':', 1, true)
  local n = tonumber(string.sub(m, 1, colon - 1))
  return string.sub(m, colon + 1, colon + n)
end

-- A connection's presence state is gone: 'u' <byte length of member> ':' <member>, no state.
local function state_gone(states, member, sharded, topic)
  if redis.call('HDEL', states, member) == 1 then
    fan_out(sharded, topic, 'u' .. string.len(member) .. ':' .. member)
  end
end

-- Removes connections whose expiry has passed (and their states); a user whose last connection
-- goes is announced.
local function sweep(users, counts, conns, states, now, sharded, topic)
  local expired = redis.call('ZRANGEBYSCORE', conns, '-inf', now, 'LIMIT', 0, 1000)
  for i = 1, #expired do
    redis.call('ZREM', conns, expired[i])
    state_gone(states, expired[i], sharded, topic)
    local user = member_user(expired[i])
    if redis.call('HINCRBY', counts, user, -1) <= 0 then
      redis.call('HDEL', counts, user)
      redis.call('HDEL', users, user)
      fan_out(sharded, topic, 'l' .. user)
    end
  end
end
`;

/**
 * KEYS meta, hist, dedupe. ARGV candidate epoch, payload, maxMessages, maxAgeMs, channelTtlMs,
 * dedupeMs (0: no message id), topic, sharded, run id hint. Returns {epoch, offset, duplicate 0|1}.
 */
const PUBLISH = `${PRELUDE}
local meta, hist, dedupe = KEYS[1], KEYS[2], KEYS[3]
local dedupe_ms = tonumber(ARGV[6])
if dedupe_ms > 0 then
  local prior = redis.call('GET', dedupe)
  if prior then
    local sep = string.find(prior, ' ', 1, true)
    return { string.sub(prior, 1, sep - 1), tonumber(string.sub(prior, sep + 1)), 1 }
  end
end
local ep = channel_epoch(meta, hist, ARGV[1], ARGV[9])
-- The first write to an existing channel (denyoom): refused under maxmemory, nothing stored.
local off = redis.call('HINCRBY', meta, 'off', 1)
redis.call('PEXPIRE', meta, ARGV[5])
local now = now_ms()
redis.call('XADD', hist, 'MAXLEN', ARGV[3], fmt(off) .. '-0', 't', fmt(now), 'p', ARGV[2])
trim_age(hist, now - tonumber(ARGV[4]))
-- Every entry is older than maxAgeMs once the stream has been idle that long.
redis.call('PEXPIRE', hist, ARGV[4])
if dedupe_ms > 0 then
  redis.call('SET', dedupe, ep .. ' ' .. fmt(off), 'PX', dedupe_ms)
end
fan_out(ARGV[8], ARGV[7], 'm' .. ep .. '\\n' .. fmt(off) .. '\\n' .. fmt(now) .. '\\n' .. ARGV[2])
return { ep, off, 0 }
`;

/** KEYS meta, hist. ARGV candidate epoch, channelTtlMs, run id hint. Returns {epoch, offset}. */
const POSITION = `${PRELUDE}
local ep = channel_epoch(KEYS[1], KEYS[2], ARGV[1], ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return { ep, tonumber(redis.call('HGET', KEYS[1], 'off')) }
`;

/**
 * KEYS meta, hist. ARGV candidate epoch, channelTtlMs, since epoch, since offset, maxAgeMs, run id
 * hint, remainder ('1': when too old, also return what is left). Returns {epoch, offset, 'ok',
 * entries} or {epoch, offset, reason} ({epoch, offset, 'too-old', entries} with remainder).
 */
const HISTORY = `${PRELUDE}
local meta, hist = KEYS[1], KEYS[2]
local ep = channel_epoch(meta, hist, ARGV[1], ARGV[6])
redis.call('PEXPIRE', meta, ARGV[2])
local off = tonumber(redis.call('HGET', meta, 'off'))
trim_age(hist, now_ms() - tonumber(ARGV[5]))
local since = tonumber(ARGV[4])
if ARGV[3] ~= ep then return { ep, off, 'epoch-changed' } end
if since > off then return { ep, off, 'ahead' } end
if since == off then return { ep, off, 'ok', {} } end
local first = redis.call('XRANGE', hist, '-', '+', 'COUNT', 1)
local oldest = off + 1
if #first > 0 then oldest = id_offset(first[1][1]) end
if since + 1 < oldest then
  if ARGV[7] == '1' then return { ep, off, 'too-old', redis.call('XRANGE', hist, '-', '+') } end
  return { ep, off, 'too-old' }
end
return { ep, off, 'ok', redis.call('XRANGE', hist, fmt(since + 1) .. '-0', '+') }
`;

/**
 * KEYS users, counts, conns, states. ARGV user, member, info ('' for none), ttlMs, keysTtlMs,
 * sharded, topic, join frame. Returns 1 when this is the user's first live connection.
 */
const PRESENCE_JOIN = `${PRELUDE}
local users, counts, conns, states = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local user, member = ARGV[1], ARGV[2]
local now = now_ms()
-- ZADD (denyoom) first: under maxmemory the join is refused before the sweep writes anything.
-- The member expires after now, so the sweep leaves it alone.
local added = redis.call('ZADD', conns, now + tonumber(ARGV[4]), member)
sweep(users, counts, conns, states, now, ARGV[6], ARGV[7])
local changed = 0
if added == 1 then
  if redis.call('HINCRBY', counts, user, 1) == 1 then
    redis.call('HSET', users, user, ARGV[3])
    fan_out(ARGV[6], ARGV[7], ARGV[8])
    changed = 1
  end
end
redis.call('PEXPIRE', users, ARGV[5])
redis.call('PEXPIRE', counts, ARGV[5])
redis.call('PEXPIRE', conns, ARGV[5])
redis.call('PEXPIRE', states, ARGV[5])
return changed
`;

/**
 * KEYS users, counts, conns, states. ARGV user, member, sharded, topic. Returns 1 for the user's
 * last connection.
 */
const PRESENCE_LEAVE = `${PRELUDE}
local users, counts, conns, states = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local user = ARGV[1]
if redis.call('ZREM', conns, ARGV[2]) == 0 then return 0 end
state_gone(states, ARGV[2], ARGV[3], ARGV[4])
if redis.call('HINCRBY', counts, user, -1) <= 0 then
  redis.call('HDEL', counts, user)
  redis.call('HDEL', users, user)
  fan_out(ARGV[3], ARGV[4], 'l' .. user)
  return 1
end
return 0
`;

/**
 * KEYS users, counts, conns, states. ARGV member, state (MessagePack), keysTtlMs, sharded, topic.
 * Sets a live member's presence state and announces it: 'u' <byte length of member> ':' <member>
 * <state>. Returns 0 (nothing written) when the member is not present.
 */
const PRESENCE_UPDATE = `${PRELUDE}
local conns, states = KEYS[3], KEYS[4]
local member = ARGV[1]
local expiry = redis.call('ZSCORE', conns, member)
if not expiry or tonumber(expiry) <= now_ms() then return 0 end
-- HSET (denyoom) first: under maxmemory the update is refused before anything is written.
redis.call('HSET', states, member, ARGV[2])
redis.call('PEXPIRE', states, ARGV[3])
fan_out(ARGV[4], ARGV[5], 'u' .. string.len(member) .. ':' .. member .. ARGV[2])
return 1
`;

/**
 * KEYS users, counts, conns, states. ARGV ttlMs, keysTtlMs, sharded, topic, members of this process...
 * Extends this process's members first (it is alive), then sweeps everyone's expired ones.
 * Returns the given members that were no longer there (swept while this process was away).
 */
const PRESENCE_REFRESH = `${PRELUDE}
local users, counts, conns, states = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local now = now_ms()
local missing = {}
local expiry = now + tonumber(ARGV[1])
for i = 5, #ARGV do
  if redis.call('ZSCORE', conns, ARGV[i]) then
    redis.call('ZADD', conns, expiry, ARGV[i])
  else
    missing[#missing + 1] = ARGV[i]
  end
end
if #ARGV >= 5 then
  redis.call('PEXPIRE', users, ARGV[2])
  redis.call('PEXPIRE', counts, ARGV[2])
  redis.call('PEXPIRE', conns, ARGV[2])
  redis.call('PEXPIRE', states, ARGV[2])
end
sweep(users, counts, conns, states, now, ARGV[3], ARGV[4])
return missing
`;

/**
 * KEYS users, counts, conns, states. ARGV sharded, topic. Sweeps, then returns
 * {{user, info, ...}, {member, state, ...}}.
 */
const PRESENCE_LIST = `${PRELUDE}
sweep(KEYS[1], KEYS[2], KEYS[3], KEYS[4], now_ms(), ARGV[1], ARGV[2])
return { redis.call('HGETALL', KEYS[1]), redis.call('HGETALL', KEYS[4]) }
`;

type Arg = string | Buffer | number;
type Reply = Promise<unknown>;

/** The scripts as commands of an ioredis connection (EVALSHA, loaded on first use). */
export interface ScriptCommands {
  ieumPublish(...args: Arg[]): Reply;
  ieumPosition(...args: Arg[]): Reply;
  ieumHistoryBuffer(...args: Arg[]): Reply;
  ieumPresenceJoin(...args: Arg[]): Reply;
  ieumPresenceLeave(...args: Arg[]): Reply;
  ieumPresenceUpdate(...args: Arg[]): Reply;
  ieumPresenceRefreshBuffer(...args: Arg[]): Reply;
  ieumPresenceListBuffer(...args: Arg[]): Reply;
}

/** Defines the scripts on a connection; ioredis sends EVALSHA and falls back to EVAL once. */
export function defineScripts<C extends Redis | Cluster>(redis: C): C & ScriptCommands {
  const define = (name: string, numberOfKeys: number, lua: string) =>
    redis.defineCommand(name, { numberOfKeys, lua });
  define('ieumPublish', 3, PUBLISH);
  define('ieumPosition', 2, POSITION);
  define('ieumHistory', 2, HISTORY);
  define('ieumPresenceJoin', 4, PRESENCE_JOIN);
  define('ieumPresenceLeave', 4, PRESENCE_LEAVE);
  define('ieumPresenceUpdate', 4, PRESENCE_UPDATE);
  define('ieumPresenceRefresh', 4, PRESENCE_REFRESH);
  define('ieumPresenceList', 4, PRESENCE_LIST);
  return redis as C & ScriptCommands;
}
