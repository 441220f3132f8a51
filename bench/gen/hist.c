#include "hist.h"

#include <string.h>

void hist_reset(hist_t *h) { memset(h, 0, sizeof *h); }

static unsigned bucket_of(uint64_t v) {
  const uint64_t sub = 1u << HIST_SUB_BITS;
  if (v < sub) return (unsigned)v;
  unsigned e = 63u - (unsigned)__builtin_clzll(v); // e >= HIST_SUB_BITS
  unsigned s = (unsigned)((v >> (e - HIST_SUB_BITS)) & (sub - 1));
  return (e - HIST_SUB_BITS + 1) * (unsigned)sub + s;
}

// The middle of a bucket's range.
static uint64_t value_of(unsigned b) {
  const uint64_t sub = 1u << HIST_SUB_BITS;
  if (b < sub) return b;
  unsigned e = b / (unsigned)sub + HIST_SUB_BITS - 1;
  uint64_t s = b % sub;
  uint64_t lo = (sub + s) << (e - HIST_SUB_BITS);
  uint64_t width = (uint64_t)1 << (e - HIST_SUB_BITS);
  return lo + width / 2;
}

void hist_record(hist_t *h, uint64_t ns) {
  h->counts[bucket_of(ns)]++;
  h->total++;
  h->sum_ns += (double)ns;
  if (ns > h->max_ns) h->max_ns = ns;
}

uint64_t hist_percentile(const hist_t *h, double fraction) {
  if (h->total == 0) return 0;
  uint64_t rank = (uint64_t)(fraction * (double)h->total);
  if (rank >= h->total) rank = h->total - 1;
  uint64_t seen = 0;
  for (unsigned b = 0; b < HIST_BUCKETS; b++) {
    seen += h->counts[b];
    if (seen > rank) {
      uint64_t v = value_of(b);
      return v > h->max_ns ? h->max_ns : v;
    }
  }
  return h->max_ns;
}
