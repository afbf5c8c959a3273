// `r1 rollout worker`: a rollout worker process. It connects to a learner's rollout service
// (rollout.backend = "remote"), is sent the learner's model config, tokenizer and weights, and
// samples the groups it is asked for until it is stopped (Ctrl-C) or refused. It reconnects by
// itself when the learner restarts (`r1 train --resume`) and is sent the restored weights.
#include <signal.h>
#include <unistd.h>

#include <iostream>
#include <utility>  // before Boost.Asio 1.74

#include <boost/asio/ip/address.hpp>
#include <memory>

#include "cli/cli_common.h"
#include "policy/device.h"
#include "rl/policy_setup.h"
#include "rl/rollout_service.h"
#include "rollout/rollout_worker.h"
#include "rollout/worker_gate.h"
#include "text/json_value.h"

namespace r1::cli {
namespace {

struct WorkerArgs {
  std::string connect, device = "cpu", token_file, name;
  int64_t threads = 1, slots = 64;
};

// The model this worker samples from, built from the learner's files (its weights follow).
struct AdoptedModel {
  policy::CausalLM model{nullptr};
  text::Tokenizer tokenizer;
  std::unique_ptr<rollout::Engine> engine;
};

rollout::Engine& adopt(AdoptedModel& m, const WorkerArgs& a, torch::Device device, const rollout::wire::ModelFiles& files, rollout::wire::Hello& hello) {
  const policy::ModelConfig config = policy::ModelConfig::from_json(text::parse_json(files.config_json, "the learner's config.json"), "the learner's config.json");
  m.model = policy::CausalLM(config);
  m.model->to(device, files.dtype == "bfloat16" ? torch::kBFloat16 : torch::kFloat32);  // the learner's, as its weights come
  m.model->eval();
  for (auto& p : m.model->parameters()) p.set_requires_grad(false);
  m.tokenizer = text::Tokenizer::from_json(text::parse_json(files.tokenizer_json, "the learner's tokenizer.json"),
                                           text::parse_json(files.tokenizer_config_json, "the learner's tokenizer_config.json"),
                                           "the learner's tokenizer.json");
  rollout::EngineConfig ec;
  ec.max_batch_seqs = a.slots;
  ec.record_routing = files.record_routing;
  m.engine = std::make_unique<rollout::Engine>(m.model, ec, rl::eos_ids(m.tokenizer, config), rl::token_text(m.tokenizer));
  std::tie(hello.model_hash, hello.tokenizer_hash) = rl::file_hashes(files);
  return *m.engine;
}

// Bad arguments are the user's input (exit 2), before any connection is tried.
void check_args(const WorkerArgs& a, rollout::wire::Hello& hello) {
  try {
    const std::string host = rollout::parse_host_port(a.connect, "--connect").first;
    boost::system::error_code ec;
    boost::asio::ip::make_address(host, ec);
    if (ec) throw rollout::ServiceError("--connect " + a.connect + ": \"" + host + "\" is not an IP address");
    hello.token = rl::rollout_token(a.token_file, "--token-file");
  } catch (const rollout::ServiceError& e) {
    throw InputError(e.what());
  }
}

void run_worker(const WorkerArgs& a, const Context& ctx) {
  rollout::RolloutWorker::Options o;
  check_args(a, o.hello);
  install_interrupt_handler();
  signal(SIGPIPE, SIG_IGN);  // a learner gone mid-write is a closed connection, not a dead worker
  policy::set_threads(a.threads);
  const torch::Device device = policy::pick_device(a.device);
  o.connect = a.connect;
  o.hello.slots = a.slots;
  o.hello.threads = a.threads;
  o.hello.device = device.str();
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  o.hello.name = !a.name.empty() ? a.name : std::string(host) + ":" + std::to_string(getpid());
  const bool quiet = ctx.quiet;
  o.log = [quiet](const std::string& line) {
    if (!quiet) std::cerr << line << std::endl;
  };
  AdoptedModel model;
  o.adopt = [&](const rollout::wire::ModelFiles& files, rollout::wire::Hello& hello) -> rollout::Engine& {
    rollout::Engine& e = adopt(model, a, device, files, hello);
    int64_t params = 0;
    for (const auto& p : model.model->parameters()) params += p.numel();
    o.log("rollout worker: model " + hello.model_hash.substr(0, 12) + " (" + std::to_string(params) + " parameters) on " + device.str() + ", " +
          std::to_string(a.slots) + " slots");
    return e;
  };
  rollout::RolloutWorker worker(nullptr, o);
  try {
    worker.run(g_interrupted);
  } catch (const rollout::ServiceError& e) {
    throw JobError(std::string("rollout worker: ") + e.what());
  }
  o.log("rollout worker: stopped after " + std::to_string(worker.groups_served()) + " groups");
}

}  // namespace

void add_rollout_commands(CLI::App& app, Context& ctx) {
  auto* r = app.add_subcommand("rollout", "Rollout workers for a learner whose recipe says rollout.backend = \"remote\"");
  r->require_subcommand(1);
  auto a = std::make_shared<WorkerArgs>();
  auto* w = r->add_subcommand("worker", "Connect to a learner's rollout service and sample the groups it sends (until Ctrl-C)");
  w->add_option("--connect", a->connect, "the learner's rollout service, HOST:PORT (printed by r1 train)")->required();
  w->add_option("--threads", a->threads, "intra-op threads of this worker's engine")->check(CLI::PositiveNumber);
  w->add_option("--device", a->device, "cpu | cuda | auto")->check(CLI::IsMember({"cpu", "cuda", "auto"}));
  w->add_option("--slots", a->slots, "sequences this worker decodes at once")->check(CLI::PositiveNumber);
  w->add_option("--token-file", a->token_file, "file holding the service's token (else $R1_ROLLOUT_TOKEN; needed beyond loopback)");
  w->add_option("--name", a->name, "how the learner's log names this worker (default host:pid)");
  w->callback([a, &ctx] { run_worker(*a, ctx); });
}

}  // namespace r1::cli
