// wsgen: a WebSocket load generator for the side-by-side benchmark (bench/run.ts).
//
// One thread, epoll (edge-triggered), non-blocking sockets. Client frames are built and masked
// once, before the run: a connection's output is always a slice of one read-only buffer holding
// inflight + 1 copies of the frame, so topping a connection up to `inflight` messages is a
// single write() of several frames. Each connection has at most `inflight` messages that the
// server has not echoed yet (servers are never flooded), and every echoed message is checked
// against what was sent (length and bytes; decompressed first with permessage-deflate).
//
// Modes: echo (throughput and round-trip latency), fanout (a control connection asks the server
// to broadcast a burst of --inflight messages, written together; the next burst goes when the
// last subscriber has every message of the previous one), handshake
// (connect, upgrade, close, repeat), hold (open connections and keep them idle until stdin closes),
// ack (one request in flight per connection, timed until its reply: --protocol rt or sio).
//
// Protocols: ws (plain WebSocket), sio (Socket.IO 4 framing over its WebSocket transport), raw
// (bytes over TCP, the floor) and rt (the @ieum/realtime protocol, JSON codec: after the upgrade a
// connection sends `hello`, and subscribers `sub` to the channel "bench"; it is ready once the
// server has answered both). In rt and ack modes a delivered message is an envelope around the
// payload, so it is checked by content: an rt subscriber's message must be a `msg` of channel
// "bench" whose `d` is exactly the payload sent; an rt ack must be a successful, non-duplicate
// `res`; a Socket.IO ack must be the reply packet `43<id>[...]`.
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "frame.h"
#include "hist.h"
#include "options.h"

#define READ_BUFFER (256 * 1024)
#define HEAD_MAX 4096
#define SMALL_MAX 512
#define INFLATE_CHUNK (64 * 1024)
#define CLOSE_WAIT_NS 2000000000ull

enum {
  ST_IDLE,
  ST_CONNECTING,
  ST_UPGRADING,
  ST_SIO_OPEN,
  ST_SIO_CONNECT,
  ST_RT_WELCOME,
  ST_RT_SUB,
  ST_READY,
  ST_CLOSING,
  ST_DONE
};
enum { PH_SETUP, PH_RUN, PH_HOLD };

typedef struct conn {
  int fd, index, state;
  int is_control;
  // Output: a slice [out_pos, out_end) of a shared read-only buffer.
  const uint8_t *out;
  size_t out_pos, out_end;
  int inflight;
  uint64_t *sent_at; // ring of send times, one per message in flight
  int ts_head, ts_count;
  uint64_t connect_at, closing_at;
  // Input.
  char *head;
  size_t head_len;
  frame_parser_t fp;
  int in_message, message_compressed, frame_fin;
  uint64_t frame_length;
  int server_no_context; // negotiated server_no_context_takeover: every message inflates alone
  int inflated_whole;    // the current message was inflated in one go (shared inflater)
  int in_control, control_op;
  uint8_t control[125];
  size_t control_len;
  size_t message_off;
  uint8_t small[SMALL_MAX]; // a Socket.IO handshake packet
  size_t raw_off;
  z_stream *inflater;
  uint64_t received;
  // rt and ack modes: the message being received (checked by content at its end).
  uint8_t *envelope;
  // ack mode, rt: this connection's request frame, rewritten with a new message id per request.
  uint8_t *request_frame;
  uint64_t requests;
} conn_t;

static options_t opt;
static int ep;
static conn_t *conns;
static int total_conns;
static uint8_t *read_buffer;
static uint8_t inflate_out[INFLATE_CHUNK];

static uint8_t *payload;     // what every message must carry (after decompression)
static size_t payload_len;
static uint8_t *frame;       // one pre-built client frame
static size_t frame_len;
static uint8_t *batch;       // (inflight + 1) copies of `frame`
static char request[1024];
static size_t request_len;
static uint8_t sio_connect_frame[16], close_frame[16];
static size_t sio_connect_len, close_len;
static const uint8_t client_mask[4] = {0x37, 0xfa, 0x21, 0x3d};

// Realtime protocol (rt): the first messages of a connection, and what a delivery must contain.
#define RT_CHANNEL "bench"
#define RT_ENVELOPE_EXTRA 512 // envelope bytes around the payload a message may have, at most
static uint8_t *rt_hello;    // hello frame, then (rt_hello_sub_len) the sub frame as well
static size_t rt_hello_len, rt_hello_sub_len;
static char *rt_expect;      // "d":"<payload>" for a subscriber's msg
static size_t mid_at;        // ack mode, rt: offset in `frame` of the message id's digits
static int by_content;       // messages arrive in an envelope: check them by content

static int phase = PH_SETUP;
static int opened, ready_count;
static uint64_t t_start, t_setup_deadline, t_ready, t_measure, t_end;
static int measuring;
static double cpu_at_measure; // the generator's own CPU seconds when measuring started
static conn_t **reopen; // handshake mode: connections to open again after this batch of events
static int reopen_count;
static hist_t hist;
static uint64_t messages, handshakes, stuck_closes;
// fanout
static uint64_t round_no, round_done, rounds, round_started_at;
static uint64_t first_round_at, last_round_done_at; // span of the rounds counted
static conn_t *control;

