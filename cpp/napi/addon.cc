// The export list of the addon. Each Init* adds one family of functions (see the other files here).
#include <napi.h>

namespace bitflash::napi {
void InitInfo(Napi::Env env, Napi::Object exports);
void InitQuant(Napi::Env env, Napi::Object exports);
void InitRoofline(Napi::Env env, Napi::Object exports);
void InitQuantLowbit(Napi::Env env, Napi::Object exports);
void InitMatmul(Napi::Env env, Napi::Object exports);
void InitGraph(Napi::Env env, Napi::Object exports);
void InitTernary(Napi::Env env, Napi::Object exports);
void InitDyadic(Napi::Env env, Napi::Object exports);
void InitFaults(Napi::Env env, Napi::Object exports);  // test-only, inert unless BITFLASH_FAULT_INJECTION=1
}  // namespace bitflash::napi

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  bitflash::napi::InitInfo(env, exports);
  bitflash::napi::InitQuant(env, exports);
  bitflash::napi::InitRoofline(env, exports);
  bitflash::napi::InitQuantLowbit(env, exports);
  bitflash::napi::InitMatmul(env, exports);
  bitflash::napi::InitGraph(env, exports);
  bitflash::napi::InitTernary(env, exports);
  bitflash::napi::InitDyadic(env, exports);
  bitflash::napi::InitFaults(env, exports);
  return exports;
}

NODE_API_MODULE(bitflash, Init)
