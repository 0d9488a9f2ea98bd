// See batch_io.h. No N-API here: binding.cc hands this the pinned buffers and the numbers.
#include "batch_io.h"

#include <algorithm>
#include <cerrno>

#include "socket.h"

namespace iomux {

bool BatchIo::blocked(int fd) const {
  return !blocked_.empty() && std::find(blocked_.begin(), blocked_.end(), fd) != blocked_.end();
}

const Span& BatchIo::checked_read_slab() {
  if (!slab_checked_) {
    slab_checked_ = true;
    if (guard_ != nullptr) guard_(guard_context_);
  }
  return read_slab_;
}

bool BatchIo::flush(int count) {
  blocked_.clear();
  count = std::min(std::max(count, 0), write_capacity_);
  bool whole = true;
  for (int i = 0; i < count; ++i) {
    int32_t* w = writes_ + size_t(i) * kWriteInts;
    const int fd = w[0];
    const Span& slab = w[1] == 1 ? checked_read_slab() : write_slab_;
    const int64_t offset = w[2];
    const int64_t length = w[3];
    if (fd < 0 || blocked(fd)) {  // cancelled by its owner, or behind a short write
      w[1] = 0;
      continue;
    }
    if (offset < 0 || length <= 0 || uint64_t(offset + length) > slab.length) {
      w[1] = -EINVAL;  // a bug in src/batch-io.ts; never send bytes from outside the slab
    } else {
      ssize_t n = sock_send(fd, slab.data + offset, size_t(length));
      w[1] = n == -EAGAIN || n == -EWOULDBLOCK ? 0 : int32_t(n);
    }
    if (w[1] != length) {
      whole = false;
      blocked_.push_back(fd);
    }
  }
  return whole;
}

int32_t BatchIo::read_into_slab(int fd, size_t most, int* slab_offset) {
  const size_t offset = size_t(*slab_offset);
  const Span& slab = checked_read_slab();
  if (slab.data == nullptr || offset > slab.length || slab.length - offset < kMinRoom)
    return kNoRoom;
  const size_t room = std::min({slab.length - offset, kMaxRead, most});
  ssize_t n = fd_read(fd, slab.data + offset, room);
  if (n > 0) *slab_offset = int((offset + size_t(n) + 7) & ~size_t(7));
  return int32_t(n);
}

int BatchIo::wait_and_read(Selector* selector, int timeout_ms, int* slab_offset) {
  int count = selector->wait(timeout_ms, pairs_.data(), record_capacity_);
  if (count <= 0) return count;
  for (int i = 0; i < count; ++i) {
    const int fd = pairs_[2 * size_t(i)];
    const int mask = pairs_[2 * size_t(i) + 1];
    int32_t* r = records_ + size_t(i) * kRecordInts;
    r[0] = fd;
    r[1] = mask;
    r[2] = *slab_offset;
    const int32_t most =
        (mask & kRead) != 0 && fd >= 0 && size_t(fd) < mark_count_ ? marks_[fd] : 0;
    r[3] = most > 0 ? read_into_slab(fd, size_t(most), slab_offset) : kNotRead;
  }
  return count;
}

}  // namespace iomux