static double cpu_seconds(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
         ru.ru_stime.tv_usec / 1e6;
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void json_string(FILE *f, const char *s) {
  fputc('"', f);
  for (; *s; s++) {
    unsigned char ch = (unsigned char)*s;
    if (ch == '"' || ch == '\\') fprintf(f, "\\%c", ch);
    else if (ch < 0x20 || ch >= 0x7f) fprintf(f, "\\u%04x", ch);
    else fputc(ch, f);
  }
  fputc('"', f);
}

static void fatal(const char *format, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void fatal(const char *format, ...) {
  char message[512];
  va_list ap;
  va_start(ap, format);
  vsnprintf(message, sizeof message, format, ap);
  va_end(ap);
  fprintf(stderr, "wsgen: %s\n", message);
  fputs("{\"error\":", stdout);
  json_string(stdout, message);
  fputs("}\n", stdout);
  fflush(stdout);
  exit(1);
}

static void on_alarm(int sig) {
  (void)sig;
  static const char text[] = "{\"error\":\"wsgen: time limit reached (the server stopped answering?)\"}\n";
  if (write(STDOUT_FILENO, text, sizeof text - 1) < 0) _exit(3);
  _exit(3);
}

// ---- payloads and pre-built frames ----

static uint32_t rng = 0x9e3779b9u;
static uint32_t next_random(void) {
  rng ^= rng << 13;
  rng ^= rng >> 17;
  rng ^= rng << 5;
  return rng;
}

// Text that compresses like typical JSON traffic (repeated keys, varying numbers).
static void fill_json(uint8_t *out, size_t n) {
  size_t i = 0;
  char record[160];
  while (i < n) {
    int len = snprintf(record, sizeof record,
                       "{\"id\":%u,\"user\":\"user-%u\",\"x\":%u,\"y\":%u,\"event\":\"move\",\"ts\":17%011u},",
                       next_random() % 100000, next_random() % 5000, next_random() % 1920,
                       next_random() % 1080, next_random() % 1000000000u);
    for (int j = 0; j < len && i < n; j++) out[i++] = (uint8_t)record[j];
  }
}

static void fill_letters(uint8_t *out, size_t n) {
  for (size_t i = 0; i < n; i++) out[i] = (uint8_t)('a' + next_random() % 26);
}

// rt: the control connection's `emit` (the server's handler publishes `d` to the channel), or in
// ack mode a `pub` with a reply (`id`) whose message id (`mid`: the connection's index, then a
// counter) is written into each connection's own copy of the frame before every request.
static void build_rt_payload(void) {
  size_t n = opt.size;
  char *letters = malloc(n + 1);
  fill_letters((uint8_t *)letters, n);
  letters[n] = '\0';
  rt_expect = malloc(n + 16);
  snprintf(rt_expect, n + 16, "\"d\":\"%s\"", letters);
  const char *mid_template = "00000-0000000000";
  payload_len = n + 128;
  payload = malloc(payload_len);
  int len;
  if (opt.mode == MODE_ACK) {
    len = snprintf((char *)payload, payload_len, "{\"t\":\"pub\",\"id\":1,\"ch\":\"ack\",\"ev\":\"m\",\"d\":\"%s\",\"mid\":\"",
                   letters);
    mid_at = (size_t)len;
    len += snprintf((char *)payload + len, payload_len - (size_t)len, "%s\"}", mid_template);
  } else {
    len = snprintf((char *)payload, payload_len, "{\"t\":\"emit\",\"ev\":\"bcast\",\"d\":\"%s\"}", letters);
  }
  payload_len = (size_t)len;
  free(letters);
}

static void build_payload(void) {
  size_t n = opt.size;
  by_content = opt.protocol == PROTO_RT || opt.mode == MODE_ACK;
  if (opt.protocol == PROTO_RT) {
    build_rt_payload();
    return;
  }
  if (opt.protocol == PROTO_SIO) {
    // Engine.IO "4" (message) + Socket.IO "2" (event): 42["echo","..."]; ack mode: with ack id 0
    // (one request in flight per connection), 420["pub","..."], answered by 430[...].
    const char *event = opt.mode == MODE_FANOUT ? "bcast" : opt.mode == MODE_ACK ? "pub" : "echo";
    char prefix[32];
    int p = snprintf(prefix, sizeof prefix, "42%s[\"%s\",\"", opt.mode == MODE_ACK ? "0" : "", event);
    payload_len = (size_t)p + n + 2;
    payload = malloc(payload_len);
    memcpy(payload, prefix, (size_t)p);
    for (size_t i = 0; i < n; i++) payload[p + i] = (uint8_t)('a' + next_random() % 26);
    memcpy(payload + p + n, "\"]", 2);
    return;
  }
  payload_len = n;
  payload = malloc(n ? n : 1);
  if (opt.payload == PAYLOAD_JSON) fill_json(payload, n);
  else if (opt.payload == PAYLOAD_TEXT)
    for (size_t i = 0; i < n; i++) payload[i] = (uint8_t)('a' + next_random() % 26);
  else
    for (size_t i = 0; i < n; i++) payload[i] = (uint8_t)next_random();
}

// RFC 7692 §7.2.1: compress, flush to a byte boundary, drop the final 00 00 ff ff. Every message
// is compressed on its own (no context takeover), which any server must accept.
static uint8_t *compress_payload(size_t *out_len) {
  z_stream z;
  memset(&z, 0, sizeof z);
  if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    fatal("deflateInit2 failed");
  size_t cap = deflateBound(&z, payload_len) + 16;
  uint8_t *out = malloc(cap);
  z.next_in = payload;
  z.avail_in = (uInt)payload_len;
  z.next_out = out;
  z.avail_out = (uInt)cap;
  if (deflate(&z, Z_SYNC_FLUSH) != Z_OK || z.avail_in != 0) fatal("deflate failed");
  size_t n = cap - z.avail_out;
  deflateEnd(&z);
  if (n >= 4 && memcmp(out + n - 4, "\x00\x00\xff\xff", 4) == 0) n -= 4;
  *out_len = n;
  return out;
}

static void build_rt_hello(void) {
  // The client id scopes the server's publish deduplication (message ids are remembered for
  // minutes): a new one for every run, so that a later run's message ids are not duplicates.
  char hello[96];
  int hello_len = snprintf(hello, sizeof hello, "{\"t\":\"hello\",\"v\":1,\"cid\":\"wsgen-%08x-%016llx\"}",
                           (unsigned)getpid(), (unsigned long long)now_ns());
  static const char sub[] = "{\"t\":\"sub\",\"id\":1,\"ch\":\"" RT_CHANNEL "\"}";
  rt_hello = malloc(frame_client_size((size_t)hello_len) + frame_client_size(sizeof sub));
  rt_hello_len = frame_build_client(rt_hello, OP_TEXT, 0, (const uint8_t *)hello, (size_t)hello_len, client_mask);
  rt_hello_sub_len =
      rt_hello_len + frame_build_client(rt_hello + rt_hello_len, OP_TEXT, 0, (const uint8_t *)sub, sizeof sub - 1,
                                        client_mask);
}

static void build_frames(void) {
  const uint8_t *mask = client_mask;
  int opcode = opt.protocol == PROTO_SIO || opt.protocol == PROTO_RT || opt.payload != PAYLOAD_BINARY ? OP_TEXT
                                                                                                       : OP_BINARY;
  const uint8_t *body = payload;
  size_t body_len = payload_len;
  uint8_t *compressed = NULL;
  if (opt.deflate) body = compressed = compress_payload(&body_len);
  frame = malloc(frame_client_size(body_len));
  frame_len = frame_build_client(frame, opcode, opt.deflate, body, body_len, mask);
  free(compressed);
  int copies = opt.inflight + 1;
  batch = malloc(frame_len * (size_t)copies);
  for (int i = 0; i < copies; i++) memcpy(batch + frame_len * (size_t)i, frame, frame_len);

  sio_connect_len = frame_build_client(sio_connect_frame, OP_TEXT, 0, (const uint8_t *)"40", 2, mask);
  const uint8_t normal_closure[2] = {0x03, 0xe8}; // 1000
  close_len = frame_build_client(close_frame, OP_CLOSE, 0, normal_closure, 2, mask);
  if (opt.protocol == PROTO_RT) {
    build_rt_hello();
    // The digits of the message id, as an offset in the frame (after the header and mask key).
    if (opt.mode == MODE_ACK) mid_at += frame_len - payload_len;
  }

  const char *path = opt.protocol == PROTO_SIO ? "/socket.io/?EIO=4&transport=websocket" : opt.path;
  // The key is fixed (RFC 6455 §1.3's example), so the expected accept value is a constant.
  request_len = (size_t)snprintf(request, sizeof request,
                                 "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
                                 "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                                 "Sec-WebSocket-Version: 13\r\n%s\r\n",
                                 path, opt.host_text, opt.port,
                                 opt.deflate ? "Sec-WebSocket-Extensions: permessage-deflate; "
                                               "client_max_window_bits\r\n"
                                             : "");
}

// ---- connections ----

static void arm(conn_t *c, const uint8_t *buffer, size_t start, size_t end) {
  c->out = buffer;
  c->out_pos = start;
  c->out_end = end;
}

static void conn_failed(conn_t *c, int err, const char *doing) {
  if (c->state == ST_CONNECTING || (c->state == ST_UPGRADING && err == ECONNRESET))
    fatal("cannot connect to %s:%d: %s (is the server running?)", opt.host_text, opt.port, strerror(err));
  fatal("connection %d: %s failed: %s", c->index, doing, strerror(err));
}

static void flush(conn_t *c) {
  while (c->out_pos < c->out_end) {
    ssize_t n = write(c->fd, c->out + c->out_pos, c->out_end - c->out_pos);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) return;
      conn_failed(c, errno, "write");
    }
    c->out_pos += (size_t)n;
  }
}

