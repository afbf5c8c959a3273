// Example reward plugin (C ABI, rewards/r1_reward_plugin.h): 1 when the final answer is a prime
// number, 0 otherwise. Option: "min" (integer, default 2) — primes below it do not count.
// Build: c++ -shared -fPIC -O2 -I<r1forge> prime_reward.cpp -o libprime_reward.so
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "rewards/r1_reward_plugin.h"

namespace {

struct State {
  long long min = 2;
};

// The last integer in the text (inside <answer> tags when there are some).
bool last_integer(const std::string& text, long long& out) {
  std::string t = text;
  size_t a = t.rfind("<answer>");
  if (a != std::string::npos) t = t.substr(a);
  bool found = false;
  for (size_t i = 0; i < t.size();) {
    if (t[i] >= '0' && t[i] <= '9') {
      size_t j = i;
      while (j < t.size() && t[j] >= '0' && t[j] <= '9') ++j;
      if (j - i < 18) {
        out = std::atoll(t.substr(i, j - i).c_str());
        found = true;
      }
      i = j;
    } else {
      ++i;
    }
  }
  return found;
}

bool is_prime(long long n) {
  if (n < 2) return false;
  for (long long d = 2; d * d <= n; ++d)
    if (n % d == 0) return false;
  return true;
}

}  // namespace

extern "C" {

uint32_t r1_reward_abi_version(void) { return R1_REWARD_ABI_VERSION; }

void* r1_reward_create(const char* options_json, char* error, size_t error_size) {
  auto* s = new State;
  // Tiny option parsing to stay dependency-free: {"min": N}.
  const char* m = std::strstr(options_json, "\"min\"");
  if (m) {
    const char* colon = std::strchr(m, ':');
    if (!colon) {
      std::snprintf(error, error_size, "option min needs a value");
      delete s;
      return nullptr;
    }
    s->min = std::atoll(colon + 1);
  }
  return s;
}

int r1_reward_score(void* state, const r1_reward_input* in, double* reward, char* info, size_t info_size) {
  auto* s = static_cast<State*>(state);
  long long n = 0;
  if (!last_integer(in->completion, n)) {
    *reward = 0.0;
    std::snprintf(info, info_size, "{\"answer\": null}");
    return 0;
  }
  bool ok = n >= s->min && is_prime(n);
  *reward = ok ? 1.0 : 0.0;
  std::snprintf(info, info_size, "{\"answer\": %lld, \"prime\": %s}", n, ok ? "true" : "false");
  return 0;
}

// The batch entry point: the same rule over a whole step; info says which path scored it.
int r1_reward_score_batch(void* state, const r1_reward_input* inputs, size_t n, double* rewards, int* status, char* infos,
                          size_t info_size) {
  for (size_t i = 0; i < n; ++i) {
    char* info = infos + i * info_size;
    status[i] = r1_reward_score(state, &inputs[i], &rewards[i], info, info_size);
    size_t len = std::strlen(info);
    if (status[i] == 0 && len > 1 && info[len - 1] == '}' && len + 16 < info_size)
      std::snprintf(info + len - 1, info_size - len + 1, ", \"batch\": true}");
  }
  return 0;
}

void r1_reward_destroy(void* state) { delete static_cast<State*>(state); }

}  // extern "C"
