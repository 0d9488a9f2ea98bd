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

// The same checks for callbacks written against the C API (the per-call hot paths, which skip
// node-addon-api's CallbackInfo): argv[0, count) as int32s, else a TypeError and false.
inline bool raw_ints(napi_env env, const napi_value* argv, size_t argc, size_t count, int* out) {
  for (size_t i = 0; i < count; ++i) {
    napi_valuetype type = napi_undefined;
    if (i >= argc || napi_typeof(env, argv[i], &type) != napi_ok || type != napi_number ||
        napi_get_value_int32(env, argv[i], &out[i]) != napi_ok) {
      throw_arg_type(env, "integer arguments");
      return false;
    }
  }
  return true;
}

inline napi_value raw_number(napi_env env, int32_t value) {
  napi_value result = nullptr;
  napi_create_int32(env, value, &result);
  return result;
}

}  // namespace iomux
