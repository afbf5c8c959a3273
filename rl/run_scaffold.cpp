#include "rl/run_scaffold.h"

#include <chrono>
#include <filesystem>

#include "text/value_binder.h"
#include "experiments/sha256.h"
#include "dist/process_group.h"
#include "policy/device.h"

namespace fs = std::filesystem;

namespace r1::rl {

namespace {

double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

}  // namespace

RunScaffold::RunScaffold(const Recipe& recipe, int64_t run_id, experiments::RunStore& store, const TrainEnv& env)
    : recipe_(recipe), run_id_(run_id), store_(store), env_(env), seed_(static_cast<uint64_t>(recipe.run.seed)) {
  torch::manual_seed(seed_);
  policy::set_threads(recipe.run.threads);
  device_ = policy::pick_device(std::string(text::enum_to_name(recipe.run.device)));
  // Several ranks on CUDA: each drives the GPU of its LOCAL_RANK (the one its NCCL group is on).
  if (env.group && env.group->size() > 1 && device_.is_cuda()) device_ = dist::rank_cuda_device(env.group->env());
  // CPU: every kernel we use has a deterministic form. CUDA's index_add_ and friends do not, and
  // forcing them would stop the run, so there the flag is left to the kernels' defaults.
  policy::set_deterministic(recipe.run.deterministic && device_.is_cpu());
  const std::string name = store.get_run(run_id).name;
  ckpt_root_ = (fs::path(recipe.run.out_dir) / (name + "-" + std::to_string(run_id))).string();
  t_start_ = now_s();
}

void RunScaffold::log(const std::string& line) const {
  if (env_.log) env_.log(line);
}

std::optional<TrainState> RunScaffold::resume(const CheckpointParts& p) {
  std::optional<TrainState> st;
  auto ckpts = store_.checkpoints(run_id_);
  if (!ckpts.empty()) {
    const auto& last = ckpts.back();
    st = load_checkpoint(last.path, *p.model, p.optimizer, p.reference, p.masters, p.critic);
    if (!writer()) return st;  // every rank loads the same checkpoint; rank 0 alone edits the store
    store_.truncate_after(run_id_, st->step);
    log("resumed run " + std::to_string(run_id_) + " from step " + std::to_string(st->step) + " (" + last.path + ")");
  } else {
    if (!writer()) return st;
    store_.truncate_after(run_id_, 0);
    log("run " + std::to_string(run_id_) + " has no checkpoint: starting from step 0");
  }
  store_.set_status(run_id_, experiments::RunStatus::running);
  return st;
}

std::string RunScaffold::save(int64_t step, TrainState& state, const CheckpointParts& p) {
  state.step = step;
  if (!writer()) return "";  // the ranks hold the same weights and optimizer state: rank 0 saves them
  char name[32];
  std::snprintf(name, sizeof name, "step-%06lld", static_cast<long long>(step));
  const std::string dir = (fs::path(ckpt_root_) / name).string();
  state.step = step;
  int64_t bytes = save_checkpoint(dir, *p.model, p.optimizer, p.reference, state, p.tokenizer_dir, p.masters, p.critic);
  store_.add_checkpoint(run_id_, {step, dir, experiments::sha256_file(dir + "/model.safetensors"), bytes});
  if (recipe_.run.keep_checkpoints > 0) {
    auto all = store_.checkpoints(run_id_);
    for (size_t i = 0; i + static_cast<size_t>(recipe_.run.keep_checkpoints) < all.size(); ++i) {
      std::error_code e;
      fs::remove_all(all[i].path, e);
      store_.remove_checkpoint(run_id_, all[i].step);
    }
  }
  log("checkpoint " + dir);
  return dir;
}

std::string RunScaffold::save_if_new(int64_t step, TrainState& state, const CheckpointParts& p) {
  auto ckpts = store_.checkpoints(run_id_);
  if (step == 0 || (!ckpts.empty() && ckpts.back().step == step)) return "";
  return save(step, state, p);
}

void RunScaffold::start_steps() { t_start_ = now_s(); }

void RunScaffold::report(int64_t step, const std::map<std::string, double>& metrics, int64_t first_step) const {
  if (!env_.on_step || !writer()) return;
  StepReport rep;
  rep.step = step;
  rep.total = recipe_.run.steps;
  rep.metrics = metrics;
  rep.elapsed_s = now_s() - t_start_;
  rep.eta_s = rep.elapsed_s / std::max<int64_t>(1, step - first_step) * (recipe_.run.steps - step);
  env_.on_step(rep);
}

}  // namespace r1::rl
