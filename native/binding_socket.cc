// N-API glue for socket.h. Every function returns a number (a result or -errno) except the
// address and fd-pair helpers, which return an object/array on success and -errno on failure.
#include "binding_socket.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>

#include <cerrno>

#include "binding_args.h"
#include "socket.h"

namespace iomux {
namespace {

// (fd, family, host|path, port) -> SocketAddress; false with a JS exception on bad shapes.
bool Address(const Napi::CallbackInfo& info, size_t at, SocketAddress* out) {
  if (!expect_ints(info, at, 1)) return false;
  if (info.Length() <= at + 1 || !info[at + 1].IsString()) {
    throw_arg_type(info.Env(), "(family, host, port)");
    return false;
  }
  out->family = int_arg(info, at);
  out->host = info[at + 1].As<Napi::String>().Utf8Value();
  out->port = info.Length() > at + 2 && info[at + 2].IsNumber() ? int_arg(info, at + 2) : 0;
  return true;
}

Napi::Value Open(const Napi::CallbackInfo& info) {
  if (!expect_ints(info, 0, 2)) return info.Env().Undefined();
  return number(info, sock_open(int_arg(info, 0), int_arg(info, 1)));
}

Napi::Value Bind(const Napi::CallbackInfo& info) {
  SocketAddress addr;
  if (!expect_ints(info, 0, 1) || !Address(info, 1, &addr)) return info.Env().Undefined();
  return number(info, sock_bind(int_arg(info, 0), addr));
}

Napi::Value Connect(const Napi::CallbackInfo& info) {
  SocketAddress addr;
  if (!expect_ints(info, 0, 1) || !Address(info, 1, &addr)) return info.Env().Undefined();
  return number(info, sock_connect(int_arg(info, 0), addr));
}

Napi::Value Listen(const Napi::CallbackInfo& info) {
  if (!expect_ints(info, 0, 2)) return info.Env().Undefined();
  return number(info, sock_listen(int_arg(info, 0), int_arg(info, 1)));
}

Napi::Value Accept(const Napi::CallbackInfo& info) {
  if (!expect_ints(info, 0, 1)) return info.Env().Undefined();
  return number(info, sock_accept(int_arg(info, 0)));
}

ssize_t SendMutable(int fd, uint8_t* buf, size_t len) { return sock_send(fd, buf, len); }
ssize_t WriteMutable(int fd, uint8_t* buf, size_t len) { return fd_write(fd, buf, len); }

Napi::Value Shutdown(const Napi::CallbackInfo& info) {
  if (!expect_ints(info, 0, 2)) return info.Env().Undefined();
  return number(info, sock_shutdown(int_arg(info, 0), int_arg(info, 1)));
}

Napi::Value Outq(const Napi::CallbackInfo& info) {
  if (!expect_ints(info, 0, 1)) return info.Env().Undefined();
  return number(info, sock_outq(int_arg(info, 0)));
}

Napi::Value Close(const Napi::CallbackInfo& info) {
  if (!expect_ints(info, 0, 1)) return info.Env().Undefined();
  return number(info, fd_close(int_arg(info, 0)));
}

// dup(fd) -> a new close-on-exec fd for the same open file, or -errno. The tests and the fuzzer
// use it to reproduce epoll's dup pitfall (epoll(7) Q6).
Napi::Value Dup(const Napi::CallbackInfo& info) {
  if (!expect_ints(info, 0, 1)) return info.Env().Undefined();
  int fd = fcntl(int_arg(info, 0), F_DUPFD_CLOEXEC, 0);
  return number(info, fd < 0 ? -errno : fd);
}

Napi::Value SetOpt(const Napi::CallbackInfo& info) {
  if (!expect_ints(info, 0, 4)) return info.Env().Undefined();
  return number(
      info, sock_setopt(int_arg(info, 0), int_arg(info, 1), int_arg(info, 2), int_arg(info, 3)));
}

Napi::Value GetOpt(const Napi::CallbackInfo& info) {
  if (!expect_ints(info, 0, 3)) return info.Env().Undefined();
  int value = 0;
  int rc = sock_getopt(int_arg(info, 0), int_arg(info, 1), int_arg(info, 2), &value);
  return number(info, rc < 0 ? rc : value);
}

// -> { family, host, port } or -errno. `family` is 0 for an unbound socket.
Napi::Value Name(const Napi::CallbackInfo& info, bool peer) {
  if (!expect_ints(info, 0, 1)) return info.Env().Undefined();
  SocketAddress addr;
  int rc = sock_name(int_arg(info, 0), peer, &addr);
  if (rc < 0) return number(info, rc);
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("family", addr.family);
  out.Set("host", addr.host);
  out.Set("port", addr.port);
  return out;
}

Napi::Value SockName(const Napi::CallbackInfo& info) { return Name(info, false); }
Napi::Value PeerName(const Napi::CallbackInfo& info) { return Name(info, true); }

template <int (*Make)(int[2])>
Napi::Value Pair(const Napi::CallbackInfo& info) {
  int fds[2];
  int rc = Make(fds);
  if (rc < 0) return number(info, rc);
  Napi::Array out = Napi::Array::New(info.Env(), 2);
  out.Set(0u, fds[0]);
  out.Set(1u, fds[1]);
  return out;
}

Napi::Value SignalWatch(const Napi::CallbackInfo& info) {
  if (!expect_ints(info, 0, 2)) return info.Env().Undefined();
  return number(info, signal_watch(int_arg(info, 0), int_arg(info, 1)));
}

Napi::Value SignalUnwatch(const Napi::CallbackInfo& info) {
  if (!expect_ints(info, 0, 1)) return info.Env().Undefined();
  return number(info, signal_unwatch(int_arg(info, 0)));
}

// The per-message calls (recv/send/read/write) are written against the plain C N-API: one
// napi_get_cb_info, one napi_get_typedarray_info and three int reads. The C++ wrappers' extra
// type probes and handle creation cost about as much as the syscall's user-side work
// (perf on a 64-byte socketpair ping-pong), so this is where they are left out.
template <ssize_t (*Io)(int, uint8_t*, size_t)>
napi_value FastTransfer(napi_env env, napi_callback_info cbinfo) {
  size_t argc = 4;
  napi_value argv[4];
  if (napi_get_cb_info(env, cbinfo, &argc, argv, nullptr, nullptr) != napi_ok) return nullptr;
  int32_t fd = -1;
  int64_t off = -1, len = -1;
  napi_typedarray_type type;
  size_t elements = 0;
  void* data = nullptr;
  // napi_get_typedarray_info's data already points at the view's first byte (byte offset applied).
  if (argc < 4 || napi_get_value_int32(env, argv[0], &fd) != napi_ok ||
      napi_get_typedarray_info(env, argv[1], &type, &elements, &data, nullptr, nullptr) !=
          napi_ok ||
      type != napi_uint8_array || napi_get_value_int64(env, argv[2], &off) != napi_ok ||
      napi_get_value_int64(env, argv[3], &len) != napi_ok) {
    throw_arg_type(env, "(fd, Uint8Array, offset, length)");
    return nullptr;
  }
  const int64_t size = int64_t(elements);
  if (off < 0 || len < 0 || off > size || len > size - off) {
    throw_arg_range(env, "offset/length outside the buffer");
    return nullptr;
  }
  return raw_number(env, int32_t(Io(fd, static_cast<uint8_t*>(data) + off, size_t(len))));
}

}  // namespace

void InitSocketBindings(Napi::Env env, Napi::Object exports) {
  auto fn = [&](const char* name, Napi::Function::Callback cb) {
    exports.Set(name, Napi::Function::New(env, cb, name));
  };
  fn("socket", Open);
  fn("bind", Bind);
  fn("connect", Connect);
  fn("listen", Listen);
  fn("accept", Accept);
  auto fast = [&](const char* name, napi_callback cb) {
    napi_value f;
    napi_create_function(env, name, NAPI_AUTO_LENGTH, cb, nullptr, &f);
    exports.Set(name, Napi::Value(env, f));
  };
  fast("recv", FastTransfer<sock_recv>);
  fast("send", FastTransfer<SendMutable>);
  fast("read", FastTransfer<fd_read>);
  fast("write", FastTransfer<WriteMutable>);
  fn("shutdown", Shutdown);
  fn("outq", Outq);
  fn("close", Close);
  fn("dup", Dup);
  fn("setsockopt", SetOpt);
  fn("getsockopt", GetOpt);
  fn("getsockname", SockName);
  fn("getpeername", PeerName);
  fn("pipe", Pair<make_pipe>);
  fn("socketpair", Pair<make_socketpair>);
  fn("signalWatch", SignalWatch);
  fn("signalUnwatch", SignalUnwatch);

  Napi::Object c = Napi::Object::New(env);
  auto constant = [&](const char* name, int value) { c.Set(name, value); };
  constant("AF_INET", AF_INET);
  constant("AF_INET6", AF_INET6);
  constant("AF_UNIX", AF_UNIX);
  constant("SOCK_STREAM", SOCK_STREAM);
  constant("SOCK_DGRAM", SOCK_DGRAM);
  constant("SOL_SOCKET", SOL_SOCKET);
  constant("SO_REUSEADDR", SO_REUSEADDR);
#ifdef SO_REUSEPORT
  constant("SO_REUSEPORT", SO_REUSEPORT);
#endif
  constant("SO_ERROR", SO_ERROR);
  constant("SO_TYPE", SO_TYPE);
  constant("SO_RCVBUF", SO_RCVBUF);
  constant("SO_SNDBUF", SO_SNDBUF);
  constant("SO_KEEPALIVE", SO_KEEPALIVE);
  constant("IPPROTO_TCP", IPPROTO_TCP);
  constant("TCP_NODELAY", TCP_NODELAY);
  constant("IPPROTO_IPV6", IPPROTO_IPV6);
  constant("IPV6_V6ONLY", IPV6_V6ONLY);
  constant("SHUT_RD", SHUT_RD);
  constant("SHUT_WR", SHUT_WR);
  constant("SHUT_RDWR", SHUT_RDWR);
  exports.Set("constants", c);
}

}  // namespace iomux
