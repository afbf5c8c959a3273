#include "rl/rollout_service.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "dist/process_group.h"
#include "experiments/sha256.h"
#include "text/json_value.h"

namespace fs = std::filesystem;

namespace r1::rl {

namespace {

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw policy::PolicyError(p.string() + ": cannot read it for the rollout workers");
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

rollout::wire::ModelFiles policy_files(const PolicyBundle& policy) {
  rollout::wire::ModelFiles f;
  f.config_json = text::to_json(policy.model->config().to_json());
  const fs::path dir = policy.tokenizer_dir;
  const fs::path tokenizer = fs::is_directory(dir) ? dir / "tokenizer.json" : dir;
  f.tokenizer_json = read_text(tokenizer);
  const fs::path config = tokenizer.parent_path() / "tokenizer_config.json";
  f.tokenizer_config_json = fs::exists(config) ? read_text(config) : "{}";
  f.dtype = policy.model->parameters().front().scalar_type() == torch::kBFloat16 ? "bfloat16" : "float32";
  return f;
}

std::pair<std::string, std::string> file_hashes(const rollout::wire::ModelFiles& files) {
  // The boundaries count ("ab"+"c" is not "a"+"bc"); so do the dtype and the routing record, which
  // a worker's engine is built with.
  std::string model = files.config_json + '\0' + files.dtype + '\0' + (files.record_routing ? "routing" : "");
  std::string tok = files.tokenizer_json + '\0' + files.tokenizer_config_json;
  return {experiments::sha256_text(model), experiments::sha256_text(tok)};
}

std::string rollout_token(const std::string& token_file, const std::string& key) {
  if (token_file.empty()) {
    const char* env = std::getenv("R1_ROLLOUT_TOKEN");
    return env ? env : "";
  }
  std::ifstream in(token_file);
  if (!in) throw rollout::ServiceError(key + " = \"" + token_file + "\": cannot read the token file");
  std::string line;
  std::getline(in, line);
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.pop_back();
  if (line.empty()) throw rollout::ServiceError(key + " = \"" + token_file + "\": the token file's first line is empty");
  return line;
}

std::unique_ptr<rollout::RemoteRollout> start_rollout_service(const Recipe& rc, PolicyBundle& policy, int64_t version,
                                                              const std::atomic<bool>* stop, const std::function<void(const std::string&)>& log) {
  rollout::RemoteRollout::Options o;
  o.stop = stop;
  o.weight_version = version;
  o.gate.listen = rc.rollout.listen;
  o.gate.model = policy_files(policy);
  o.gate.model->record_routing = rc.rl.routing_replay;
  const auto [model_hash, tokenizer_hash] = file_hashes(*o.gate.model);
  o.gate.expected = {model_hash, tokenizer_hash, rollout_token(rc.rollout.token_file, "rollout.token_file")};
  o.gate.log = log;
  o.gate.inflight_update = rc.rollout.inflight_update;
  if (rc.rollout.weight_sync == rollout::WeightSync::c10d) {
    o.c10d_workers = rc.rollout.workers;
    o.c10d_backend = policy.model->parameters().front().is_cuda() && dist::nccl_built() ? "nccl" : "gloo";
    o.c10d_timeout_s = rc.dist.timeout_s;
  }
  o.weight_chunk_bytes = static_cast<size_t>(rc.rollout.weight_chunk_mb * (1 << 20));
  auto service = std::make_unique<rollout::RemoteRollout>(policy.model, std::move(o));
  if (log)
    log("rollout service listening on " + service->address() + ": start workers with `r1 rollout worker --connect " + service->address() + "`");
  return service;
}

}  // namespace r1::rl
