// A node:test reporter for people: one line per test file, failures in full where they happen,
// a progress line while a long file runs, and the summary (with the failures again) at the end.
// Output a test writes to stdout/stderr is kept and shown only when its file fails, so expected
// error stacks of passing tests stay out of the way; IEUM_TEST_VERBOSE=1 shows it all as it comes.
import { relative, resolve } from 'node:path';
import { Transform } from 'node:stream';
import { inspect } from 'node:util';

const root = new URL('..', import.meta.url).pathname;
const verbose = process.env.IEUM_TEST_VERBOSE === '1';
const tty = process.stdout.isTTY === true;
/** While a file runs silently this long, a line says what is still running. */
const progressEveryMs = Number(process.env.IEUM_TEST_PROGRESS_MS) || (tty ? 1_000 : 30_000);
/** At most this many lines of a failing file's own output are shown. */
const maxOutputLines = 200;

const colour = (code) => (text) => (tty && !process.env.NO_COLOR ? `\x1b[${code}m${text}\x1b[0m` : text);
const red = colour(31);
const green = colour(32);
const yellow = colour(33);
const dim = colour(2);

const seconds = (ms) =>
  ms >= 60_000
    ? `${Math.floor(ms / 60_000)}m${Math.round((ms % 60_000) / 1000)}s`
    : `${(ms / 1000).toFixed(1)}s`;
const indent = (text, by = '    ') => text.replace(/^/gm, by);

function describeError(error) {
  // node:test wraps what the test threw in ERR_TEST_FAILURE; the cause is what a person wants.
  const cause = error?.code === 'ERR_TEST_FAILURE' && error.cause !== undefined ? error.cause : error;
  if (cause instanceof Error) {
    // Frames inside node's own test runner say nothing about the failure.
    const text = (cause.stack ?? `${cause.name}: ${cause.message}`)
      .split('\n')
      .filter((line) => !/^\s+at .*(node:internal|node:async_hooks|<anonymous>\)?$)/.test(line))
      .join('\n');
    const extra = [];
    if (cause.code !== 'ERR_ASSERTION' && ('expected' in cause || 'actual' in cause)) {
      extra.push(
        `expected: ${inspect(cause.expected, { depth: 4 })}`,
        `actual:   ${inspect(cause.actual, { depth: 4 })}`,
      );
    }
    if (cause.cause !== undefined) extra.push(`cause: ${inspect(cause.cause, { depth: 2 })}`);
    return [text, ...extra].join('\n');
  }
  return inspect(cause, { depth: 4 });
}

/**
 * The event of a whole test file (each runs in its own process). Node 20 names it by its absolute
 * path, Node 22 and later by the path as given on the command line.
 */
const isFileLevel = (data) =>
  data.nesting === 0 &&
  data.file !== undefined &&
  (data.name === data.file || resolve(data.name) === data.file);

class FileState {
  constructor(file) {
    this.file = file;
    this.name = relative(root, file);
    this.started = Date.now();
    this.lastEvent = Date.now();
    this.passed = 0;
    this.failed = 0;
    this.skipped = 0;
    this.todo = 0;
    this.output = [];
    this.outputDropped = 0;
    this.running = '';
  }
  keep(text) {
    for (const line of text.replace(/\n$/, '').split('\n')) {
      this.output.push(line);
      if (this.output.length > maxOutputLines) {
        this.output.shift();
        this.outputDropped++;
      }
    }
  }
}

class HumanReporter extends Transform {
  constructor() {
    super({ writableObjectMode: true });
    this.files = new Map();
    this.current = undefined;
    this.path = [];
    this.failures = [];
    this.totals = {};
    this.done = [];
    this.started = Date.now();
    this.statusShown = false;
    this.timer = setInterval(() => this.progress(), Math.min(progressEveryMs, 5_000));
    this.timer.unref();
  }

  say(text) {
    if (this.statusShown) {
      this.push('\r\x1b[K');
      this.statusShown = false;
    }
    this.push(`${text}\n`);
  }

  /**
   * The file now running. Files run one at a time; a test's own `file` may name the module that
   * defined it (a shared suite), so results belong to the file whose run they arrive in.
   */
  fileOf(data) {
    if (this.current === undefined && data.file !== undefined) this.startFile(data.file);
    if (this.current) this.current.lastEvent = Date.now();
    return this.current;
  }

  startFile(file) {
    this.current = new FileState(file);
    this.files.set(file, this.current);
    this.path = [];
  }

  progress() {
    const state = this.current;
    if (state === undefined || state.closed) return;
    const quiet = Date.now() - state.lastEvent;
    if (quiet < progressEveryMs) return;
    const running = state.running ? ` › ${state.running}` : '';
    const line = `… ${state.name}${running}: ${state.passed} passed so far, ${seconds(Date.now() - state.started)}`;
    if (tty) {
      this.push(`\r\x1b[K${dim(line)}`);
      this.statusShown = true;
    } else {
      this.say(dim(line));
      state.lastEvent = Date.now();
    }
  }

