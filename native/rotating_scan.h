// The result scan shared by the scanning backends (select, poll): after the kernel call, walk
// the registered slots and copy the ready ones into `out`.
//
// Fairness (selector.h: when more fds are ready than `capacity` holds, later waits report the
// rest first): the scan starts where the previous truncated scan stopped, so no ready fd starves
// behind lower-numbered busy ones. It runs as two plain ranges, [start, total) then [0, start),
// rather than a modulo per slot, and stops as soon as the kernel's ready count is used up.
#pragma once

#include <cstdint>

namespace iomux {

// What a slot holds after the kernel call.
struct ScanHit {
  int fd;
  int mask;  // kRead|kWrite to report (already limited to what was asked); 0: report nothing
  int seen;  // how much of the kernel's ready count this slot used up; 0: the slot is not ready
};

// Copies up to `capacity` (fd, mask) pairs into `out` and returns their count. `hit_at(slot)`
// returns the slot's ScanHit; `ready` is the kernel's count (select(2): one per set an fd is in;
// poll(2): one per ready pollfd). `*scan_start` is the slot to begin at, updated when `out` fills.
template <typename HitAt>
int rotating_scan(int total, int* scan_start, int32_t* out, int capacity, int ready, HitAt hit_at) {
  if (total <= 0) return 0;
  if (*scan_start >= total) *scan_start = 0;
  int count = 0;
  for (int pass = 0; pass < 2 && ready > 0; ++pass) {
    const int from = pass == 0 ? *scan_start : 0;
    const int to = pass == 0 ? total : *scan_start;
    for (int slot = from; slot < to && ready > 0; ++slot) {
      const ScanHit hit = hit_at(slot);
      if (hit.seen == 0) continue;
      ready -= hit.seen;
      if (hit.mask == 0) continue;
      if (count == capacity) {
        *scan_start = slot;
        return count;
      }
      out[2 * count] = hit.fd;
      out[2 * count + 1] = hit.mask;
      ++count;
    }
  }
  return count;
}

}  // namespace iomux
