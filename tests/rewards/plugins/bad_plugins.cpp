// Misbehaving reward plugins for the tests, selected by the BAD_KIND macro at build time.
#include <cmath>
#include <csignal>
#include <cstdio>
#include <unistd.h>

#include "rewards/r1_reward_plugin.h"

extern "C" {

uint32_t r1_reward_abi_version(void) {
#if BAD_KIND == 2
  return 999;  // ABI mismatch
#else
  return R1_REWARD_ABI_VERSION;
#endif
}

void* r1_reward_create(const char*, char*, size_t) { return reinterpret_cast<void*>(1); }

int r1_reward_score(void*, const r1_reward_input* in, double* reward, char* info, size_t info_size) {
#if BAD_KIND == 1
  if (in->completion[0] == 'x') std::raise(SIGSEGV);  // crashes on completions starting with x
  *reward = 0.5;
#elif BAD_KIND == 3
  *reward = NAN;
#else
  *reward = 1.0;
#endif
  std::snprintf(info, info_size, "{}");
  return 0;
}

void r1_reward_destroy(void*) {}
}
