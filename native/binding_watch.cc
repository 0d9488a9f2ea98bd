// The watches behind Loop.attach(): they call a JS function on Node's own event loop whenever an
// iomux selector has something to report, so Node's loop can drive the iomux Loop without ever
// blocking. FdWatch polls the selector's own fd (epoll, kqueue) with a uv_poll_t; ThreadWatch
// runs the blocking wait of a select or poll selector on a thread (wait_thread.h) and hears of
// each batch through a uv_async_t.
#include "binding_watch.h"

#include <uv.h>

#include <cerrno>

#include "binding_args.h"
#include "wait_thread.h"

namespace iomux {
namespace {

class FdWatch : public Napi::ObjectWrap<FdWatch> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "FdWatch",
                       {
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
    // The C call, status ignored, for the reason ThreadWatch::OnAsync gives: node-addon-api's
    // wrapper aborts when Node is tearing the environment down and JS can no longer run.
    napi_value argv[1] = {Napi::Number::New(env, status)};
    napi_value result;
    napi_make_callback(env, *self->context_, self->Value(), self->callback_.Value(), 1, argv,
                       &result);
  }

  // start(fd) -> 0, or -errno from uv_poll_init/uv_poll_start (libuv's codes are -errno on
  // Unix): the caller builds the error, as for every other native call.
  Napi::Value Start(const Napi::CallbackInfo& info) {
    if (!expect_ints(info, 0, 1)) return info.Env().Undefined();
    if (poll_ != nullptr || callback_.IsEmpty()) return number(info, -EINVAL);  // started or closed
    uv_loop_t* loop = nullptr;
    if (napi_get_uv_event_loop(info.Env(), &loop) != napi_ok || loop == nullptr)
      return number(info, -EINVAL);
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
    uv_close(reinterpret_cast<uv_handle_t*>(poll_),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
    poll_ = nullptr;
  }

  uv_poll_t* poll_ = nullptr;
  Napi::FunctionReference callback_;
  Napi::ObjectReference self_;
  Napi::AsyncContext* context_ = nullptr;
};

// ThreadWatch: a WaitThread installed in a NativeSelector's backend slot while the loop is
// attached. The selector keeps working through the slot as before (add/modify/remove/wait reach
// the WaitThread); this object owns the uv_async_t that the wait thread signals, and calls JS.
//
// Lifetimes: the WaitThread lives in the slot from start() until close(), which joins its thread
// and puts the original selector back. If the selector is closed first, the WaitThread's
// destructor joins the thread and tells us (thread_gone), and close() then only frees the handle.
class ThreadWatch : public Napi::ObjectWrap<ThreadWatch>, public LoopLink {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "ThreadWatch",
                       {
                           InstanceMethod<&ThreadWatch::Start>("start"),
                           InstanceMethod<&ThreadWatch::Ref>("ref"),
                           InstanceMethod<&ThreadWatch::Unref>("unref"),
                           InstanceMethod<&ThreadWatch::Close>("close"),
                       });
  }

