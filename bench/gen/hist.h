// Latency histogram: log-linear buckets over nanoseconds (64 linear steps per power of two, so a
// reported percentile is within 1.6% of the true value), fixed size, no allocation while recording.
#ifndef WSGEN_HIST_H
#define WSGEN_HIST_H

#include <stdint.h>

#define HIST_SUB_BITS 6
#define HIST_BUCKETS (64 * (1 << HIST_SUB_BITS))

typedef struct {
  uint64_t counts[HIST_BUCKETS];
  uint64_t total;
  uint64_t max_ns;
  double sum_ns;
} hist_t;

void hist_reset(hist_t *h);
void hist_record(hist_t *h, uint64_t ns);
/** The value (ns) below which `fraction` (0..1) of the recorded values lie; 0 when empty. */
uint64_t hist_percentile(const hist_t *h, double fraction);

#endif
