#include "frame.h"

#include <string.h>

size_t frame_client_size(size_t len) {
  size_t header = len < 126 ? 2 : len < 65536 ? 4 : 10;
  return header + 4 + len;
}

size_t frame_build_client(uint8_t *out, int opcode, int rsv1, const uint8_t *payload, size_t len,
                          const uint8_t mask[4]) {
  size_t i = 0;
  out[i++] = (uint8_t)(0x80 | (rsv1 ? 0x40 : 0) | (opcode & 0x0f));
  // RFC 6455 §5.2: 7-bit length, or 126 + 16-bit, or 127 + 64-bit, always the shortest form.
  if (len < 126) {
    out[i++] = (uint8_t)(0x80 | len);
  } else if (len < 65536) {
    out[i++] = 0x80 | 126;
    out[i++] = (uint8_t)(len >> 8);
    out[i++] = (uint8_t)len;
  } else {
    out[i++] = 0x80 | 127;
    for (int shift = 56; shift >= 0; shift -= 8) out[i++] = (uint8_t)((uint64_t)len >> shift);
  }
  // RFC 6455 §5.3: every client frame is masked.
  memcpy(out + i, mask, 4);
  i += 4;
  for (size_t j = 0; j < len; j++) out[i + j] = payload[j] ^ mask[j & 3];
  return i + len;
}

void frame_parser_init(frame_parser_t *p) {
  memset(p, 0, sizeof *p);
  p->hdr_need = 2;
}

int frame_parse(frame_parser_t *p, const uint8_t **buf, size_t *len, frame_event_t *ev) {
  if (!p->in_frame) {
    while (p->hdr_have < p->hdr_need) {
      if (*len == 0) return FP_MORE;
      p->hdr[p->hdr_have++] = **buf;
      (*buf)++;
      (*len)--;
      if (p->hdr_have == 2) {
        if (p->hdr[1] & 0x80) {
          // RFC 6455 §5.1: a server MUST NOT mask any frames that it sends to the client.
          ev->error = "the server sent a masked frame";
          return FP_ERROR;
        }
        unsigned len7 = p->hdr[1] & 0x7f;
        p->hdr_need = len7 == 126 ? 4 : len7 == 127 ? 10 : 2;
      }
    }
    uint64_t length = p->hdr[1] & 0x7f;
    if (length == 126) {
      length = ((uint64_t)p->hdr[2] << 8) | p->hdr[3];
    } else if (length == 127) {
      length = 0;
      for (int i = 2; i < 10; i++) length = (length << 8) | p->hdr[i];
    }
    ev->fin = (p->hdr[0] & 0x80) != 0;
    ev->rsv1 = (p->hdr[0] & 0x40) != 0;
    ev->opcode = p->hdr[0] & 0x0f;
    ev->length = length;
    if (p->hdr[0] & 0x30) {
      ev->error = "the server set RSV2 or RSV3";
      return FP_ERROR;
    }
    p->left = length;
    p->in_frame = 1;
    p->hdr_have = 0;
    p->hdr_need = 2;
    return FP_HEADER;
  }
  if (p->left == 0) {
    p->in_frame = 0;
    return FP_END;
  }
  if (*len == 0) return FP_MORE;
  size_t n = *len < p->left ? *len : (size_t)p->left;
  ev->data = *buf;
  ev->n = n;
  *buf += n;
  *len -= n;
  p->left -= n;
  return FP_PAYLOAD;
}
