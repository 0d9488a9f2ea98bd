// Argument helpers shared by the binding_*.cc files. The TypeScript layer validates every user
// argument before it gets here, so a failed check below is a bug in that layer; it still raises
// an ordinary JS error with Node's `code` (ERR_INVALID_ARG_TYPE, ERR_INVALID_ARG_VALUE) rather
// than crashing or throwing a codeless error.
#pragma once

#include <napi.h>

#include <string>

namespace iomux {

// The C API takes the code directly; the C++ wrappers' Error::New has no code parameter.
inline void throw_arg_type(napi_env env, const std::string& expected) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE",
                        ("iomux native: expected " + expected).c_str());
}

inline void throw_arg_range(napi_env env, const std::string& what) {
  napi_throw_range_error(env, "ERR_INVALID_ARG_VALUE", ("iomux native: " + what).c_str());
}

// True if arguments [from, from + count) are numbers; else throws and returns false.
inline bool expect_ints(const Napi::CallbackInfo& info, size_t from, size_t count) {
  for (size_t i = from; i < from + count; ++i) {
    if (i >= info.Length() || !info[i].IsNumber()) {
      throw_arg_type(info.Env(), "integer arguments");
      return false;
    }
  }
  return true;
}

// Argument i as an int32 (check it with expect_ints first).
inline int int_arg(const Napi::CallbackInfo& info, size_t i) {
  return info[i].As<Napi::Number>().Int32Value();
}

inline Napi::Value number(const Napi::CallbackInfo& info, double value) {
  return Napi::Number::New(info.Env(), value);
}

}  // namespace iomux
