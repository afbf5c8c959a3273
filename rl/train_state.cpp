#include "rl/train_state.h"

#include <filesystem>
#include <fstream>

#include "policy/checkpoint.h"
#include "text/json_value.h"
#include "policy/safetensors.h"

namespace fs = std::filesystem;

namespace r1::rl {

int64_t save_checkpoint(const std::string& dir, policy::CausalLM& model, torch::optim::Optimizer* optimizer,
                        policy::CausalLM* reference, const TrainState& state, const std::string& tokenizer_dir,
                        const MasterWeights* masters, const Critic* critic) {
  text::write_folder_atomically(dir, [&](const std::string& tmp) {
    policy::save_pretrained(model, tmp, torch::kFloat32);
    for (const char* f : {"tokenizer.json", "tokenizer_config.json"}) {
      fs::path src = fs::path(tokenizer_dir) / f;
      if (fs::exists(src)) fs::copy_file(src, fs::path(tmp) / f, fs::copy_options::overwrite_existing);
    }
    if (optimizer) torch::save(*optimizer, tmp + "/optimizer.pt");
    if (masters && masters->active()) policy::save_safetensors(tmp + "/master.safetensors", masters->state());
    if (reference) {
      std::map<std::string, torch::Tensor> ref;
      for (auto& [k, t] : (*reference)->state()) ref[k] = t.detach().to(torch::kCPU, torch::kFloat32);
      fs::create_directories(tmp + "/reference");
      policy::save_safetensors(tmp + "/reference/model.safetensors", ref);
    }
    if (critic) critic->save(tmp);
    text::Value s(text::Value::Object{});
    s.set("step", text::Value(state.step));
    s.set("data_position", text::Value(state.data_position));
    s.set("weight_version", text::Value(state.weight_version));
    s.set("opt_steps", text::Value(state.opt_steps));
    s.set("kl_coef", text::Value(state.kl_coef));
    std::ofstream(tmp + "/trainer_state.json") << text::to_json(s, true, 2) << "\n";
    if (!state.inflight.empty()) std::ofstream(tmp + "/inflight_rollouts.bin", std::ios::binary) << state.inflight;
  });
  int64_t bytes = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) bytes += static_cast<int64_t>(e.file_size());
  return bytes;
}

TrainState load_checkpoint(const std::string& dir, policy::CausalLM& model, torch::optim::Optimizer* optimizer,
                           policy::CausalLM* reference, MasterWeights* masters, Critic* critic) {
  if (!fs::exists(dir + "/trainer_state.json"))
    throw policy::PolicyError(dir + ": not a training checkpoint (no trainer_state.json)");
  auto tensors = policy::load_folder_tensors(dir);
  policy::load_state(model, tensors, dir);
  if (masters && masters->active()) {
    std::string file = dir + "/master.safetensors";
    // A checkpoint of an fp32 run: its weights are the masters.
    masters->load(fs::exists(file) ? policy::load_safetensors(file) : tensors, fs::exists(file) ? file : dir);
  }
  if (optimizer) {
    if (!fs::exists(dir + "/optimizer.pt")) throw policy::PolicyError(dir + "/optimizer.pt: missing");
    torch::load(*optimizer, dir + "/optimizer.pt");
  }
  if (reference) {
    std::string ref = dir + "/reference/model.safetensors";
    if (fs::exists(ref)) policy::load_state(*reference, policy::load_safetensors(ref), ref);
    else policy::load_state(*reference, tensors, dir);  // reference equalled the policy
  }
  if (critic) critic->load(dir);
  text::Value s = text::read_json_file(dir + "/trainer_state.json");
  TrainState st;
  std::string where = dir + "/trainer_state.json";
  st.step = s.get_int("step", where);
  st.data_position = s.get_int("data_position", where);
  st.weight_version = s.get_int("weight_version", where);
  st.opt_steps = s.get_int("opt_steps", where);
  if (s.contains("kl_coef")) st.kl_coef = s.get_double("kl_coef", where);  // older checkpoints: fixed beta
  if (const std::string f = dir + "/inflight_rollouts.bin"; fs::exists(f)) {
    std::ifstream in(f, std::ios::binary);
    st.inflight.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  return st;
}

}  // namespace r1::rl
