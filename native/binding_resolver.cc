// N-API glue for resolver.h. resolverTake returns undefined while the lookup runs, else
// { status, errno, addresses: [family, host, family, host, ...] }; the TS side builds errors.
#include "binding_resolver.h"

#include <netdb.h>

#include "binding_args.h"
#include "resolver.h"

namespace iomux {
namespace {

// resolverStart(host, family, wakeFd) -> id
Napi::Value Start(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsString()) {
    throw_arg_type(info.Env(), "(host, family, wakeFd)");
    return info.Env().Undefined();
  }
  if (!expect_ints(info, 1, 2)) return info.Env().Undefined();
  return number(info, resolver_start(info[0].As<Napi::String>().Utf8Value(), int_arg(info, 1),
                                     int_arg(info, 2)));
}

Napi::Value Take(const Napi::CallbackInfo& info) {
  if (!expect_ints(info, 0, 1)) return info.Env().Undefined();
  int status = 0, sys_errno = 0;
  std::vector<ResolvedAddress> out;
  int rc = resolver_take(int_arg(info, 0), &status, &sys_errno, &out);
  if (rc <= 0) return rc == 0 ? info.Env().Undefined() : number(info, -1);
  Napi::Array addresses = Napi::Array::New(info.Env(), out.size() * 2);
  for (size_t i = 0; i < out.size(); ++i) {
    addresses.Set(uint32_t(2 * i), out[i].family);
    addresses.Set(uint32_t(2 * i + 1), out[i].host);
  }
  Napi::Object result = Napi::Object::New(info.Env());
  result.Set("status", status);
  result.Set("errno", sys_errno);
  result.Set("addresses", addresses);
  return result;
}

Napi::Value Cancel(const Napi::CallbackInfo& info) {
  if (!expect_ints(info, 0, 1)) return info.Env().Undefined();
  resolver_cancel(int_arg(info, 0));
  return info.Env().Undefined();
}

}  // namespace

void InitResolverBindings(Napi::Env env, Napi::Object exports) {
  exports.Set("resolverStart", Napi::Function::New(env, Start, "resolverStart"));
  exports.Set("resolverTake", Napi::Function::New(env, Take, "resolverTake"));
  exports.Set("resolverCancel", Napi::Function::New(env, Cancel, "resolverCancel"));
  Napi::Object c = Napi::Object::New(env);
  c.Set("EAI_AGAIN", EAI_AGAIN);
  c.Set("EAI_FAIL", EAI_FAIL);
  c.Set("EAI_FAMILY", EAI_FAMILY);
  c.Set("EAI_MEMORY", EAI_MEMORY);
  c.Set("EAI_NONAME", EAI_NONAME);
  c.Set("EAI_SERVICE", EAI_SERVICE);
  c.Set("EAI_SYSTEM", EAI_SYSTEM);
#ifdef EAI_NODATA
  c.Set("EAI_NODATA", EAI_NODATA);
#endif
#ifdef EAI_ADDRFAMILY
  c.Set("EAI_ADDRFAMILY", EAI_ADDRFAMILY);
#endif
  exports.Set("eaiConstants", c);
}

}  // namespace iomux
