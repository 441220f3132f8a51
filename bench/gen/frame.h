// RFC 6455 §5.2 frames as the load generator needs them: it builds masked client frames once,
// ahead of time, and parses the server's unmasked frames incrementally (a pull parser over
// whatever bytes one read() returned; no copy of the payload).
#ifndef WSGEN_FRAME_H
#define WSGEN_FRAME_H

#include <stddef.h>
#include <stdint.h>

enum { OP_CONT = 0, OP_TEXT = 1, OP_BINARY = 2, OP_CLOSE = 8, OP_PING = 9, OP_PONG = 10 };

/** Bytes a masked client frame with `len` payload bytes takes: header (2, 4 or 10) + mask key (4) + payload. */
size_t frame_client_size(size_t len);

/** Writes a masked client frame into `out` (frame_client_size(len) bytes); returns its size. */
size_t frame_build_client(uint8_t *out, int opcode, int rsv1, const uint8_t *payload, size_t len,
                          const uint8_t mask[4]);

typedef struct {
  uint8_t hdr[10];
  uint8_t hdr_have, hdr_need;
  uint8_t in_frame;
  uint64_t left; // payload bytes of the current frame not yet returned
} frame_parser_t;

enum { FP_MORE, FP_HEADER, FP_PAYLOAD, FP_END, FP_ERROR };

typedef struct {
  int opcode, fin, rsv1;
  uint64_t length;     // FP_HEADER: the frame's payload length
  const uint8_t *data; // FP_PAYLOAD: a slice of the input
  size_t n;
  const char *error; // FP_ERROR
} frame_event_t;

void frame_parser_init(frame_parser_t *p);

/**
 * Consumes bytes from `*buf` and `*len` (advancing both) and returns the next event: FP_HEADER once a
 * whole header has arrived, FP_PAYLOAD for each slice of payload, FP_END when the frame is
 * complete, FP_MORE when the input is used up, FP_ERROR for a frame a server must not send.
 */
int frame_parse(frame_parser_t *p, const uint8_t **buf, size_t *len, frame_event_t *ev);

#endif