// Queues `m` more messages: a longer slice of the batch buffer, which holds copies of one frame,
// starting at the same offset within a frame as the bytes still unsent.
static void commit(conn_t *c, int m, uint64_t now) {
  size_t pending = c->out_end - c->out_pos;
  size_t start = pending ? c->out_pos % frame_len : 0;
  if (pending && c->out != batch) fatal("internal: data queued behind a handshake write");
  arm(c, batch, start, start + pending + (size_t)m * frame_len);
  for (int i = 0; i < m; i++) {
    c->sent_at[(c->ts_head + c->ts_count) % opt.inflight] = now;
    c->ts_count++;
  }
  c->inflight += m;
}

// Ack mode: the next request of a connection (its previous one has been answered).
static void send_request(conn_t *c, uint64_t now) {
  const uint8_t *out = frame;
  if (opt.protocol == PROTO_RT) {
    if (!c->request_frame) {
      c->request_frame = malloc(frame_len);
      memcpy(c->request_frame, frame, frame_len);
    }
    // A new message id (a retry's is the same; this is no retry): 5 digits of the connection's
    // index, '-', 10 of its request count, each masked as it sits in the payload.
    char mid[24];
    snprintf(mid, sizeof mid, "%05u-%010llu", (unsigned)c->index % 100000u, (unsigned long long)(c->requests++ % 10000000000ull));
    size_t body = frame_len - payload_len; // the payload starts here (header + mask key)
    for (int i = 0; i < 16; i++) {
      size_t at = mid_at + (size_t)i;
      c->request_frame[at] = (uint8_t)mid[i] ^ client_mask[(at - body) % 4];
    }
    out = c->request_frame;
  }
  c->sent_at[(c->ts_head + c->ts_count) % opt.inflight] = now;
  c->ts_count++;
  c->inflight++;
  arm(c, out, 0, frame_len);
  flush(c);
}