  // new ThreadWatch(onReady); start(nativeSelector) begins; close() stops for good.
  explicit ThreadWatch(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ThreadWatch>(info) {
    if (info.Length() < 1 || !info[0].IsFunction()) {
      throw_arg_type(info.Env(), "(function)");
      return;
    }
    callback_ = Napi::Persistent(info[0].As<Napi::Function>());
    context_ = new Napi::AsyncContext(info.Env(), "iomux.ThreadWatch");
  }

  ~ThreadWatch() override {
    Stop();
    delete context_;
  }

  void batch_ready() override { uv_async_send(async_); }  // async_ outlives the thread (Stop)
  void thread_gone() override { thread_ = nullptr; }

 private:
  static void OnAsync(uv_async_t* handle) {
    auto* self = static_cast<ThreadWatch*>(handle->data);
    if (self == nullptr || self->callback_.IsEmpty()) return;
    {
      Napi::Env env = self->callback_.Env();
      Napi::HandleScope scope(env);
      // The callback runs one iteration, which takes the batch (the selector's wait()). The C
      // call, whose status is ignored: it fails only when JS can no longer run (Node is tearing
      // the environment down and flushing handles), where node-addon-api's wrapper would abort.
      napi_value result;
      napi_make_callback(env, *self->context_, self->Value(), self->callback_.Value(), 0, nullptr,
                         &result);
    }
    // The callback may have closed the watch (detach): then handle->data is null.
    self = static_cast<ThreadWatch*>(handle->data);
    if (self != nullptr && self->thread_ != nullptr) self->thread_->resume();
  }

  // start(nativeSelector) -> 0 or -errno (from eventfd/pipe, pthread_create; -EINVAL when the
  // selector cannot be waited on by a thread, e.g. select's wake fd would be >= FD_SETSIZE).
  Napi::Value Start(const Napi::CallbackInfo& info) {
    SelectorSlot slot = info.Length() < 1 ? SelectorSlot{nullptr, 0} : selector_slot(info[0]);
    if (slot.backend == nullptr) {
      throw_arg_type(info.Env(), "(NativeSelector)");
      return info.Env().Undefined();
    }
    if (async_ != nullptr || callback_.IsEmpty())
      return number(info, -EINVAL);  // started or closed
    if (!*slot.backend) return number(info, -EBADF);
    uv_loop_t* loop = nullptr;
    if (napi_get_uv_event_loop(info.Env(), &loop) != napi_ok || loop == nullptr)
      return number(info, -EINVAL);
    auto* async = new uv_async_t;
    int rc = uv_async_init(loop, async, OnAsync);
    if (rc != 0) {
      delete async;  // never known to libuv
      return number(info, rc);
    }
    async->data = this;
    async_ = async;
    auto thread = std::make_unique<WaitThread>(std::move(*slot.backend), slot.capacity, this);
    rc = thread->start();
    if (rc < 0) {
      *slot.backend = thread->release();
      CloseHandle();
      return number(info, rc);
    }
    thread_ = thread.get();
    *slot.backend = std::move(thread);
    slot_ = slot.backend;
    selector_ = Napi::Persistent(info[0].As<Napi::Object>());  // keeps slot_ valid
    self_ = Napi::Persistent(info.This().As<Napi::Object>());  // alive while libuv holds us
    // A Node environment that ends while attached (process exit, a worker's end) must not keep
    // a thread or a handle: Node runs this hook before it closes its loop.
    if (napi_add_env_cleanup_hook(info.Env(), &ThreadWatch::OnEnvCleanup, this) == napi_ok)
      env_ = info.Env();
    return number(info, 0);
  }

  Napi::Value Ref(const Napi::CallbackInfo& info) {
    if (async_) uv_ref(reinterpret_cast<uv_handle_t*>(async_));
    return info.Env().Undefined();
  }

  Napi::Value Unref(const Napi::CallbackInfo& info) {
    if (async_) uv_unref(reinterpret_cast<uv_handle_t*>(async_));
    return info.Env().Undefined();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Stop();
    callback_.Reset();
    selector_.Reset();
    self_.Reset();
    return info.Env().Undefined();
  }

  static void OnEnvCleanup(void* arg) {
    auto* self = static_cast<ThreadWatch*>(arg);
    self->env_ = nullptr;  // the hook is being run: nothing to remove
    self->Stop();
  }

  // Joins the thread and gives the selector its backend back, then closes the handle.
  void Stop() {
    if (env_ != nullptr) {
      napi_remove_env_cleanup_hook(env_, &ThreadWatch::OnEnvCleanup, this);
      env_ = nullptr;
    }
    if (thread_ != nullptr) {
      WaitThread* thread = thread_;
      thread_ = nullptr;
      std::unique_ptr<Selector> inner = thread->release();
      *slot_ = std::move(inner);  // destroys the WaitThread, which no longer calls us
    }
    slot_ = nullptr;
    CloseHandle();
  }

  void CloseHandle() {
    if (async_ == nullptr) return;
    async_->data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(async_),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_async_t*>(h); });
    async_ = nullptr;
  }

  uv_async_t* async_ = nullptr;
  napi_env env_ = nullptr;        // set while our env cleanup hook is registered
  WaitThread* thread_ = nullptr;  // owned by *slot_ while installed
  std::unique_ptr<Selector>* slot_ = nullptr;
  Napi::FunctionReference callback_;
  Napi::ObjectReference selector_;
  Napi::ObjectReference self_;
  Napi::AsyncContext* context_ = nullptr;
};

// uvHandles() -> the handles open on Node's event loop (closing ones excluded): lets tests check
// that detach() and close() leave no handle of ours behind.
Napi::Value UvHandles(const Napi::CallbackInfo& info) {
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(info.Env(), &loop) != napi_ok || loop == nullptr)
    return number(info, -EINVAL);
  int count = 0;
  uv_walk(
      loop,
      [](uv_handle_t* h, void* arg) {
        if (!uv_is_closing(h)) ++*static_cast<int*>(arg);
      },
      &count);
  return number(info, count);
}

}  // namespace

void InitWatchBindings(Napi::Env env, Napi::Object exports) {
  exports.Set("FdWatch", FdWatch::Define(env));
  exports.Set("ThreadWatch", ThreadWatch::Define(env));
  exports.Set("uvHandles", Napi::Function::New(env, UvHandles, "uvHandles"));
}

}  // namespace iomux
