// WaitThread: the blocking wait of a select or poll selector, moved onto a native thread so that
// Node's own event loop can drive an iomux Loop on those backends too (Loop.attach(), DESIGN
// §6.2). epoll and kqueue need none of this: libuv polls their own fd.
//
// A WaitThread is a Selector that wraps the loop's select/poll selector (the "inner" one) while
// the loop is attached. The loop thread keeps calling add/modify/remove/wait on it as before:
//
//   wait thread                                loop thread (Node's)
//   -----------                                --------------------
//   copy = snapshot of inner + wake fd         add/modify/remove: change inner, ++generation,
//   wait(copy, forever)                          and write the wake fd if the wait thread waits
//   drop the wake fd's entry (drain it)
//   a batch of (fd, mask) pairs: post it,  ->  LoopLink::batch_ready() (uv_async_send)
//     then park until resumed                  wait(0) takes the batch; the loop dispatches it
//                                         <-  resume() once the callbacks ran
//   generation changed? snapshot again
//
// Threading invariants (mu_ guards every field below it in the class, except as noted):
// - The wait thread never touches a JS value or anything of N-API or libuv but
//   LoopLink::batch_ready(), which must be safe from any thread (uv_async_send is).
// - inner_ is read and changed only under mu_. The wait thread reads it only to take a snapshot,
//   so the fd set crosses between threads under the lock, as a copy; the blocking wait runs on
//   copy_, which only the wait thread touches once started.
// - batch_ is written by the wait thread only while posted_ is false and read by the loop thread
//   only while posted_ is true; posted_ flips under mu_, which orders the two.
// - A batch is used only if no registration changed since its snapshot (batch_gen_ == gen_);
//   otherwise wait() scans inner_ afresh (zero timeout) on the loop thread, so a batch can never
//   deliver readiness of an fd to a registration made after it was taken (the stale-event rule).
// - While a batch is posted and until resume(), the wait thread does not wait, so an fd the
//   callbacks drained is not reported again: readiness semantics are the owned mode's.
// - stop() (and so close(), release() and the destructor) wakes the thread and joins it; after
//   it returns no thread and no wake fd are left, and batch_ready() is never called again.
// - The wait thread blocks every signal, so signals keep going to Node's threads as before.
#pragma once

#include <pthread.h>

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "selector.h"

namespace iomux {

// The loop thread's side of a WaitThread (binding_watch.cc implements it over libuv).
class LoopLink {
 public:
  // Any thread: a batch is posted. The loop thread should call wait() and then resume().
  virtual void batch_ready() = 0;
  // Loop thread: the WaitThread is being destroyed while still installed (its selector closed).
  virtual void thread_gone() = 0;

 protected:
  ~LoopLink() = default;
};

class WaitThread final : public Selector {
 public:
  // `capacity`: the most pairs the loop thread's wait() takes at once (its results array).
  WaitThread(std::unique_ptr<Selector> inner, int capacity, LoopLink* link);
  ~WaitThread() override;

  // Makes the wake fd and the first snapshot, and starts the thread: 0 or -errno (-EINVAL: the
  // inner selector cannot be snapshotted, or select's wake fd is not below FD_SETSIZE).
  int start();
  // Loop thread: the posted batch was dispatched; the wait thread may wait again.
  void resume();
  // Stops and joins the thread and hands the inner selector back (this is then empty).
  std::unique_ptr<Selector> release();

  int add(int fd, int events) override;
  int modify(int fd, int events) override;
  int remove(int fd) override;
  // Never blocks: the posted batch (or a fresh zero-timeout scan if registrations changed since
  // its snapshot), or 0 when none is posted. `timeout_ms` is ignored.
  int wait(int timeout_ms, int32_t* out, int capacity) override;
  void close() override;

 private:
  static void* thread_main(void* self);
  void run();
  void stop();
  template <typename Change>
  int change(Change op);
  void wake_locked();
  int refresh_copy_locked();
  int drop_wake_entry(int count);
  void close_wake_fds();

  const int capacity_;
  LoopLink* link_;                  // loop thread only (null once released)
  std::unique_ptr<Selector> copy_;  // the wait thread's (start() makes the first one)
  int wake_read_ = -1;              // in copy_'s set; wake_write_ == wake_read_ for an eventfd
  int wake_write_ = -1;
  pthread_t thread_{};
  bool running_ = false;    // loop thread only: thread_ is joinable
  uint64_t start_gen_ = 0;  // gen_ when start() took the first copy (read before the thread)

  std::mutex mu_;
  std::condition_variable resumed_;
  std::unique_ptr<Selector> inner_;
  std::vector<int32_t> batch_;
  int batch_count_ = 0;        // pairs in batch_, or -errno from the wait
  uint64_t batch_gen_ = 0;     // gen_ when the snapshot behind batch_ was taken
  uint64_t gen_ = 0;           // bumped by every registration change
  bool posted_ = false;        // a batch waits for the loop thread; the wait thread is parked
  bool taken_ = false;         // wait() already took the posted batch
  bool waiting_ = false;       // the wait thread is in (or entering) its blocking wait
  bool wake_pending_ = false;  // the wake fd was written and not yet drained
  bool stopping_ = false;
};

}  // namespace iomux
