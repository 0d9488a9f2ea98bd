// FdWatch: readiness of one fd reported through libuv, so iomux's selector fd (epoll/kqueue,
// itself pollable) can be watched by Node's loop without blocking it.
#include "binding_watch.h"

#include <uv.h>

namespace iomux {
namespace {

class FdWatch : public Napi::ObjectWrap<FdWatch> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "FdWatch", {
        InstanceMethod<&FdWatch::Ref>("ref"),
        InstanceMethod<&FdWatch::Unref>("unref"),
        InstanceMethod<&FdWatch::Close>("close"),
    });
  }

  // new FdWatch(fd, onReadable): starts watching at once; close() stops for good.
  explicit FdWatch(const Napi::CallbackInfo& info) : Napi::ObjectWrap<FdWatch>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsFunction()) {
      Napi::TypeError::New(env, "iomux native: expected (fd, function)").ThrowAsJavaScriptException();
      return;
    }
    uv_loop_t* loop = nullptr;
    if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) {
      Napi::Error::New(env, "iomux native: no libuv loop").ThrowAsJavaScriptException();
      return;
    }
    poll_ = new uv_poll_t;
    int rc = uv_poll_init(loop, poll_, info[0].As<Napi::Number>().Int32Value());
    if (rc == 0) {
      poll_->data = this;
      rc = uv_poll_start(poll_, UV_READABLE, OnPoll);
    }
    if (rc != 0) {
      CloseHandle();
      Napi::Error err = Napi::Error::New(env, std::string("uv_poll: ") + uv_strerror(rc));
      err.Set("code", uv_err_name(rc));
      err.ThrowAsJavaScriptException();
      return;
    }
    callback_ = Napi::Persistent(info[1].As<Napi::Function>());
    self_ = Napi::Persistent(info.This().As<Napi::Object>());  // alive while libuv holds us
    context_ = new Napi::AsyncContext(env, "iomux.FdWatch");
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
