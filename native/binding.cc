// N-API glue for the selectors: SelectorWrap owns one backend and the Int32Array that wait()
// fills. Only plain numbers cross back on the hot path; the TypeScript side builds every error.
#include <napi.h>
#include <sys/select.h>

#include <climits>
#include <cmath>
#include <cstring>
#include <memory>

#include "batch_io.h"
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
  static constexpr size_t kHotArgs = 3;  // the most any hot method takes (cycle)

 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NativeSelector",
                       {
                           InstanceMethod<&SelectorWrap::Open>("open"),
                           InstanceMethod<&SelectorWrap::Add>("add"),
                           InstanceMethod<&SelectorWrap::Modify>("modify"),
                           InstanceMethod<&SelectorWrap::Remove>("remove"),
                           InstanceMethod<&SelectorWrap::Close>("close"),
                           InstanceMethod<&SelectorWrap::BackendFd>("backendFd"),
                           InstanceMethod<&SelectorWrap::BatchInit>("batchInit"),
                           InstanceMethod<&SelectorWrap::BatchMarks>("batchMarks"),
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
    DefineHotMethods(info.Env(), info.This().As<Napi::Object>());
  }

  ~SelectorWrap() override {
    if (link_) link_->wrap = nullptr;
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

  // The methods a loop calls every iteration (wait, cycle, flush) are each selector's own
  // functions, made with a link to the wrap as their data, not prototype methods: a prototype
  // method finds its wrap with napi_unwrap, a private-symbol property lookup in the V8 runtime,
  // and that lookup showed up at ~5% of a busy raw selector loop's CPU in a profile (the pipes
  // bench at A=1: one wait per ready fd). The link, not the wrap, is the data because a function
  // can outlive the object it was read from: calling it then is an EBADF, not a freed pointer.
  struct Link {
    SelectorWrap* wrap;
  };
  using HotMethod = napi_value (SelectorWrap::*)(napi_env, const napi_value*, size_t);

  template <HotMethod Method>
  static napi_value CallHot(napi_env env, napi_callback_info cbinfo) {
    size_t argc = kHotArgs;
    napi_value argv[kHotArgs];
    void* data = nullptr;
    if (napi_get_cb_info(env, cbinfo, &argc, argv, nullptr, &data) != napi_ok) return nullptr;
    SelectorWrap* wrap = static_cast<std::shared_ptr<Link>*>(data)->get()->wrap;
    if (wrap == nullptr) return raw_number(env, -EBADF);
    return (wrap->*Method)(env, argv, argc);
  }

  void DefineHotMethods(Napi::Env env, Napi::Object self) {
    link_ = std::make_shared<Link>(Link{this});
    DefineHot<&SelectorWrap::Wait>(env, self, "wait");
    DefineHot<&SelectorWrap::Cycle>(env, self, "cycle");
    DefineHot<&SelectorWrap::Flush>(env, self, "flush");
  }

  template <HotMethod Method>
  void DefineHot(Napi::Env env, Napi::Object self, const char* name) {
    auto* data = new std::shared_ptr<Link>(link_);
    napi_value fn = nullptr;
    if (napi_create_function(env, name, NAPI_AUTO_LENGTH, CallHot<Method>, data, &fn) != napi_ok ||
        napi_add_finalizer(env, fn, data, DropLink, nullptr, nullptr) != napi_ok) {
      delete data;
      return;  // a pending exception: the constructor throws it
    }
    self.Set(name, Napi::Value(env, fn));
  }

  static void DropLink(napi_env, void* data, void*) {
    delete static_cast<std::shared_ptr<Link>*>(data);
  }

  // wait(timeoutMs) -> count of pairs in the results array, or -errno. Timeout already rounded
  // and saturated by TS: -1 forever, 0 poll, else whole milliseconds up to INT_MAX.
  napi_value Wait(napi_env env, const napi_value* argv, size_t argc) {
    if (!backend_) return raw_number(env, -EBADF);
    int timeout = 0;
    if (!raw_ints(env, argv, argc, 1, &timeout)) return nullptr;
    return raw_number(env, backend_->wait(timeout, results_, capacity_));
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    if (backend_) backend_->close();
    backend_.reset();
    return info.Env().Undefined();
  }

  Napi::Value BackendFd(const Napi::CallbackInfo& info) {
    return number(info, backend_ ? backend_->backendFd() : -1);
  }

  // batchInit(records: Int32Array, writes: Int32Array, writeSlab: Uint8Array, state: Int32Array)
  // pins the batched path's shared memory (batch_io.h); state[0] carries the read slab offset.
  Napi::Value BatchInit(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 4 || !is_typed(info[0], napi_int32_array) ||
        !is_typed(info[1], napi_int32_array) || !is_typed(info[2], napi_uint8_array) ||
        !is_typed(info[3], napi_int32_array) ||
        info[3].As<Napi::Int32Array>().ElementLength() < 1) {
      throw_arg_type(env, "(Int32Array, Int32Array, Uint8Array, Int32Array)");
      return env.Undefined();
    }
    auto records = info[0].As<Napi::Int32Array>();
    auto writes = info[1].As<Napi::Int32Array>();
    auto write_slab = info[2].As<Napi::Uint8Array>();
    auto state = info[3].As<Napi::Int32Array>();
    records_ref_ = Napi::Persistent(records);
    writes_ref_ = Napi::Persistent(writes);
    write_slab_ref_ = Napi::Persistent(write_slab);
    state_ref_ = Napi::Persistent(state);
    state_ = state.Data();
    batch_.set_slab_guard(&SelectorWrap::SlabGuard, this);
    batch_.set_buffers(records.Data(), int(records.ElementLength() / kRecordInts), writes.Data(),
                       int(writes.ElementLength() / kWriteInts),
                       {write_slab.Data(), write_slab.ByteLength()});
    return env.Undefined();
  }

  // batchMarks(marks: Int32Array): the per-fd auto-read marks JS keeps (batch_io.h); a larger
  // array replaces a smaller one when fds outgrow it.
  Napi::Value BatchMarks(const Napi::CallbackInfo& info) {
    if (info.Length() < 1 || !is_typed(info[0], napi_int32_array)) {
      throw_arg_type(info.Env(), "an Int32Array of marks");
      return info.Env().Undefined();
    }
    auto marks = info[0].As<Napi::Int32Array>();
    marks_ref_ = Napi::Persistent(marks);
    batch_.set_marks(marks.Data(), marks.ElementLength());
    return info.Env().Undefined();
  }

  // cycle(timeoutMs, writeCount, readSlab?) -> record count or -errno: flushes the queued
  // writes, takes a new read slab if one is given (after the flush: queued writes may point into
  // the old one), waits and auto-reads from state[0] on. See batch_io.h. Every argument is
  // checked before the flush: a call that throws has sent nothing, so the caller, which books
  // no results when it throws, never sends the same writes twice.
  napi_value Cycle(napi_env env, const napi_value* argv, size_t argc) {
    if (!backend_) return raw_number(env, -EBADF);
    if (!batch_.ready()) return raw_number(env, -EINVAL);
    int ints[2] = {0, 0};
    if (!raw_ints(env, argv, argc, 2, ints)) return nullptr;
    napi_valuetype slab_type = napi_undefined;
    if (argc > 2 && napi_typeof(env, argv[2], &slab_type) != napi_ok) return nullptr;
    const bool new_slab = slab_type != napi_undefined;
    if (new_slab && !is_typed(Napi::Value(env, argv[2]), napi_uint8_array)) {
      throw_arg_type(env, "a Uint8Array read slab");
      return nullptr;
    }
    int timeout = ints[0];
    const int write_count = ints[1];
    batch_.begin_call();
    if (write_count > 0 && !batch_.flush(write_count)) timeout = 0;
    if (new_slab) {
      auto slab = Napi::Value(env, argv[2]).As<Napi::Uint8Array>();
      read_slab_buffer_ = Napi::Persistent(slab.ArrayBuffer());
      batch_.set_read_slab({slab.Data(), slab.ByteLength()});
    }
    return raw_number(env, batch_.wait_and_read(backend_.get(), timeout, &state_[0]));
  }

  // flush(writeCount) -> 1 if every write went out whole, else 0: for a full write queue.
  napi_value Flush(napi_env env, const napi_value* argv, size_t argc) {
    if (!batch_.ready()) return raw_number(env, -EINVAL);
    int write_count = 0;
    if (!raw_ints(env, argv, argc, 1, &write_count)) return nullptr;
    batch_.begin_call();
    return raw_number(env, batch_.flush(write_count) ? 1 : 0);
  }

  // The read slab is the one pinned buffer user code holds views of (a transport's
  // dataReceived() gets them), and user code may detach its ArrayBuffer: postMessage() or
  // structuredClone() with a transfer list. Its memory then belongs to the receiving buffer, or
  // is freed with it. So every call that uses the slab first asks whether it is still attached
  // (batch_io.h, set_slab_guard: once per call, and only if the call uses it), and forgets a
  // detached one: auto-reads are then kNoRoom and writes from it -EINVAL (batch_io.cc checks
  // both), as before the first slab. Nothing else can move or shrink it: src/batch-io.ts makes
  // its slabs with Buffer.allocUnsafeSlow(), never resizable.
  static void SlabGuard(void* self) {
    auto* wrap = static_cast<SelectorWrap*>(self);
    wrap->check_read_slab(wrap->Env());
  }

  void check_read_slab(napi_env env) {
    bool detached = false;
    if (read_slab_buffer_.IsEmpty() ||
        napi_is_detached_arraybuffer(env, read_slab_buffer_.Value(), &detached) != napi_ok ||
        !detached)
      return;
    read_slab_buffer_.Reset();
    batch_.set_read_slab({});
  }

  static bool is_typed(Napi::Value v, napi_typedarray_type type) {
    return v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == type;
  }

  friend SelectorSlot iomux::selector_slot(Napi::Value value);

  std::unique_ptr<Selector> backend_;
  Napi::Reference<Napi::Int32Array> results_ref_;
  int32_t* results_ = nullptr;
  int capacity_ = 0;
  BatchIo batch_;
  Napi::Reference<Napi::Int32Array> records_ref_;
  Napi::Reference<Napi::Int32Array> writes_ref_;
  Napi::Reference<Napi::Uint8Array> write_slab_ref_;
  Napi::Reference<Napi::Int32Array> state_ref_;
  Napi::Reference<Napi::ArrayBuffer> read_slab_buffer_;  // see check_read_slab()
  Napi::Reference<Napi::Int32Array> marks_ref_;
  int32_t* state_ = nullptr;
  std::shared_ptr<Link> link_;  // DefineHotMethods(); its wrap is cleared when this one goes
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
