// Shared-library reward plugins (rewards/r1_reward_plugin.h): loaded in-process with dlopen, or
// hosted by a helper process speaking JSON Lines (run_plugin_host) when `isolate = true`.
#include <dlfcn.h>

#include <cmath>
#include <cstring>
#include <iostream>
#include <mutex>

#include "rewards/r1_reward_plugin.h"
#include "rewards/reward.h"

namespace r1::rewards {

namespace {

struct Plugin {
  void* handle = nullptr;
  uint32_t (*abi)(void) = nullptr;
  void* (*create)(const char*, char*, size_t) = nullptr;
  int (*score)(void*, const r1_reward_input*, double*, char*, size_t) = nullptr;
  void (*destroy)(void*) = nullptr;
  int (*score_batch)(void*, const r1_reward_input*, size_t, double*, int*, char*, size_t) = nullptr;  // optional
  void* state = nullptr;

  void open(const std::string& path, const std::string& options, const std::string& where) {
    handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle) throw RewardError(where + ": cannot load plugin " + path + ": " + dlerror());
    abi = reinterpret_cast<uint32_t (*)(void)>(dlsym(handle, "r1_reward_abi_version"));
    create = reinterpret_cast<void* (*)(const char*, char*, size_t)>(dlsym(handle, "r1_reward_create"));
    score = reinterpret_cast<int (*)(void*, const r1_reward_input*, double*, char*, size_t)>(dlsym(handle, "r1_reward_score"));
    destroy = reinterpret_cast<void (*)(void*)>(dlsym(handle, "r1_reward_destroy"));
    score_batch = reinterpret_cast<int (*)(void*, const r1_reward_input*, size_t, double*, int*, char*, size_t)>(
        dlsym(handle, "r1_reward_score_batch"));
    if (!abi || !create || !score || !destroy)
      throw RewardError(where + ": " + path + " is not an r1 reward plugin (missing r1_reward_* functions)");
    if (abi() != R1_REWARD_ABI_VERSION)
      throw RewardError(where + ": " + path + " was built for reward ABI " + std::to_string(abi()) + ", this r1 speaks " +
                        std::to_string(R1_REWARD_ABI_VERSION) + " (rebuild the plugin)");
    char err[512] = {0};
    state = create(options.c_str(), err, sizeof err);
    if (!state) throw RewardError(where + ": plugin " + path + " refused its options: " + err);
  }
  ~Plugin() {
    if (state && destroy) destroy(state);
    if (handle) dlclose(handle);
  }

  static r1_reward_input input_of(const TaskRef& t, const CompletionRef& c) {
    return {t.id.c_str(), t.prompt.c_str(), t.answer.c_str(),      t.tests_json.c_str(),
            t.metadata_json.c_str(), c.text.c_str(), c.tokens, c.finish_reason.c_str()};
  }

  std::vector<RewardValue> call_batch(const std::vector<const TaskRef*>& tasks, const std::vector<const CompletionRef*>& cs) {
    const size_t n = cs.size(), info_size = 4096;
    std::vector<r1_reward_input> in;
    for (size_t i = 0; i < n; ++i) in.push_back(input_of(*tasks[i], *cs[i]));
    std::vector<double> rewards(n, 0.0);
    std::vector<int> status(n, 0);
    std::string infos(n * info_size, '\0');
    int rc = score_batch(state, in.data(), n, rewards.data(), status.data(), infos.data(), info_size);
    std::vector<RewardValue> out(n);
    for (size_t i = 0; i < n; ++i) {
      infos[(i + 1) * info_size - 1] = '\0';  // whatever the plugin wrote, each info ends in its slot
      std::string info(infos.c_str() + i * info_size);
      if (rc != 0) out[i] = {0, "{}", "plugin batch call failed: " + info};
      else if (status[i] != 0) out[i] = {0, "{}", "plugin failed: " + info};
      else if (!std::isfinite(rewards[i])) out[i] = {0, "{}", "plugin returned a non-finite reward"};
      else out[i] = {rewards[i], info.empty() ? std::string("{}") : info, ""};
    }
    return out;
  }

  RewardValue call(const TaskRef& t, const CompletionRef& c) {
    r1_reward_input in = input_of(t, c);
    double r = 0;
    char info[4096] = {0};
    int rc = score(state, &in, &r, info, sizeof info - 1);
    if (rc != 0) return {0, "{}", std::string("plugin failed: ") + info};
    if (!std::isfinite(r)) return {0, "{}", "plugin returned a non-finite reward"};
    return {r, info[0] ? std::string(info) : std::string("{}"), ""};
  }
};

class InProcessPlugin : public RewardFunction {
 public:
  InProcessPlugin(const std::string& path, const std::string& options, const std::string& where) {
    plugin_.open(path, options, where);
  }
  RewardValue score(const TaskRef& t, const CompletionRef& c) override {
    std::lock_guard lock(mu_);
    return plugin_.call(t, c);
  }
  bool thread_safe() const override { return false; }
  bool batched() const override { return plugin_.score_batch != nullptr; }
  std::vector<RewardValue> score_batch(const std::vector<const TaskRef*>& tasks,
                                       const std::vector<const CompletionRef*>& completions) override {
    std::lock_guard lock(mu_);
    return plugin_.call_batch(tasks, completions);
  }

 private:
  Plugin plugin_;
  std::mutex mu_;
};

}  // namespace

std::unique_ptr<RewardFunction> make_plugin_reward(const std::string& path, const std::string& options_json,
                                                   const std::string& where) {
  return std::make_unique<InProcessPlugin>(path, options_json, where);
}

int run_plugin_host(const std::string& plugin_path, const std::string& options_json) {
  // One request line in, one reply line out, until stdin closes.
  Plugin p;
  try {
    p.open(plugin_path, options_json, "reward host");
  } catch (const std::exception& e) {
    std::cerr << e.what() << "\n";
    return 2;
  }
  std::string line;
  while (std::getline(std::cin, line)) {
    TaskRef t;
    CompletionRef c;
    std::string err;
    if (!json_decode_request(line, t, c, err)) {
      std::cout << "{\"error\": " << json_quote(err) << "}" << std::endl;
      continue;
    }
    RewardValue v = p.call(t, c);
    if (!v.error.empty()) std::cout << "{\"error\": " << json_quote(v.error) << "}" << std::endl;
    else {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.17g", v.value);
      std::cout << "{\"reward\": " << buf << ", \"info\": " << v.info_json << "}" << std::endl;
    }
  }
  return 0;
}

}  // namespace r1::rewards