static void open_conn(conn_t *c, uint64_t now) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) fatal("socket: %s", strerror(errno));
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (opt.src_ips > 1) {
    // Several source addresses give more ephemeral ports (one range per address).
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    struct sockaddr_in src = {.sin_family = AF_INET};
    src.sin_addr.s_addr = htonl(0x7f000001u + (uint32_t)(c->index % opt.src_ips));
    if (bind(fd, (struct sockaddr *)&src, sizeof src) < 0) fatal("bind 127.0.0.x: %s", strerror(errno));
  }
  struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons((uint16_t)opt.port), .sin_addr = opt.host};
  c->fd = fd;
  c->state = ST_CONNECTING;
  c->connect_at = now;
  c->out_pos = c->out_end = 0;
  c->inflight = c->ts_count = c->ts_head = 0;
  c->in_message = c->in_control = 0;
  c->head_len = 0;
  c->raw_off = 0;
  if (c->inflater) inflateReset(c->inflater);
  frame_parser_init(&c->fp);
  struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLET | EPOLLRDHUP, .data.ptr = c};
  if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) fatal("epoll_ctl: %s", strerror(errno));
  if (connect(fd, (struct sockaddr *)&dst, sizeof dst) < 0 && errno != EINPROGRESS) conn_failed(c, errno, "connect");
  opened++;
}

static void close_conn(conn_t *c) {
  close(c->fd);
  c->fd = -1;
  c->state = ST_DONE;
}

// The run ends at t_end, except that fan-out goes on (up to FANOUT_EXTRA_NS more) until it has
// counted min_rounds broadcasts: a slow server may need longer than the run for a few rounds.
#define FANOUT_EXTRA_NS 30000000000ull
static int run_over(uint64_t now) {
  if (now < t_end) return 0;
  if (opt.mode == MODE_FANOUT && rounds < (uint64_t)opt.min_rounds && now < t_end + FANOUT_EXTRA_NS) return 0;
  return 1;
}

static void start_round(uint64_t now) {
  round_done = 0;
  round_started_at = now;
  commit(control, opt.inflight, now);
  flush(control);
}

static void on_ready(conn_t *c, uint64_t now) {
  if (opt.mode == MODE_HANDSHAKE) {
    if (measuring) {
      hist_record(&hist, now - c->connect_at);
      handshakes++;
    }
    // RFC 6455 §7.1.2: start the closing handshake; the server answers and closes TCP first,
    // so the client's port is free at once (no TIME_WAIT here).
    c->state = ST_CLOSING;
    c->closing_at = now;
    arm(c, close_frame, 0, close_len);
    flush(c);
    return;
  }
  c->state = ST_READY;
  ready_count++;
}

static void on_message(conn_t *c, uint64_t now) {
  if (opt.mode == MODE_ECHO || opt.mode == MODE_ACK) {
    if (c->ts_count == 0) fatal("connection %d: an echo arrived that was never sent", c->index);
    uint64_t sent = c->sent_at[c->ts_head];
    c->ts_head = (c->ts_head + 1) % opt.inflight;
    c->ts_count--;
    c->inflight--;
    if (measuring) {
      hist_record(&hist, now - sent);
      messages++;
    }
    return;
  }
  if (opt.mode == MODE_FANOUT && !c->is_control && c->state == ST_READY) {
    // A round is a burst of --inflight broadcasts; it ends when every subscriber has them all.
    uint64_t j = c->received++;
    if (j / (uint64_t)opt.inflight != round_no)
      fatal("subscriber %d received broadcast %llu during round %llu", c->index, (unsigned long long)j,
            (unsigned long long)round_no);
    if (++round_done < (uint64_t)opt.connections * (uint64_t)opt.inflight) return;
    // Only rounds that started once measuring began count; throughput is over their span, so
    // it does not depend on where the run's end fell within a round.
    if (measuring && round_started_at >= t_measure) {
      hist_record(&hist, now - round_started_at);
      if (rounds++ == 0) first_round_at = round_started_at;
      last_round_done_at = now;
      messages += (uint64_t)opt.connections * (uint64_t)opt.inflight;
    }
    round_no++;
    if (phase == PH_RUN && !run_over(now)) start_round(now);
    return;
  }
  fatal("connection %d received a message it should not get", c->index);
}

// Bytes of a data message (decompressed): checked against the payload once running.
static void message_data(conn_t *c, const uint8_t *data, size_t n) {
  if (c->state == ST_READY && by_content) {
    size_t cap = payload_len + RT_ENVELOPE_EXTRA;
    if (c->message_off + n > cap)
      fatal("connection %d: a message of over %zu bytes arrived (expected about %zu)", c->index, cap, payload_len);
    if (!c->envelope) c->envelope = malloc(cap);
    memcpy(c->envelope + c->message_off, data, n);
  } else if (c->state == ST_READY) {
    if (c->message_off + n > payload_len || memcmp(payload + c->message_off, data, n) != 0)
      fatal("connection %d: the echoed message differs from the one sent (at byte %zu)", c->index,
            c->message_off);
  } else if (c->message_off < SMALL_MAX) {
    size_t k = n < SMALL_MAX - c->message_off ? n : SMALL_MAX - c->message_off;
    memcpy(c->small + c->message_off, data, k);
  }
  c->message_off += n;
}

static void inflate_into(conn_t *c, z_stream *z, const uint8_t *data, size_t n) {
  z->next_in = (Bytef *)data;
  z->avail_in = (uInt)n;
  do {
    z->next_out = inflate_out;
    z->avail_out = INFLATE_CHUNK;
    int r = inflate(z, Z_SYNC_FLUSH);
    if (r != Z_OK && r != Z_BUF_ERROR) fatal("connection %d: invalid compressed data from the server", c->index);
    size_t produced = INFLATE_CHUNK - z->avail_out;
    if (produced) message_data(c, inflate_out, produced);
    if (r == Z_BUF_ERROR && produced == 0) break;
  } while (z->avail_in > 0 || z->avail_out == 0);
}

static z_stream *new_inflater(void) {
  z_stream *z = calloc(1, sizeof *z);
  if (inflateInit2(z, -15) != Z_OK) fatal("inflateInit2 failed");
  return z;
}

