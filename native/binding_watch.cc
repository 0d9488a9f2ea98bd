// FdWatch: readiness of one fd reported through libuv, so iomux's selector fd (epoll/kqueue,
// itself pollable) can be watched by Node's loop without blocking it.
#include "binding_watch.h"

#include <uv.h>

#include <cerrno>

#include "binding_args.h"

namespace iomux {
namespace {

class FdWatch : public Napi::ObjectWrap<FdWatch> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "FdWatch", {
        InstanceMethod<&FdWatch::Start>("start"),
        InstanceMethod<&FdWatch::Ref>("ref"),
        InstanceMethod<&FdWatch::Unref>("unref"),
        InstanceMethod<&FdWatch::Close>("close"),
    });
  }

  // new FdWatch(onReadable); start(fd) begins watching; close() stops for good.
  explicit FdWatch(const Napi::CallbackInfo& info) : Napi::ObjectWrap<FdWatch>(info) {
    if (info.Length() < 1 || !info[0].IsFunction()) {
      throw_arg_type(info.Env(), "(function)");
      return;
    }
    callback_ = Napi::Persistent(info[0].As<Napi::Function>());
    context_ = new Napi::AsyncContext(info.Env(), "iomux.FdWatch");
  }

  ~FdWatch() override {
    CloseHandle();
    delete context_;
  }

 private:
  static void OnPoll(uv_poll_t* handle, int status, int /*events*/) {
    auto* self = static_cast<FdWatch*>(handle->data);
    if (self == nullptr || self->callback_.IsEmpty()) return;
    Napi::Env env = self->callback_.Env();
    Napi::HandleScope scope(env);
    // MakeCallback runs the microtasks and nextTicks the callback caused, like any Node callback.
    self->callback_.MakeCallback(self->Value(), {Napi::Number::New(env, status)}, *self->context_);
  }

  // start(fd) -> 0, or -errno from uv_poll_init/uv_poll_start (libuv's codes are -errno on
  // Unix): the caller builds the error, as for every other native call.
  Napi::Value Start(const Napi::CallbackInfo& info) {
    if (!expect_ints(info, 0, 1)) return info.Env().Undefined();
    if (poll_ != nullptr || callback_.IsEmpty()) return number(info, -EINVAL);  // started or closed
    uv_loop_t* loop = nullptr;
    if (napi_get_uv_event_loop(info.Env(), &loop) != napi_ok || loop == nullptr) return number(info, -EINVAL);
    auto* poll = new uv_poll_t;
    int rc = uv_poll_init(loop, poll, int_arg(info, 0));
    if (rc != 0) {
      delete poll;  // a failed init leaves the handle unknown to libuv: uv_close() must not see it
      return number(info, rc);
    }
    poll_ = poll;
    poll_->data = this;
    rc = uv_poll_start(poll_, UV_READABLE, OnPoll);
    if (rc != 0) {
      CloseHandle();
      return number(info, rc);
    }
    self_ = Napi::Persistent(info.This().As<Napi::Object>());  // alive while libuv holds us
    return number(info, 0);
  }

  Napi::Value Ref(const Napi::CallbackInfo& info) {
    if (poll_) uv_ref(reinterpret_cast<uv_handle_t*>(poll_));
    return info.Env().Undefined();
  }

  Napi::Value Unref(const Napi::CallbackInfo& info) {
    if (poll_) uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
    return info.Env().Undefined();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    CloseHandle();
    callback_.Reset();
    self_.Reset();
    return info.Env().Undefined();
  }

  // libuv frees a handle only after its close callback: the memory is released there.
  void CloseHandle() {
    if (poll_ == nullptr) return;
    poll_->data = nullptr;
    uv_poll_stop(poll_);
    uv_close(reinterpret_cast<uv_handle_t*>(poll_), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
    poll_ = nullptr;
  }

  uv_poll_t* poll_ = nullptr;
  Napi::FunctionReference callback_;
  Napi::ObjectReference self_;
  Napi::AsyncContext* context_ = nullptr;
};

}  // namespace

void InitWatchBindings(Napi::Env env, Napi::Object exports) {
  exports.Set("FdWatch", FdWatch::Define(env));
}

}  // namespace iomux
