// A test double of the BSD <sys/event.h>, so that native/kqueue.cc compiles and runs on Linux
// (binding.gyp -Dkqueue_double=1, `npm run test:kqueue`). Never shipped, never in the default
// build.
//
// It emulates the part of kqueue(2)/kevent(2) that kqueue.cc uses, as the FreeBSD man page
// describes it: EVFILT_READ and EVFILT_WRITE on file descriptors, EV_ADD (adds, or modifies an
// existing knote), EV_DELETE (ENOENT when absent, EBADF for a closed fd), EV_EOF on the filter
// whose direction has ended, and EV_ERROR entries for failed changes when the event list has
// room (else kevent() returns -1 with errno). Readiness comes from poll(2), so it is level-
// triggered as kqueue is without EV_CLEAR. Knotes of a closed fd vanish, as close(2) removes them
// in the kernel: the double notices at the next kevent() call (the fd is gone, or its number now
// names another file).
//
// Not emulated: other filters, EV_CLEAR/EV_ONESHOT/EV_DISPATCH, udata round trips beyond
// storage, the exact `data` counts, and every timing property of the real kernel.
#pragma once

#include <stdint.h>
#include <time.h>

struct kevent {
  uintptr_t ident;  // the fd
  int16_t filter;   // EVFILT_*
  uint16_t flags;   // EV_*
  uint32_t fflags;
  intptr_t data;
  void* udata;
};

#define EVFILT_READ (-1)
#define EVFILT_WRITE (-2)

#define EV_ADD 0x0001
#define EV_DELETE 0x0002
#define EV_ENABLE 0x0004
#define EV_DISABLE 0x0008
#define EV_RECEIPT 0x0040
#define EV_ERROR 0x4000
#define EV_EOF 0x8000

#define EV_SET(kevp, a, b, c, d, e, f) \
  do {                                 \
    struct kevent* kev_ = (kevp);      \
    kev_->ident = (a);                 \
    kev_->filter = (b);                \
    kev_->flags = (c);                 \
    kev_->fflags = (d);                \
    kev_->data = (e);                  \
    kev_->udata = (f);                 \
  } while (0)

int kqueue(void);
int kevent(int kq, const struct kevent* changelist, int nchanges, struct kevent* eventlist,
           int nevents, const struct timespec* timeout);
