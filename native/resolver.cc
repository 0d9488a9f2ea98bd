#include "resolver.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>

namespace iomux {
namespace {

// Four lookups at a time: enough for a connect racing both families plus a few more, without a
// thread per call (a slow resolver would otherwise pile threads up). Later ones wait their turn.
constexpr int kPoolSize = 4;

struct Lookup {
  std::string host;
  int family = AF_UNSPEC;
  int wake_fd = -1;
  bool done = false;
  int status = 0;
  int sys_errno = 0;
  std::vector<ResolvedAddress> out;
};

// Guarded by `mutex`. A lookup lives in `lookups` from start until take or cancel; the queue
// holds the ids not yet picked up by a thread.
struct Pool {
  std::mutex mutex;
  std::condition_variable work;
  std::deque<int> queue;
  std::unordered_map<int, std::shared_ptr<Lookup>> lookups;
  int next_id = 1;
  int threads = 0;
};

// Made once and never destroyed, on purpose: the helper threads wait on `work` until the process
// ends, and destroying a condition variable that has waiters blocks in glibc, so a static
// destructor at exit() would hang the process.
Pool& pool() {
  static Pool* p = new Pool();
  return *p;
}

void run_lookup(Lookup* l) {
  addrinfo hints;
  std::memset(&hints, 0, sizeof(hints));
  hints.ai_family = l->family;
  hints.ai_socktype = SOCK_STREAM;  // one entry per address, not one per socket type
  addrinfo* res = nullptr;
  int rc = getaddrinfo(l->host.c_str(), nullptr, &hints, &res);
  l->status = rc;
  if (rc == EAI_SYSTEM) l->sys_errno = errno;
  for (addrinfo* ai = res; rc == 0 && ai != nullptr; ai = ai->ai_next) {
    char text[INET6_ADDRSTRLEN] = {0};
    const void* src = nullptr;
    if (ai->ai_family == AF_INET)
      src = &reinterpret_cast<sockaddr_in*>(ai->ai_addr)->sin_addr;
    else if (ai->ai_family == AF_INET6)
      src = &reinterpret_cast<sockaddr_in6*>(ai->ai_addr)->sin6_addr;
    if (src == nullptr || inet_ntop(ai->ai_family, src, text, sizeof(text)) == nullptr) continue;
    l->out.push_back({ai->ai_family, text});
  }
  if (res != nullptr) freeaddrinfo(res);
}

void worker() {
  Pool& p = pool();
  std::unique_lock<std::mutex> lock(p.mutex);
  for (;;) {
    p.work.wait(lock, [&p] { return !p.queue.empty(); });
    int id = p.queue.front();
    p.queue.pop_front();
    auto it = p.lookups.find(id);
    if (it == p.lookups.end()) continue;  // cancelled while queued
    std::shared_ptr<Lookup> l = it->second;
    lock.unlock();
    run_lookup(l.get());
    lock.lock();
    l->done = true;
    // Still wanted? Then wake its loop. Under the lock, so resolver_cancel cannot return while
    // this write is pending on a fd its caller is about to close.
    if (p.lookups.count(id) != 0) {
      const char zero = 0;
      ssize_t ignored = write(l->wake_fd, &zero, 1);  // a full pipe already means a wake-up
      (void)ignored;
    }
  }
}

}  // namespace

int resolver_start(const std::string& host, int family, int wake_fd) {
  auto l = std::make_shared<Lookup>();
  l->host = host;
  l->family = family;
  l->wake_fd = wake_fd;
  Pool& p = pool();
  std::lock_guard<std::mutex> lock(p.mutex);
  int id = p.next_id++;
  if (p.next_id <= 0) p.next_id = 1;
  p.lookups.emplace(id, std::move(l));
  p.queue.push_back(id);
  if (p.threads < kPoolSize) {
    // The threads live as long as the process: between lookups they only wait on `work`.
    std::thread(worker).detach();
    p.threads++;
  }
  p.work.notify_one();
  return id;
}

int resolver_take(int id, int* status, int* sys_errno, std::vector<ResolvedAddress>* out) {
  Pool& p = pool();
  std::lock_guard<std::mutex> lock(p.mutex);
  auto it = p.lookups.find(id);
  if (it == p.lookups.end()) return -1;
  if (!it->second->done) return 0;
  *status = it->second->status;
  *sys_errno = it->second->sys_errno;
  *out = std::move(it->second->out);
  p.lookups.erase(it);
  return 1;
}

void resolver_cancel(int id) {
  Pool& p = pool();
  std::lock_guard<std::mutex> lock(p.mutex);
  p.lookups.erase(id);
}

}  // namespace iomux