static void inflate_data(conn_t *c, const uint8_t *data, size_t n) {
  if (!c->inflater) c->inflater = new_inflater();
  inflate_into(c, c->inflater, data, n);
}

// A whole compressed message in one slice, on a connection where the server resets its context
// for every message (fan-out with server_no_context_takeover): one shared inflater, reset each
// time, so that thousands of subscribers do not each keep a 32 KiB window hot.
static void inflate_whole(conn_t *c, const uint8_t *data, size_t n) {
  static z_stream *shared;
  if (!shared) shared = new_inflater();
  inflateReset(shared);
  inflate_into(c, shared, data, n);
  inflate_into(c, shared, (const uint8_t *)"\x00\x00\xff\xff", 4);
}

static int has(const uint8_t *data, size_t n, const char *needle) {
  size_t k = strlen(needle);
  for (size_t i = 0; i + k <= n; i++)
    if (data[i] == (uint8_t)needle[0] && memcmp(data + i, needle, k) == 0) return 1;
  return 0;
}

static void unexpected(conn_t *c, const char *what, const uint8_t *data, size_t len) {
  fatal("connection %d: expected %s, got %.*s", c->index, what, (int)(len < 200 ? len : 200), (const char *)data);
}

// A delivered message in rt or ack mode, checked by content.
static void envelope_end(conn_t *c, uint64_t now) {
  const uint8_t *m = c->envelope;
  size_t len = c->message_off;
  if (opt.protocol == PROTO_SIO) {
    // Socket.IO ack: "3" (ack) with the id of the request, 0.
    if (len < 4 || memcmp(m, "430[", 4) != 0) unexpected(c, "the Socket.IO ack 430[...]", m, len);
  } else if (opt.mode == MODE_ACK) {
    if (!has(m, len, "\"t\":\"res\"") || !has(m, len, "\"id\":1,") || !has(m, len, "\"ok\":true") ||
        !has(m, len, "\"dup\":false"))
      unexpected(c, "a successful, first-time publish result {\"t\":\"res\",\"id\":1,\"ok\":true,...}", m, len);
  } else if (!has(m, len, "\"t\":\"msg\"") || !has(m, len, "\"ch\":\"" RT_CHANNEL "\"") ||
             !has(m, len, rt_expect)) {
    unexpected(c, "a msg of channel \"" RT_CHANNEL "\" carrying the payload sent", m, len);
  }
  on_message(c, now);
}

static void message_end(conn_t *c, uint64_t now) {
  size_t len = c->message_off;
  switch (c->state) {
  case ST_RT_WELCOME:
    if (!has(c->small, len < SMALL_MAX ? len : SMALL_MAX, "\"t\":\"welcome\""))
      unexpected(c, "the realtime welcome", c->small, len < SMALL_MAX ? len : SMALL_MAX);
    // Subscribers sent their sub with the hello; its result comes next.
    if (c->is_control || opt.mode == MODE_ACK) on_ready(c, now);
    else c->state = ST_RT_SUB;
    break;
  case ST_RT_SUB:
    if (!has(c->small, len < SMALL_MAX ? len : SMALL_MAX, "\"ok\":true"))
      unexpected(c, "a successful subscribe result", c->small, len < SMALL_MAX ? len : SMALL_MAX);
    on_ready(c, now);
    break;
  case ST_SIO_OPEN:
    // Engine.IO open packet: 0{"sid":...}; then the Socket.IO connect request "40".
    if (len < 1 || c->small[0] != '0') fatal("expected an Engine.IO open packet, got %.*s", (int)len, c->small);
    c->state = ST_SIO_CONNECT;
    arm(c, sio_connect_frame, 0, sio_connect_len);
    flush(c);
    break;
  case ST_SIO_CONNECT:
    if (len < 2 || memcmp(c->small, "40", 2) != 0)
      fatal("expected a Socket.IO connect packet, got %.*s", (int)(len < 200 ? len : 200), c->small);
    on_ready(c, now);
    break;
  case ST_READY:
    if (by_content) {
      envelope_end(c, now);
      break;
    }
    if (len != payload_len)
      fatal("connection %d: echoed message has %zu bytes, sent %zu", c->index, len, payload_len);
    on_message(c, now);
    break;
  default:
    break;
  }
}

static void control_frame(conn_t *c) {
  if (c->control_op != OP_CLOSE) return; // pings and pongs: none expected, ignored
  if (c->state == ST_CLOSING) return;
  unsigned code = c->control_len >= 2 ? (unsigned)(c->control[0] << 8 | c->control[1]) : 1005;
  fatal("connection %d: the server closed it with code %u %.*s", c->index, code,
        (int)(c->control_len > 2 ? c->control_len - 2 : 0), (const char *)c->control + 2);
}

