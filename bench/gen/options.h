// Command-line options of the load generator, with their bounds (every run is bounded in
// connections, time and message size, and targets the loopback network only).
#ifndef WSGEN_OPTIONS_H
#define WSGEN_OPTIONS_H

#include <netinet/in.h>
#include <stddef.h>

enum { MODE_ECHO, MODE_FANOUT, MODE_HANDSHAKE, MODE_HOLD, MODE_ACK };
enum { PROTO_WS, PROTO_SIO, PROTO_RAW, PROTO_RT };
enum { PAYLOAD_BINARY, PAYLOAD_TEXT, PAYLOAD_JSON };

#define MAX_CONNECTIONS 20000
#define MAX_INFLIGHT 64
#define MAX_SIZE (16u << 20)
#define MAX_SIO_SIZE (1u << 20)
#define MAX_DURATION_S 120.0
#define MAX_WARMUP_S 30.0
#define MAX_SETUP_S 120.0
#define MAX_SRC_IPS 250

typedef struct {
  struct in_addr host;
  const char *host_text;
  int port;
  const char *path;
  int mode;
  int protocol;
  int connections; // echo/ack/hold: connections; fanout: subscribers; handshake: concurrent loops
  int inflight;    // echo: messages in flight per connection; fanout: always 1 broadcast
  size_t size;     // payload bytes of one message (Socket.IO: characters of the string argument)
  int payload;
  int deflate;
  double duration_s, warmup_s, setup_timeout_s;
  int src_ips;     // source addresses 127.0.0.1 .. 127.0.0.N, for more than ~28k ports
  int max_pending; // connections opened but not yet upgraded, at most
  int min_rounds;  // fanout: broadcasts to count at least (the run is extended for them)
} options_t;

/** Parses argv into `o`; on a bad or out-of-bounds option, writes the reason into `err` and returns -1. */
int options_parse(options_t *o, int argc, char **argv, char *err, size_t err_size);

extern const char *const options_usage;

#endif
