// The batched path (DESIGN §6.6): one native call per loop iteration flushes the writes queued
// since the last one, waits, and reads every ready fd that has an auto-reading consumer into a
// shared slab. It saves the two or three N-API crossings (~120 ns each) an echoed message costs
// on the one-call-per-syscall path; the syscalls themselves are the same.
//
// Shared memory, owned by JS and pinned by the binding (layouts mirrored in src/batch-io.ts):
//   records     (fd, mask, offset, length) per ready fd, in the order the backend reported them.
//               length: bytes read into the read slab at offset (> 0), 0 at EOF, -errno for a
//               failed read (EAGAIN included: a spurious wake-up), or kNotRead when nothing was
//               read (no auto-reader, kRead not reported, or the slab was full).
//   writes      (fd, source, offset, length) per queued write; source 0: the write slab, 1: the
//               read slab (a protocol echoing what it was handed costs no copy). The flush
//               overwrites `source` with the result: bytes sent, or -errno (EAGAIN counts as 0).
//               After a short or failed write the fd's later writes in the batch are skipped
//               (result 0), so a stream's bytes never go out of order.
//   read slab   where auto-reads land, from the offset JS gives; every read starts 8-aligned and
//               JS never hands out a byte twice (src/read-slab.ts).
#pragma once

#include <climits>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "selector.h"

namespace iomux {

constexpr int32_t kNotRead = INT32_MIN;
constexpr int kRecordInts = 4;
constexpr int kWriteInts = 4;
// One read asks for at most this much (the scale of the kernel's default loopback buffers), and
// auto-reads stop for this cycle once less than kMinRoom is left in the slab.
constexpr size_t kMaxRead = 64 * 1024;
constexpr size_t kMinRoom = 16 * 1024;

struct Span {
  uint8_t* data = nullptr;
  size_t length = 0;
};

class BatchIo {
 public:
  void set_buffers(int32_t* records, int record_capacity, int32_t* writes, int write_capacity,
                   Span write_slab) {
    records_ = records;
    record_capacity_ = record_capacity;
    writes_ = writes;
    write_capacity_ = write_capacity;
    write_slab_ = write_slab;
    pairs_.assign(size_t(record_capacity) * 2, 0);
  }
  void set_read_slab(Span slab) { read_slab_ = slab; }
  bool ready() const { return records_ != nullptr; }

  // Marks fd as having (or no longer having) a consumer whose reads the cycle does.
  void set_auto_read(int fd, bool on);
  // A removed fd (closed, or its number about to be reused) loses its auto-read mark.
  void forget(int fd) {
    if (fd >= 0 && size_t(fd) < auto_read_.size()) auto_read_[fd] = 0;
  }

  // Sends writes [0, count); returns true if every one was sent whole.
  bool flush(int count);
  // One wait on `selector`, then the auto-reads from *slab_offset on, which it moves past what
  // was read. Returns the record count or -errno (the wait's failure). The binding runs flush()
  // first and passes timeout 0 when a write came up short, so JS can queue the rest at once.
  int wait_and_read(Selector* selector, int timeout_ms, int* slab_offset);

 private:
  bool blocked(int fd) const;
  int32_t read_into_slab(int fd, int* slab_offset);

  int32_t* records_ = nullptr;
  int record_capacity_ = 0;
  int32_t* writes_ = nullptr;
  int write_capacity_ = 0;
  Span write_slab_;
  Span read_slab_;
  std::vector<uint8_t> auto_read_;
  std::vector<int32_t> pairs_;  // the backend's (fd, mask) pairs, before they become records
  std::vector<int> blocked_;    // fds whose write came up short in this flush
};

}  // namespace iomux