static void frames_input(conn_t *c, const uint8_t *buf, size_t len, uint64_t now) {
  frame_event_t ev;
  for (;;) {
    switch (frame_parse(&c->fp, &buf, &len, &ev)) {
    case FP_MORE:
      return;
    case FP_ERROR:
      fatal("connection %d: %s", c->index, ev.error);
    case FP_HEADER:
      if (ev.opcode >= OP_CLOSE) {
        if (ev.length > 125 || !ev.fin) fatal("connection %d: invalid control frame", c->index);
        c->in_control = 1;
        c->control_op = ev.opcode;
        c->control_len = 0;
        break;
      }
      if (ev.opcode == OP_CONT) {
        if (!c->in_message || ev.rsv1) fatal("connection %d: unexpected continuation frame", c->index);
      } else if (ev.opcode == OP_TEXT || ev.opcode == OP_BINARY) {
        if (c->in_message) fatal("connection %d: new message inside a fragmented one", c->index);
        if (ev.rsv1 && !opt.deflate) fatal("connection %d: compressed frame without permessage-deflate", c->index);
        c->in_message = 1;
        c->message_compressed = ev.rsv1;
        c->message_off = 0;
      } else {
        fatal("connection %d: reserved opcode %d", c->index, ev.opcode);
      }
      c->frame_fin = ev.fin;
      c->frame_length = ev.length;
      c->inflated_whole = 0;
      break;
    case FP_PAYLOAD:
      if (c->in_control) {
        memcpy(c->control + c->control_len, ev.data, ev.n);
        c->control_len += ev.n;
      } else if (c->message_compressed) {
        if (c->server_no_context && c->frame_fin && c->message_off == 0 && ev.n == c->frame_length) {
          inflate_whole(c, ev.data, ev.n);
          c->inflated_whole = 1;
        } else {
          inflate_data(c, ev.data, ev.n);
        }
      } else {
        message_data(c, ev.data, ev.n);
      }
      break;
    case FP_END:
      if (c->in_control) {
        c->in_control = 0;
        control_frame(c);
      } else if (c->frame_fin) {
        if (c->message_compressed && !c->inflated_whole) inflate_data(c, (const uint8_t *)"\x00\x00\xff\xff", 4);
        c->in_message = 0;
        message_end(c, now);
      }
      break;
    }
  }
}

// Raw TCP: the server echoes bytes; every frame_len bytes is one message.
static void raw_input(conn_t *c, const uint8_t *buf, size_t len, uint64_t now) {
  while (len > 0) {
    size_t k = frame_len - c->raw_off;
    if (k > len) k = len;
    if (memcmp(frame + c->raw_off, buf, k) != 0) fatal("connection %d: echoed bytes differ", c->index);
    c->raw_off += k;
    buf += k;
    len -= k;
    if (c->raw_off == frame_len) {
      c->raw_off = 0;
      on_message(c, now);
    }
  }
}

// Raw TCP: the server says '*' when it has accepted the connection, so opening thousands of
// connections is paced by the server's accept loop as WebSocket handshakes are.
static void raw_greeting(conn_t *c, const uint8_t *buf, size_t len, uint64_t now) {
  if (buf[0] != '*') fatal("connection %d: expected the raw server's greeting '*'", c->index);
  on_ready(c, now);
  if (len > 1) raw_input(c, buf + 1, len - 1, now);
}

static int contains(const char *haystack, size_t n, const char *needle) {
  size_t k = strlen(needle);
  for (size_t i = 0; i + k <= n; i++)
    if (strncasecmp(haystack + i, needle, k) == 0) return 1;
  return 0;
}

static void head_input(conn_t *c, const uint8_t *buf, size_t len, uint64_t now) {
  if (!c->head) c->head = malloc(HEAD_MAX);
  size_t before = c->head_len;
  size_t k = len < HEAD_MAX - c->head_len ? len : HEAD_MAX - c->head_len;
  memcpy(c->head + c->head_len, buf, k);
  c->head_len += k;
  char *end = NULL;
  for (size_t i = before >= 3 ? before - 3 : 0; i + 4 <= c->head_len; i++) {
    if (memcmp(c->head + i, "\r\n\r\n", 4) == 0) {
      end = c->head + i + 4;
      break;
    }
  }
  if (!end) {
    if (c->head_len == HEAD_MAX) fatal("the server's response head exceeds %d bytes", HEAD_MAX);
    return;
  }
  size_t head_size = (size_t)(end - c->head);
  if (head_size < 12 || memcmp(c->head, "HTTP/1.1 101", 12) != 0) {
    char *eol = memchr(c->head, '\r', head_size);
    fatal("the server refused the upgrade: %.*s", (int)(eol ? eol - c->head : 40), c->head);
  }
  // RFC 6455 §4.2.2: base64(SHA-1(key + GUID)) of the fixed key.
  if (!contains(c->head, head_size, "\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"))
    fatal("the server's Sec-WebSocket-Accept is missing or wrong");
  if (opt.deflate) {
    if (!contains(c->head, head_size, "permessage-deflate")) fatal("the server did not accept permessage-deflate");
    if (contains(c->head, head_size, "client_max_window_bits=") &&
        !contains(c->head, head_size, "client_max_window_bits=15"))
      fatal("the server limited client_max_window_bits; wsgen compresses with 15");
    c->server_no_context = contains(c->head, head_size, "server_no_context_takeover");
  }
  size_t leftover = before + len - head_size;
  const uint8_t *rest = buf + (len - leftover);
  free(c->head);
  c->head = NULL;
  c->head_len = 0;
  if (opt.protocol == PROTO_SIO) {
    c->state = ST_SIO_OPEN;
  } else if (opt.protocol == PROTO_RT) {
    // hello (and for subscribers sub) at once: the server processes what follows the hello after
    // its welcome, in order.
    c->state = ST_RT_WELCOME;
    int subscribes = !c->is_control && opt.mode != MODE_ACK;
    arm(c, rt_hello, 0, subscribes ? rt_hello_sub_len : rt_hello_len);
    flush(c);
  } else {
    on_ready(c, now);
  }
  if (leftover) frames_input(c, rest, leftover, now);
}

static void on_connected(conn_t *c, uint64_t now) {
  (void)now;
  c->state = ST_UPGRADING;
  if (opt.protocol == PROTO_RAW) return; // wait for the server's one-byte greeting
  arm(c, (const uint8_t *)request, 0, request_len);
  flush(c);
}

static void on_eof(conn_t *c, uint64_t now) {
  (void)now;
  if (c->state == ST_CLOSING) {
    // Reopened after the current batch of events, which may still hold events of the old socket.
    close_conn(c);
    if (phase == PH_RUN) reopen[reopen_count++] = c;
    return;
  }
  if (c->state == ST_CONNECTING || c->state == ST_UPGRADING)
    fatal("the server closed connection %d during the handshake", c->index);
  fatal("the server closed connection %d", c->index);
}

