// N-API glue for the selectors: SelectorWrap owns one backend and the Int32Array that wait()
// fills. Only plain numbers cross back on the hot path; the TypeScript side builds every error.
#include <napi.h>
#include <sys/select.h>

#include <climits>
#include <cmath>
#include <cstring>

#include "binding_args.h"
#include "binding_datagram.h"
#include "binding_resolver.h"
#include "binding_socket.h"
#include "binding_watch.h"
#include "selector.h"

namespace iomux {
namespace {

enum BackendId { kSelect = 0, kPoll = 1, kEpoll = 2, kKqueue = 3 };

int make_backend(int id, std::unique_ptr<Selector>* out) {
  switch (id) {
    case kSelect: return make_select_selector(out);
    case kPoll: return make_poll_selector(out);
#ifdef IOMUX_HAVE_EPOLL
    case kEpoll: return make_epoll_selector(out);
#endif
#ifdef IOMUX_HAVE_KQUEUE
    case kKqueue: return make_kqueue_selector(out);
#endif
    default: return -ENOSYS;
  }
}

// Marks NativeSelector objects, so selector_slot() never unwraps an object of another class.
const napi_type_tag kSelectorTag = {0x696f6d7578736c63ULL, 0x5f73656c6563746fULL};

class SelectorWrap : public Napi::ObjectWrap<SelectorWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NativeSelector",
                       {
                           InstanceMethod<&SelectorWrap::Open>("open"),
                           InstanceMethod<&SelectorWrap::Add>("add"),
                           InstanceMethod<&SelectorWrap::Modify>("modify"),
                           InstanceMethod<&SelectorWrap::Remove>("remove"),
                           InstanceMethod<&SelectorWrap::Wait>("wait"),
                           InstanceMethod<&SelectorWrap::Close>("close"),
                           InstanceMethod<&SelectorWrap::BackendFd>("backendFd"),
                       });
  }

  // new NativeSelector(results: Int32Array): wait() writes (fd, mask) pairs into `results`.
  explicit SelectorWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<SelectorWrap>(info) {
    info.This().As<Napi::Object>().TypeTag(&kSelectorTag);  // for selector_slot()
    if (info.Length() < 1 || !info[0].IsTypedArray() ||
        info[0].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) {
      throw_arg_type(info.Env(), "an Int32Array");
      return;
    }
    auto results = info[0].As<Napi::Int32Array>();
    results_ref_ = Napi::Persistent(results);
    results_ = results.Data();
    capacity_ = int(results.ElementLength() / 2);
  }

  ~SelectorWrap() override {
    if (backend_) backend_->close();
  }

 private:
  Napi::Value Open(const Napi::CallbackInfo& info) {
    if (!expect_ints(info, 0, 1)) return info.Env().Undefined();
    return number(info, make_backend(info[0].As<Napi::Number>().Int32Value(), &backend_));
  }

  Napi::Value Add(const Napi::CallbackInfo& info) {
    if (!backend_) return number(info, -EBADF);
    if (!expect_ints(info, 0, 2)) return info.Env().Undefined();
    return number(info, backend_->add(int_arg(info, 0), int_arg(info, 1)));
  }

  Napi::Value Modify(const Napi::CallbackInfo& info) {
    if (!backend_) return number(info, -EBADF);
    if (!expect_ints(info, 0, 2)) return info.Env().Undefined();
    return number(info, backend_->modify(int_arg(info, 0), int_arg(info, 1)));
  }

  Napi::Value Remove(const Napi::CallbackInfo& info) {
    if (!backend_) return number(info, -EBADF);
    if (!expect_ints(info, 0, 1)) return info.Env().Undefined();
    return number(info, backend_->remove(int_arg(info, 0)));
  }

  // wait(timeoutMs) -> count of pairs in the results array, or -errno. Timeout already rounded
  // and saturated by TS: -1 forever, 0 poll, else whole milliseconds up to INT_MAX.
  Napi::Value Wait(const Napi::CallbackInfo& info) {
    if (!backend_) return number(info, -EBADF);
    if (!expect_ints(info, 0, 1)) return info.Env().Undefined();
    return number(info, backend_->wait(int_arg(info, 0), results_, capacity_));
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    if (backend_) backend_->close();
    backend_.reset();
    return info.Env().Undefined();
  }

  Napi::Value BackendFd(const Napi::CallbackInfo& info) {
    return number(info, backend_ ? backend_->backendFd() : -1);
  }

  friend SelectorSlot iomux::selector_slot(Napi::Value value);

  std::unique_ptr<Selector> backend_;
  Napi::Reference<Napi::Int32Array> results_ref_;
  int32_t* results_ = nullptr;
  int capacity_ = 0;
};

}  // namespace

SelectorSlot selector_slot(Napi::Value value) {
  if (!value.IsObject() || !value.As<Napi::Object>().CheckTypeTag(&kSelectorTag))
    return {nullptr, 0};
  SelectorWrap* wrap = SelectorWrap::Unwrap(value.As<Napi::Object>());
  if (wrap == nullptr) return {nullptr, 0};
  return {&wrap->backend_, wrap->capacity_};
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("NativeSelector", SelectorWrap::Define(env));
  Napi::Array backends = Napi::Array::New(env);
  uint32_t n = 0;
  backends.Set(n++, "select");
  backends.Set(n++, "poll");
#ifdef IOMUX_HAVE_EPOLL
  backends.Set(n++, "epoll");
#endif
#ifdef IOMUX_HAVE_KQUEUE
  backends.Set(n++, "kqueue");
#endif
  exports.Set("backends", backends);
  exports.Set("FD_SETSIZE", Napi::Number::New(env, FD_SETSIZE));
  InitSocketBindings(env, exports);
  InitDatagramBindings(env, exports);
  InitResolverBindings(env, exports);
  InitWatchBindings(env, exports);
  return exports;
}

}  // namespace iomux

// NODE_API_MODULE pastes its second argument into an identifier, so it takes an unqualified name.
static Napi::Object InitIomux(Napi::Env env, Napi::Object exports) {
  return iomux::Init(env, exports);
}
NODE_API_MODULE(iomux, InitIomux)