  _transform(event, _encoding, callback) {
    try {
      this.handle(event);
    } catch (error) {
      this.say(red(`test reporter failed on ${event.type}: ${describeError(error)}`));
    }
    callback();
  }

  handle({ type, data }) {
    switch (type) {
      case 'test:dequeue': {
        if (isFileLevel(data)) this.startFile(data.file);
        const state = this.fileOf(data);
        if (state && !isFileLevel(data)) state.running = data.name;
        return;
      }
      case 'test:start':
        this.path.length = data.nesting;
        this.path[data.nesting] = data.name;
        return;
      case 'test:stdout':
      case 'test:stderr': {
        const state = this.fileOf(data);
        if (verbose) this.say(data.message.replace(/\n$/, ''));
        else state?.keep(data.message);
        return;
      }
      case 'test:pass':
      case 'test:fail':
        if (isFileLevel(data)) return; // reported by test:complete
        return this.result(type === 'test:pass', data);
      case 'test:complete':
        // Node reports a test file (run in its own process) only through test:complete.
        if (isFileLevel(data)) this.fileDone(this.fileOf(data), data.details.passed, data);
        return;
      case 'test:diagnostic':
        if (data.nesting === 0 && data.file === undefined) {
          const match = /^(\w+) ([\d.]+)$/.exec(data.message);
          if (match) this.totals[match[1]] = Number(match[2]);
        } else if (verbose) this.say(dim(`# ${data.message}`));
        return;
      default:
        return;
    }
  }

  result(passed, data) {
    const state = this.fileOf(data);
    if (data.details?.type === 'suite') {
      // A suite fails on its own only when a hook throws; its tests report themselves.
      if (!passed && data.details.error?.failureType === 'hookFailed') this.failure(state, data);
      return;
    }
    if (state === undefined) return;
    if (data.skip !== undefined) state.skipped++;
    else if (data.todo !== undefined) state.todo++;
    else if (passed) state.passed++;
    else this.failure(state, data);
  }

  failure(state, data) {
    const name = [...this.path.slice(0, data.nesting), data.name].filter(Boolean).join(' › ');
    if (state) state.failed++;
    this.failures.push(`${state?.name ?? '?'} › ${name}`);
    this.say(red(`✖ FAIL ${state?.name ?? ''} › ${name}`));
    this.say(indent(describeError(data.details?.error)));
  }

  fileDone(state, passed, data) {
    const ms = data.details?.duration_ms ?? Date.now() - state.started;
    state.closed = true;
    const counts = [`${state.passed} passed`];
    if (state.failed) counts.push(red(`${state.failed} failed`));
    if (state.skipped) counts.push(yellow(`${state.skipped} skipped`));
    if (state.todo) counts.push(yellow(`${state.todo} todo`));
    const ok = passed && state.failed === 0;
    if (!ok && state.failed === 0) {
      // The file itself failed: it did not load, exited early, or timed out.
      this.failures.push(`${state.name} (the file itself)`);
      this.say(red(`✖ FAIL ${state.name}`));
      const error = data.details?.error;
      const why =
        error?.cause === 'test failed'
          ? 'it failed outside any test (its output follows)'
          : describeError(error);
      this.say(indent(why));
    }
    if (!ok && state.output.length > 0) {
      const dropped = state.outputDropped ? ` (first ${state.outputDropped} lines left out)` : '';
      this.say(dim(`  output of ${state.name}${dropped}:`));
      this.say(indent(state.output.join('\n')));
    }
    this.say(`${ok ? green('✔') : red('✖')} ${state.name}  ${counts.join(', ')}  ${dim(seconds(ms))}`);
    this.done.push({ name: state.name, ms });
  }

  _flush(callback) {
    clearInterval(this.timer);
    const t = this.totals;
    const slowest = this.done
      .sort((a, b) => b.ms - a.ms)
      .slice(0, 5)
      .map((f) => `${f.name} ${seconds(f.ms)}`);
    this.say('');
    if (slowest.length > 1) this.say(dim(`slowest files: ${slowest.join(', ')}`));
    const line = [
      `${t.tests ?? 0} tests`,
      `${t.pass ?? 0} passed`,
      `${t.fail ?? 0} failed`,
      t.cancelled ? `${t.cancelled} cancelled` : '',
      t.skipped ? `${t.skipped} skipped` : '',
      t.todo ? `${t.todo} todo` : '',
      `in ${this.done.length} files`,
      seconds(t.duration_ms ?? Date.now() - this.started),
    ]
      .filter(Boolean)
      .join(', ');
    const ok = (t.fail ?? 0) === 0 && (t.cancelled ?? 0) === 0 && this.failures.length === 0;
    if (!ok) {
      this.say(red(`failures (${this.failures.length}):`));
      for (const f of this.failures) this.say(red(`  ✖ ${f}`));
    }
    this.say(ok ? green(`✔ ${line}`) : red(`✖ ${line}`));
    callback();
  }
}

export default new HumanReporter();