static void on_readable(conn_t *c, uint64_t now) {
  for (;;) {
    ssize_t n = read(c->fd, read_buffer, READ_BUFFER);
    if (n == 0) {
      on_eof(c, now);
      return;
    }
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) break;
      if (c->state == ST_CLOSING && errno == ECONNRESET) {
        on_eof(c, now);
        return;
      }
      conn_failed(c, errno, "read");
    }
    if (c->state == ST_UPGRADING && opt.protocol == PROTO_RAW) raw_greeting(c, read_buffer, (size_t)n, now);
    else if (c->state == ST_UPGRADING) head_input(c, read_buffer, (size_t)n, now);
    else if (c->state == ST_CLOSING) continue; // the server's close frame: nothing to check
    else if (opt.protocol == PROTO_RAW) raw_input(c, read_buffer, (size_t)n, now);
    else frames_input(c, read_buffer, (size_t)n, now);
    if (c->state == ST_DONE) return;
    // Edge-triggered: a short read means the socket is drained; a new edge comes with new data.
    if ((size_t)n < READ_BUFFER) break;
  }
  if (opt.mode == MODE_ECHO && c->state == ST_READY && phase == PH_RUN && c->inflight < opt.inflight) {
    commit(c, opt.inflight - c->inflight, now);
    flush(c);
  }
  if (opt.mode == MODE_ACK && c->state == ST_READY && phase == PH_RUN && c->inflight == 0) send_request(c, now);
}

static void on_event(conn_t *c, uint32_t events, uint64_t now) {
  if (c->state == ST_CONNECTING) {
    if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) return;
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err) conn_failed(c, err, "connect");
    on_connected(c, now);
  }
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) on_readable(c, now);
  if (c->state != ST_DONE && (events & EPOLLOUT)) flush(c);
}

// ---- run ----

static void start_run(uint64_t now) {
  phase = PH_RUN;
  t_ready = now;
  t_measure = now + (uint64_t)(opt.warmup_s * 1e9);
  t_end = t_measure + (uint64_t)(opt.duration_s * 1e9);
  measuring = opt.warmup_s == 0;
  cpu_at_measure = cpu_seconds();
  if (opt.mode == MODE_ECHO) {
    for (int i = 0; i < total_conns; i++) {
      commit(&conns[i], opt.inflight, now);
      flush(&conns[i]);
    }
  } else if (opt.mode == MODE_ACK) {
    for (int i = 0; i < total_conns; i++) send_request(&conns[i], now);
  } else if (opt.mode == MODE_FANOUT) {
    start_round(now);
  } else if (opt.mode == MODE_HANDSHAKE) {
    for (int i = 0; i < total_conns; i++) open_conn(&conns[i], now);
  }
}

static void report(uint64_t now) {
  double elapsed = (double)(now - t_measure) / 1e9;
  double setup = (double)(t_ready - t_start) / 1e9;
  const char *modes[] = {"echo", "fanout", "handshake", "hold", "ack"};
  const char *protocols[] = {"ws", "sio", "raw", "rt"};
  // The generator's own CPU use while measuring (1.0 = one core busy): near 1, it was the bottleneck.
  double cpu = elapsed > 0 ? (cpu_seconds() - cpu_at_measure) / elapsed : 0;
  printf("{\"mode\":\"%s\",\"protocol\":\"%s\",\"connections\":%d,\"inflight\":%d,\"size\":%zu,"
         "\"message_bytes\":%zu,\"frame_bytes\":%zu,\"deflate\":%s,\"setup_s\":%.3f,\"warmup_s\":%.3f,"
         "\"duration_s\":%.3f,\"generator_cpu\":%.3f,\"cpu_total_s\":%.3f",
         modes[opt.mode], protocols[opt.protocol], opt.connections, opt.inflight, opt.size, payload_len,
         frame_len, opt.deflate ? "true" : "false", setup, opt.warmup_s, elapsed, cpu, cpu_seconds());
  if (opt.mode == MODE_ECHO || opt.mode == MODE_FANOUT || opt.mode == MODE_ACK) {
    // Every counted message was checked: same length and bytes as the one sent.
    printf(",\"messages\":%llu,\"verified\":%llu,\"messages_per_s\":%.1f,\"bytes_per_s\":%.1f",
           (unsigned long long)messages, (unsigned long long)messages, (double)messages / elapsed,
           (double)messages * (double)payload_len / elapsed);
  }
  if (opt.mode == MODE_FANOUT) {
    double span = (double)(last_round_done_at - first_round_at) / 1e9;
    printf(",\"subscribers\":%d,\"rounds\":%llu,\"deliveries_per_s\":%.1f", opt.connections,
           (unsigned long long)rounds, span > 0 ? (double)messages / span : 0.0);
  }
  if (opt.mode == MODE_HANDSHAKE)
    printf(",\"handshakes\":%llu,\"handshakes_per_s\":%.1f,\"stuck_closes\":%llu", (unsigned long long)handshakes,
           (double)handshakes / elapsed, (unsigned long long)stuck_closes);
  if (opt.mode != MODE_HOLD) {
    printf(",\"latency_us\":{\"samples\":%llu,\"mean\":%.1f,\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,"
           "\"p999\":%.1f,\"max\":%.1f}",
           (unsigned long long)hist.total, hist.total ? hist.sum_ns / (double)hist.total / 1e3 : 0.0,
           hist_percentile(&hist, 0.5) / 1e3, hist_percentile(&hist, 0.9) / 1e3,
           hist_percentile(&hist, 0.99) / 1e3, hist_percentile(&hist, 0.999) / 1e3, hist.max_ns / 1e3);
  }
  printf("}\n");
  fflush(stdout);
}

