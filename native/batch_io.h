// The batched path (DESIGN §6.6): one native call per loop iteration flushes the writes queued
// since the last one, waits, and reads every ready fd that has an auto-reading consumer into a
// shared slab. It saves the two or three N-API crossings (~120 ns each) an echoed message costs
// on the one-call-per-syscall path; the syscalls themselves are the same.
//
// Shared memory, owned by JS and pinned by the binding (layouts mirrored in src/batch-io.ts):
//   records     (fd, mask, offset, length) per ready fd, in the order the backend reported them.
//               length: bytes read into the read slab at offset (> 0), 0 at EOF, -errno for a
//               failed read (EAGAIN included: a spurious wake-up), kNotRead when the fd was not
//               to be read (no mark, or kRead not reported), kNoRoom when it was but the slab
//               had less than kMinRoom left (JS then reads it itself).
//   writes      (fd, source, offset, length) per queued write; source 0: the write slab, 1: the
//               read slab (a protocol echoing what it was handed costs no copy). The flush
//               overwrites `source` with the result: bytes sent, or -errno (EAGAIN counts as 0).
//               After a short or failed write the fd's later writes in the batch are skipped
//               (result 0), so a stream's bytes never go out of order.
//   read slab   where auto-reads land, from the offset JS gives; every read starts 8-aligned and
//               JS never hands out a byte twice (src/read-slab.ts).
//   marks       one int32 per fd, written by JS without a crossing: > 0 = read at most that many
//               bytes of this fd when it is readable (a transport: 64 KiB, always; an aio socket:
//               the waiting read's buffer size, while it waits), 0 = leave the fd alone.
#pragma once

#include <climits>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "selector.h"

namespace iomux {

constexpr int32_t kNotRead = INT32_MIN;
constexpr int32_t kNoRoom = INT32_MIN + 1;
constexpr int kRecordInts = 4;
constexpr int kWriteInts = 4;
// One read asks for at most this much (the scale of the kernel's default loopback buffers), and
// auto-reads stop for this cycle once less than kMinRoom is left in the slab. src/read-slab.ts
// (MAX_READ, MIN_ROOM) and src/batch-io.ts (RECORD_INTS, NOT_READ, NO_ROOM) mirror these.
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
  // A slab given here is known to be attached for the rest of the call (see begin_call()).
  void set_read_slab(Span slab) {
    read_slab_ = slab;
    slab_checked_ = true;
  }
  // The binding asks `guard` whether the read slab is still attached (user code can detach its
  // ArrayBuffer; binding.cc, check_read_slab), and the guard forgets a detached one with
  // set_read_slab({}). That costs two N-API calls, so it is asked lazily: at most once per
  // binding call that begins with begin_call(), just before the read slab is first used. A loop
  // whose readers read for themselves never uses it, and never pays for the question.
  void set_slab_guard(void (*guard)(void* context), void* context) {
    guard_ = guard;
    guard_context_ = context;
  }
  void begin_call() { slab_checked_ = false; }
  void set_marks(const int32_t* marks, size_t count) {
    marks_ = marks;
    mark_count_ = count;
  }
  bool ready() const { return records_ != nullptr; }

  // Sends writes [0, count); returns true if every one was sent whole.
  bool flush(int count);
  // One wait on `selector`, then the auto-reads from *slab_offset on, which it moves past what
  // was read. Returns the record count or -errno (the wait's failure). The binding runs flush()
  // first and passes timeout 0 when a write came up short, so JS can queue the rest at once.
  int wait_and_read(Selector* selector, int timeout_ms, int* slab_offset);

 private:
  bool blocked(int fd) const;
  // The read slab, after the guard was asked once in this call.
  const Span& checked_read_slab();
  int32_t read_into_slab(int fd, size_t most, int* slab_offset);

  int32_t* records_ = nullptr;
  int record_capacity_ = 0;
  int32_t* writes_ = nullptr;
  int write_capacity_ = 0;
  Span write_slab_;
  Span read_slab_;
  bool slab_checked_ = false;
  void (*guard_)(void* context) = nullptr;
  void* guard_context_ = nullptr;
  const int32_t* marks_ = nullptr;
  size_t mark_count_ = 0;
  std::vector<int32_t> pairs_;  // the backend's (fd, mask) pairs, before they become records
  std::vector<int> blocked_;    // fds whose write came up short in this flush
};

}  // namespace iomux
