#include "options.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const options_usage =
    "usage: wsgen --port N [--host 127.0.0.1] [--path /] [--mode echo|fanout|handshake|hold|ack]\n"
    "             [--protocol ws|sio|raw|rt] [--connections N] [--inflight N] [--size BYTES]\n"
    "             [--payload binary|text|json] [--deflate] [--duration S] [--warmup S]\n"
    "             [--setup-timeout S] [--src-ips N] [--max-pending N] [--min-rounds N]\n"
    "Prints one JSON object on stdout (hold mode: a line 'ready N' first, then it holds the\n"
    "connections until stdin closes). Errors: {\"error\": ...} on stdout, exit status 1.\n";

static int parse_number(const char *text, double lo, double hi, double *out) {
  char *end;
  double v = strtod(text, &end);
  if (end == text || *end != '\0' || v < lo || v > hi) return -1;
  *out = v;
  return 0;
}

int options_parse(options_t *o, int argc, char **argv, char *err, size_t err_size) {
  memset(o, 0, sizeof *o);
  o->host_text = "127.0.0.1";
  o->path = "/";
  o->mode = MODE_ECHO;
  o->protocol = PROTO_WS;
  o->connections = 1;
  o->inflight = 1;
  o->size = 16;
  o->payload = PAYLOAD_BINARY;
  o->duration_s = 1;
  o->warmup_s = 0;
  o->setup_timeout_s = 30;
  o->src_ips = 1;
  o->max_pending = 128;
  o->min_rounds = 3;
  for (int i = 1; i < argc; i++) {
    const char *name = argv[i];
    if (strcmp(name, "--deflate") == 0) {
      o->deflate = 1;
      continue;
    }
    if (i + 1 >= argc) {
      snprintf(err, err_size, "option %s needs a value", name);
      return -1;
    }
    const char *value = argv[++i];
    double v = 0;
#define NUMBER(lo, hi)                                                                 \
  if (parse_number(value, (lo), (hi), &v) < 0) {                                       \
    snprintf(err, err_size, "%s must be a number from %g to %g", name, (double)(lo), (double)(hi)); \
    return -1;                                                                         \
  }
    if (strcmp(name, "--host") == 0) {
      o->host_text = value;
    } else if (strcmp(name, "--port") == 0) {
      NUMBER(1, 65535);
      o->port = (int)v;
    } else if (strcmp(name, "--path") == 0) {
      o->path = value;
    } else if (strcmp(name, "--mode") == 0) {
      if (strcmp(value, "echo") == 0) o->mode = MODE_ECHO;
      else if (strcmp(value, "fanout") == 0) o->mode = MODE_FANOUT;
      else if (strcmp(value, "handshake") == 0) o->mode = MODE_HANDSHAKE;
      else if (strcmp(value, "hold") == 0) o->mode = MODE_HOLD;
      else if (strcmp(value, "ack") == 0) o->mode = MODE_ACK;
      else {
        snprintf(err, err_size, "unknown mode %s", value);
        return -1;
      }
    } else if (strcmp(name, "--protocol") == 0) {
      if (strcmp(value, "ws") == 0) o->protocol = PROTO_WS;
      else if (strcmp(value, "sio") == 0) o->protocol = PROTO_SIO;
      else if (strcmp(value, "raw") == 0) o->protocol = PROTO_RAW;
      else if (strcmp(value, "rt") == 0) o->protocol = PROTO_RT;
      else {
        snprintf(err, err_size, "unknown protocol %s", value);
        return -1;
      }
    } else if (strcmp(name, "--payload") == 0) {
      if (strcmp(value, "binary") == 0) o->payload = PAYLOAD_BINARY;
      else if (strcmp(value, "text") == 0) o->payload = PAYLOAD_TEXT;
      else if (strcmp(value, "json") == 0) o->payload = PAYLOAD_JSON;
      else {
        snprintf(err, err_size, "unknown payload %s", value);
        return -1;
      }
    } else if (strcmp(name, "--connections") == 0) {
      NUMBER(1, MAX_CONNECTIONS);
      o->connections = (int)v;
    } else if (strcmp(name, "--inflight") == 0) {
      NUMBER(1, MAX_INFLIGHT);
      o->inflight = (int)v;
    } else if (strcmp(name, "--size") == 0) {
      NUMBER(0, MAX_SIZE);
      o->size = (size_t)v;
    } else if (strcmp(name, "--duration") == 0) {
      NUMBER(0.05, MAX_DURATION_S);
      o->duration_s = v;
    } else if (strcmp(name, "--warmup") == 0) {
      NUMBER(0, MAX_WARMUP_S);
      o->warmup_s = v;
    } else if (strcmp(name, "--setup-timeout") == 0) {
      NUMBER(0.1, MAX_SETUP_S);
      o->setup_timeout_s = v;
    } else if (strcmp(name, "--src-ips") == 0) {
      NUMBER(1, MAX_SRC_IPS);
      o->src_ips = (int)v;
    } else if (strcmp(name, "--min-rounds") == 0) {
      NUMBER(1, 100);
      o->min_rounds = (int)v;
    } else if (strcmp(name, "--max-pending") == 0) {
      NUMBER(1, 4096);
      o->max_pending = (int)v;
    } else {
      snprintf(err, err_size, "unknown option %s", name);
      return -1;
    }
#undef NUMBER
  }
  if (o->port == 0) {
    snprintf(err, err_size, "--port is required");
    return -1;
  }
  // Load is only ever sent to this machine: the loopback network 127.0.0.0/8.
  if (inet_pton(AF_INET, o->host_text, &o->host) != 1 || (ntohl(o->host.s_addr) >> 24) != 127) {
    snprintf(err, err_size, "--host must be an IPv4 loopback address (127.x.x.x), got %s", o->host_text);
    return -1;
  }
  if (o->protocol == PROTO_SIO && o->size > MAX_SIO_SIZE) {
    snprintf(err, err_size, "Socket.IO messages are limited to %u bytes here", MAX_SIO_SIZE);
    return -1;
  }
  if (o->protocol == PROTO_RAW && (o->mode == MODE_HANDSHAKE || o->deflate)) {
    snprintf(err, err_size, "raw TCP has no handshake and no compression");
    return -1;
  }
  if (o->protocol == PROTO_SIO && o->deflate) {
    snprintf(err, err_size, "--deflate is for plain WebSocket servers");
    return -1;
  }
  if (o->protocol == PROTO_RT && (o->deflate || o->mode == MODE_HANDSHAKE || o->mode == MODE_ECHO)) {
    snprintf(err, err_size, "--protocol rt runs fanout, ack and hold (JSON codec, no compression)");
    return -1;
  }
  if (o->protocol == PROTO_RT && o->size > MAX_SIO_SIZE) {
    snprintf(err, err_size, "realtime messages are limited to %u bytes here", MAX_SIO_SIZE);
    return -1;
  }
  if (o->mode == MODE_ACK && (o->protocol == PROTO_WS || o->protocol == PROTO_RAW)) {
    snprintf(err, err_size, "ack mode needs --protocol rt or sio (requests with a reply)");
    return -1;
  }
  if (o->mode == MODE_ACK && o->inflight != 1) {
    snprintf(err, err_size, "ack mode has one request in flight per connection (--inflight 1)");
    return -1;
  }
  if (o->mode == MODE_FANOUT && o->connections + 1 > MAX_CONNECTIONS) {
    snprintf(err, err_size, "at most %d subscribers", MAX_CONNECTIONS - 1);
    return -1;
  }
  if (o->mode == MODE_HANDSHAKE && o->connections > 1000) {
    snprintf(err, err_size, "handshake mode runs at most 1000 concurrent loops");
    return -1;
  }
  return 0;
}