// Handshake mode: a server that never closes after the closing handshake must not stall a loop.
static void reap_stuck(uint64_t now) {
  for (int i = 0; i < total_conns; i++) {
    conn_t *c = &conns[i];
    if (c->state != ST_CLOSING || now - c->closing_at < CLOSE_WAIT_NS) continue;
    struct linger reset = {.l_onoff = 1, .l_linger = 0};
    setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
    close_conn(c);
    stuck_closes++;
    if (now < t_end) open_conn(c, now);
  }
}

int main(int argc, char **argv) {
  char err[256];
  if (argc < 2 || options_parse(&opt, argc, argv, err, sizeof err) < 0) {
    if (argc >= 2) fprintf(stderr, "wsgen: %s\n", err);
    fputs(options_usage, stderr);
    if (argc >= 2) {
      fputs("{\"error\":", stdout);
      json_string(stdout, err);
      fputs("}\n", stdout);
    }
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  signal(SIGALRM, on_alarm);
  // A hard stop whatever happens: setup, warmup and run, plus a margin.
  alarm((unsigned)(opt.setup_timeout_s + opt.warmup_s + opt.duration_s) + 15 + (opt.mode == MODE_HOLD ? 60 : 0) +
        (opt.mode == MODE_FANOUT ? (unsigned)(FANOUT_EXTRA_NS / 1000000000ull) : 0));

  total_conns = opt.connections + (opt.mode == MODE_FANOUT ? 1 : 0);
  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_cur < (rlim_t)total_conns + 32) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < (rlim_t)total_conns + 32)
      fatal("%d connections need `ulimit -n` of at least %d (it is %llu)", total_conns, total_conns + 32,
            (unsigned long long)rl.rlim_cur);
  }

  build_payload();
  build_frames();
  read_buffer = malloc(READ_BUFFER);
  conns = calloc((size_t)total_conns, sizeof *conns);
  reopen = calloc((size_t)total_conns, sizeof *reopen);
  for (int i = 0; i < total_conns; i++) {
    conns[i].index = i;
    conns[i].fd = -1;
    conns[i].sent_at = calloc((size_t)opt.inflight, sizeof(uint64_t));
  }
  if (opt.mode == MODE_FANOUT) {
    control = &conns[total_conns - 1];
    control->is_control = 1;
  }
  ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) fatal("epoll_create1: %s", strerror(errno));

  t_start = now_ns();
  t_setup_deadline = t_start + (uint64_t)(opt.setup_timeout_s * 1e9);
  if (opt.mode == MODE_HANDSHAKE) start_run(t_start);

  struct epoll_event events[1024];
  uint64_t last_reap = t_start;
  int stdin_closed = 0;
  for (;;) {
    uint64_t now = now_ns();
    if (phase == PH_SETUP) {
      if (ready_count == total_conns) {
        if (opt.mode == MODE_HOLD) {
          phase = PH_HOLD;
          t_ready = now;
          printf("ready %d\n", ready_count);
          fflush(stdout);
          struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
          if (epoll_ctl(ep, EPOLL_CTL_ADD, STDIN_FILENO, &ev) < 0) stdin_closed = 1;
        } else {
          start_run(now);
        }
      } else {
        if (now > t_setup_deadline)
          fatal("only %d of %d connections were ready after %.0f s", ready_count, total_conns, opt.setup_timeout_s);
        // The control connection (last) opens after every subscriber is ready.
        int limit = opt.mode == MODE_FANOUT && ready_count < total_conns - 1 ? total_conns - 1 : total_conns;
        while (opened < limit && opened - ready_count < opt.max_pending) open_conn(&conns[opened], now);
      }
    }
    if (phase == PH_RUN) {
      if (!measuring && now >= t_measure) {
        measuring = 1;
        cpu_at_measure = cpu_seconds();
        hist_reset(&hist);
        messages = handshakes = rounds = 0;
      }
      if (run_over(now)) break;
      if (opt.mode == MODE_HANDSHAKE && now - last_reap > 200000000ull) {
        reap_stuck(now);
        last_reap = now;
      }
    }
    if (phase == PH_HOLD && (stdin_closed || now >= t_ready + (uint64_t)(opt.duration_s * 1e9))) break;

    int timeout_ms = 50;
    if (phase == PH_RUN) {
      uint64_t next = !measuring ? t_measure : now < t_end ? t_end : now + 50000000ull;
      uint64_t wait = next > now ? (next - now) / 1000000 + 1 : 0;
      if (wait < (uint64_t)timeout_ms) timeout_ms = (int)wait;
    }
    int n = epoll_wait(ep, events, 1024, timeout_ms);
    if (n < 0 && errno != EINTR) fatal("epoll_wait: %s", strerror(errno));
    now = now_ns();
    for (int i = 0; i < n; i++) {
      conn_t *c = events[i].data.ptr;
      if (!c) {
        // Hold mode: any input or EOF on stdin ends the hold.
        stdin_closed = 1;
        continue;
      }
      if (c->state == ST_DONE || c->fd < 0) continue;
      on_event(c, events[i].events, now);
    }
    for (; reopen_count > 0; reopen_count--)
      if (now < t_end) open_conn(reopen[reopen_count - 1], now);
  }
  uint64_t end = now_ns();
  if (phase == PH_HOLD) t_measure = t_ready;
  if (opt.mode == MODE_FANOUT && rounds < (uint64_t)opt.min_rounds)
    fatal("only %llu broadcasts reached every subscriber in %.1f s", (unsigned long long)rounds,
          (double)(end - t_measure) / 1e9);
  if (opt.mode == MODE_ECHO && messages == 0) fatal("no echo arrived in %.1f s", opt.duration_s);
  if (opt.mode == MODE_ACK && messages == 0) fatal("no reply arrived in %.1f s", opt.duration_s);
  report(end);
  return 0;
}
