// N-API glue for socket.h. Every function returns a number (a result or -errno) except the
// address and fd-pair helpers, which return an object/array on success and -errno on failure.
#include "binding_socket.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>

#include "socket.h"

namespace iomux {
namespace {

Napi::Value Num(const Napi::CallbackInfo& info, double v) { return Napi::Number::New(info.Env(), v); }

bool Fail(const Napi::CallbackInfo& info, const char* what) {
  Napi::TypeError::New(info.Env(), std::string("iomux native: expected ") + what)
      .ThrowAsJavaScriptException();
  return false;
}

bool Ints(const Napi::CallbackInfo& info, size_t from, size_t count) {
  for (size_t i = from; i < from + count; ++i)
    if (i >= info.Length() || !info[i].IsNumber()) return Fail(info, "integer arguments");
  return true;
}

int Int(const Napi::CallbackInfo& info, size_t i) { return info[i].As<Napi::Number>().Int32Value(); }

// (fd, bytes, offset, length): checks the range against the array so a bad call cannot read or
// write outside it. Returns nullptr (with a JS exception pending) on malformed arguments.
uint8_t* Span(const Napi::CallbackInfo& info, size_t* len) {
  if (!Ints(info, 0, 1) || info.Length() < 4 || !info[1].IsTypedArray() || !Ints(info, 2, 2)) {
    Fail(info, "(fd, Uint8Array, offset, length)");
    return nullptr;
  }
  auto bytes = info[1].As<Napi::Uint8Array>();
  int64_t off = info[2].As<Napi::Number>().Int64Value();
  int64_t n = info[3].As<Napi::Number>().Int64Value();
  int64_t size = int64_t(bytes.ByteLength());
  if (off < 0 || n < 0 || off > size || n > size - off) {
    Napi::RangeError::New(info.Env(), "iomux native: offset/length outside the buffer")
        .ThrowAsJavaScriptException();
    return nullptr;
  }
  *len = size_t(n);
  return static_cast<uint8_t*>(bytes.ArrayBuffer().Data()) + bytes.ByteOffset() + off;
}

// (fd, family, host|path, port) -> SocketAddress; false with a JS exception on bad shapes.
bool Address(const Napi::CallbackInfo& info, size_t at, SocketAddress* out) {
  if (!Ints(info, at, 1) || info.Length() <= at + 1 || !info[at + 1].IsString())
    return Fail(info, "(family, host, port)");
  out->family = Int(info, at);
  out->host = info[at + 1].As<Napi::String>().Utf8Value();
  out->port = info.Length() > at + 2 && info[at + 2].IsNumber() ? Int(info, at + 2) : 0;
  return true;
}

Napi::Value Open(const Napi::CallbackInfo& info) {
  if (!Ints(info, 0, 2)) return info.Env().Undefined();
  return Num(info, sock_open(Int(info, 0), Int(info, 1)));
}

Napi::Value Bind(const Napi::CallbackInfo& info) {
  SocketAddress addr;
  if (!Ints(info, 0, 1) || !Address(info, 1, &addr)) return info.Env().Undefined();
  return Num(info, sock_bind(Int(info, 0), addr));
}

Napi::Value Connect(const Napi::CallbackInfo& info) {
  SocketAddress addr;
  if (!Ints(info, 0, 1) || !Address(info, 1, &addr)) return info.Env().Undefined();
  return Num(info, sock_connect(Int(info, 0), addr));
}

Napi::Value Listen(const Napi::CallbackInfo& info) {
  if (!Ints(info, 0, 2)) return info.Env().Undefined();
  return Num(info, sock_listen(Int(info, 0), Int(info, 1)));
}

Napi::Value Accept(const Napi::CallbackInfo& info) {
  if (!Ints(info, 0, 1)) return info.Env().Undefined();
  return Num(info, sock_accept(Int(info, 0)));
}

template <ssize_t (*Io)(int, uint8_t*, size_t)>
Napi::Value Transfer(const Napi::CallbackInfo& info) {
  size_t len = 0;
  uint8_t* data = Span(info, &len);
  if (!data) return info.Env().Undefined();
  return Num(info, double(Io(Int(info, 0), data, len)));
}

ssize_t SendMutable(int fd, uint8_t* buf, size_t len) { return sock_send(fd, buf, len); }
ssize_t WriteMutable(int fd, uint8_t* buf, size_t len) { return fd_write(fd, buf, len); }

Napi::Value Shutdown(const Napi::CallbackInfo& info) {
  if (!Ints(info, 0, 2)) return info.Env().Undefined();
  return Num(info, sock_shutdown(Int(info, 0), Int(info, 1)));
}

Napi::Value Close(const Napi::CallbackInfo& info) {
  if (!Ints(info, 0, 1)) return info.Env().Undefined();
  return Num(info, fd_close(Int(info, 0)));
}

Napi::Value SetOpt(const Napi::CallbackInfo& info) {
  if (!Ints(info, 0, 4)) return info.Env().Undefined();
  return Num(info, sock_setopt(Int(info, 0), Int(info, 1), Int(info, 2), Int(info, 3)));
}

Napi::Value GetOpt(const Napi::CallbackInfo& info) {
  if (!Ints(info, 0, 3)) return info.Env().Undefined();
  int value = 0;
  int rc = sock_getopt(Int(info, 0), Int(info, 1), Int(info, 2), &value);
  return Num(info, rc < 0 ? rc : value);
}

// -> { family, host, port } or -errno. `family` is 0 for an unbound socket.
Napi::Value Name(const Napi::CallbackInfo& info, bool peer) {
  if (!Ints(info, 0, 1)) return info.Env().Undefined();
  SocketAddress addr;
  int rc = sock_name(Int(info, 0), peer, &addr);
  if (rc < 0) return Num(info, rc);
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
  if (rc < 0) return Num(info, rc);
  Napi::Array out = Napi::Array::New(info.Env(), 2);
  out.Set(0u, fds[0]);
  out.Set(1u, fds[1]);
  return out;
}

Napi::Value SignalWatch(const Napi::CallbackInfo& info) {
  if (!Ints(info, 0, 2)) return info.Env().Undefined();
  return Num(info, signal_watch(Int(info, 0), Int(info, 1)));
}

Napi::Value SignalUnwatch(const Napi::CallbackInfo& info) {
  if (!Ints(info, 0, 1)) return info.Env().Undefined();
  return Num(info, signal_unwatch(Int(info, 0)));
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
  fn("recv", Transfer<sock_recv>);
  fn("send", Transfer<SendMutable>);
  fn("read", Transfer<fd_read>);
  fn("write", Transfer<WriteMutable>);
  fn("shutdown", Shutdown);
  fn("close", Close);
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
