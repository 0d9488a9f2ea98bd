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

// Everything below is guarded by g_mutex. A lookup lives in g_lookups from start until take or
// cancel; the queue holds the ids not yet picked up by a thread.
std::mutex g_mutex;
std::condition_variable g_work;
std::deque<int> g_queue;
std::unordered_map<int, std::shared_ptr<Lookup>> g_lookups;
int g_next_id = 1;
int g_threads = 0;

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
    if (ai->ai_family == AF_INET) src = &reinterpret_cast<sockaddr_in*>(ai->ai_addr)->sin_addr;
    else if (ai->ai_family == AF_INET6) src = &reinterpret_cast<sockaddr_in6*>(ai->ai_addr)->sin6_addr;
    if (src == nullptr || inet_ntop(ai->ai_family, src, text, sizeof(text)) == nullptr) continue;
    l->out.push_back({ai->ai_family, text});
  }
  if (res != nullptr) freeaddrinfo(res);
}

void worker() {
  std::unique_lock<std::mutex> lock(g_mutex);
  for (;;) {
    g_work.wait(lock, [] { return !g_queue.empty(); });
    int id = g_queue.front();
    g_queue.pop_front();
    auto it = g_lookups.find(id);
    if (it == g_lookups.end()) continue;  // cancelled while queued
    std::shared_ptr<Lookup> l = it->second;
    lock.unlock();
    run_lookup(l.get());
    lock.lock();
    l->done = true;
    // Still wanted? Then wake its loop. Under the lock, so resolver_cancel cannot return while
    // this write is pending on a fd its caller is about to close.
    if (g_lookups.count(id) != 0) {
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
  std::lock_guard<std::mutex> lock(g_mutex);
  int id = g_next_id++;
  if (g_next_id <= 0) g_next_id = 1;
  g_lookups.emplace(id, std::move(l));
  g_queue.push_back(id);
  if (g_threads < kPoolSize && g_queue.size() > 0) {
    // The threads live as long as the process: they only ever wait on g_work between lookups.
    std::thread(worker).detach();
    g_threads++;
  }
  g_work.notify_one();
  return id;
}

int resolver_take(int id, int* status, int* sys_errno, std::vector<ResolvedAddress>* out) {
  std::lock_guard<std::mutex> lock(g_mutex);
  auto it = g_lookups.find(id);
  if (it == g_lookups.end()) return -1;
  if (!it->second->done) return 0;
  *status = it->second->status;
  *sys_errno = it->second->sys_errno;
  *out = std::move(it->second->out);
  g_lookups.erase(it);
  return 1;
}

void resolver_cancel(int id) {
  std::lock_guard<std::mutex> lock(g_mutex);
  g_lookups.erase(id);
}

}  // namespace iomux
