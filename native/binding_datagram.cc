// N-API glue for the datagram calls in socket.h. sendto returns a count or -errno; recvfrom
// returns { bytes, family, host, port } or -errno (the sender's address is part of the answer).
#include "binding_datagram.h"

#include "binding_args.h"
#include "socket.h"

namespace iomux {
namespace {

// (buf, offset, length) at `at` -> the span; false with a JS exception on bad shapes.
bool Span(const Napi::CallbackInfo& info, size_t at, uint8_t** data, size_t* len) {
  if (info.Length() <= at || !info[at].IsTypedArray() ||
      info[at].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array ||
      !expect_ints(info, at + 1, 2)) {
    throw_arg_type(info.Env(), "(Uint8Array, offset, length)");
    return false;
  }
  auto array = info[at].As<Napi::Uint8Array>();
  int64_t off = info[at + 1].As<Napi::Number>().Int64Value();
  int64_t n = info[at + 2].As<Napi::Number>().Int64Value();
  int64_t size = int64_t(array.ElementLength());
  if (off < 0 || n < 0 || off > size || n > size - off) {
    throw_arg_range(info.Env(), "offset/length outside the buffer");
    return false;
  }
  *data = array.Data() + off;
  *len = size_t(n);
  return true;
}

// sendto(fd, buf, offset, length, family, host, port): family 0 sends to the connected peer.
Napi::Value SendTo(const Napi::CallbackInfo& info) {
  uint8_t* data = nullptr;
  size_t len = 0;
  if (!expect_ints(info, 0, 1) || !Span(info, 1, &data, &len) || !expect_ints(info, 4, 1))
    return info.Env().Undefined();
  SocketAddress to;
  to.family = int_arg(info, 4);
  if (to.family != 0) {
    if (info.Length() < 7 || !info[5].IsString() || !info[6].IsNumber()) {
      throw_arg_type(info.Env(), "(family, host, port)");
      return info.Env().Undefined();
    }
    to.host = info[5].As<Napi::String>().Utf8Value();
    to.port = int_arg(info, 6);
  }
  return number(info, double(sock_sendto(int_arg(info, 0), data, len, to)));
}

// recvfrom(fd, buf, offset, length)
Napi::Value RecvFrom(const Napi::CallbackInfo& info) {
  uint8_t* data = nullptr;
  size_t len = 0;
  if (!expect_ints(info, 0, 1) || !Span(info, 1, &data, &len)) return info.Env().Undefined();
  SocketAddress from;
  ssize_t n = sock_recvfrom(int_arg(info, 0), data, len, &from);
  if (n < 0) return number(info, double(n));
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("bytes", double(n));
  out.Set("family", from.family);
  out.Set("host", from.host);
  out.Set("port", from.port);
  return out;
}

}  // namespace

void InitDatagramBindings(Napi::Env env, Napi::Object exports) {
  exports.Set("sendto", Napi::Function::New(env, SendTo, "sendto"));
  exports.Set("recvfrom", Napi::Function::New(env, RecvFrom, "recvfrom"));
}

}  // namespace iomux
