#include "dist/process_group.h"

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <thread>

namespace r1::dist {
namespace {

std::chrono::milliseconds millis(double seconds) { return std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000)); }

bool is_loopback(const std::string& addr) { return addr == "localhost" || addr.rfind("127.", 0) == 0 || addr == "::1"; }

// The network device Gloo binds: GLOO_SOCKET_IFNAME when set (as in PyTorch), loopback for a job on
// one machine's loopback, else the address this host's name resolves to.
std::shared_ptr<::gloo::transport::Device> gloo_device(const LaunchEnv& env) {
  if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME"); ifname && *ifname)
    return c10d::ProcessGroupGloo::createDeviceForInterface(ifname);
  if (is_loopback(env.master_addr)) return c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1");
  return c10d::ProcessGroupGloo::createDefaultDevice();
}

c10d::ProcessGroupGloo& gloo(const std::shared_ptr<void>& p) { return **static_cast<c10::intrusive_ptr<c10d::ProcessGroupGloo>*>(p.get()); }

c10d::ReduceOp c10d_op(ReduceOp op) {
  switch (op) {
    case ReduceOp::max: return c10d::ReduceOp::MAX;
    case ReduceOp::min: return c10d::ReduceOp::MIN;
    default: return c10d::ReduceOp::SUM;
  }
}

std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }

}  // namespace

ProcessGroup::ProcessGroup(const LaunchEnv& env, const DistOptions& options) : env_(env), options_(options) {
  if (!env_.distributed()) return;
  const std::string master = env_.master_addr + ":" + std::to_string(env_.master_port);
  try {
    c10d::TCPStoreOptions so;
    so.port = static_cast<uint16_t>(env_.master_port);
    so.isServer = env_.rank == 0 && !env_.agent_store;
    so.numWorkers = env_.world_size;
    so.waitWorkers = false;
    so.timeout = millis(options_.timeout_s);
    auto tcp = c10::make_intrusive<c10d::TCPStore>(env_.master_addr, so);
    // A prefix of our own: torchrun's agent keeps its own keys in the same store.
    store_ = c10::make_intrusive<c10d::PrefixStore>("r1forge/", tcp);
    auto go = c10d::ProcessGroupGloo::Options::create(millis(options_.timeout_s));
    go->devices.push_back(gloo_device(env_));
    group_ = std::make_shared<c10::intrusive_ptr<c10d::ProcessGroupGloo>>(
        c10::make_intrusive<c10d::ProcessGroupGloo>(store_, env_.rank, env_.world_size, go));
    // Who this rank is, for the others' error message if it dies.
    char host[256] = {0};
    gethostname(host, sizeof host - 1);
    const std::string me = std::string(host) + " " + std::to_string(getpid());
    store_->set("rank/" + std::to_string(env_.rank), std::vector<uint8_t>(me.begin(), me.end()));
  } catch (const std::exception& e) {
    throw DistError("rank " + std::to_string(env_.rank) + " of " + std::to_string(env_.world_size) + ": the ranks did not meet at " +
                    master + " within " + std::to_string(static_cast<int64_t>(options_.timeout_s)) + " s (" + first_line(e.what()) + ")");
  }
}

ProcessGroup::~ProcessGroup() = default;

void ProcessGroup::all_reduce_tensor(torch::Tensor& flat, ReduceOp op, const char* what) {
  std::vector<at::Tensor> one = {flat};
  c10d::AllreduceOptions o;
  o.reduceOp = c10d_op(op);
  o.timeout = millis(options_.timeout_s);
  try {
    gloo(group_).allreduce(one, o)->wait(millis(options_.timeout_s));
  } catch (const std::exception& e) {
    const std::string lost = lost_ranks();
    throw DistError("rank " + std::to_string(env_.rank) + ": " + what + " failed (" +
                    (lost.empty() ? "a rank stopped, or none answered within " + std::to_string(static_cast<int64_t>(options_.timeout_s)) + " s"
                                  : lost) +
                    "): " + first_line(e.what()));
  }
}

namespace {

// Gone, or a zombie its parent has not reaped yet (kill(pid, 0) still succeeds on one).
bool has_exited(pid_t pid) {
  if (kill(pid, 0) != 0) return errno == ESRCH;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  const size_t paren = line.rfind(')');
  return paren != std::string::npos && paren + 2 < line.size() && line[paren + 2] == 'Z';
}

}  // namespace

std::string ProcessGroup::lost_ranks() const {
  // A peer's socket can close a moment before its process is gone: look a few times.
  for (int attempt = 0; attempt < 10; ++attempt) {
    std::string out = lost_ranks_now();
    if (!out.empty()) return out;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return "";
}

std::string ProcessGroup::lost_ranks_now() const {
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  std::string out;
  try {
    for (int r = 0; r < env_.world_size; ++r) {
      if (r == env_.rank) continue;
      const std::string key = "rank/" + std::to_string(r);
      if (!store_->check({key})) continue;  // get() would wait for it
      auto v = store_->get(key);
      std::string who(v.begin(), v.end());
      const size_t sp = who.rfind(' ');
      if (sp == std::string::npos || who.substr(0, sp) != host) continue;  // another host: its pid says nothing here
      const pid_t pid = static_cast<pid_t>(std::atoll(who.c_str() + sp + 1));
      if (pid > 0 && has_exited(pid))
        out += (out.empty() ? "" : ", ") + std::string("rank ") + std::to_string(r) + " (pid " + std::to_string(pid) + ") has exited";
    }
  } catch (const std::exception&) {
    // The store went with rank 0: nothing more to learn.
  }
  return out;
}

void ProcessGroup::all_reduce_sum(const std::vector<torch::Tensor>& tensors) {
  if (!env_.distributed()) return;
  torch::NoGradGuard no_grad;
  size_t i = 0;
  while (i < tensors.size()) {
    // A bucket: consecutive defined tensors of one dtype, up to bucket_bytes (at least one tensor).
    std::vector<torch::Tensor> bucket;
    size_t bytes = 0;
    const auto dtype = tensors[i].scalar_type();
    for (; i < tensors.size(); ++i) {
      const torch::Tensor& t = tensors[i];
      if (!t.defined()) continue;
      const size_t b = static_cast<size_t>(t.numel()) * t.element_size();
      if (!bucket.empty() && (t.scalar_type() != dtype || bytes + b > options_.bucket_bytes)) break;
      bucket.push_back(t);
      bytes += b;
    }
    if (bucket.empty()) continue;
    std::vector<torch::Tensor> flat_parts;
    for (auto& t : bucket) flat_parts.push_back(t.reshape({-1}));
    torch::Tensor flat = torch::cat(flat_parts);
    all_reduce_tensor(flat, ReduceOp::sum, "all-reduce of gradients");
    int64_t off = 0;
    for (auto& t : bucket) {
      t.copy_(flat.narrow(0, off, t.numel()).view(t.sizes()));
      off += t.numel();
    }
  }
}

std::vector<double> ProcessGroup::all_reduce(std::vector<double> values, ReduceOp op) {
  if (!env_.distributed() || values.empty()) return values;
  torch::Tensor t = torch::tensor(values, torch::kFloat64);
  all_reduce_tensor(t, op, "all-reduce of counts");
  auto acc = t.accessor<double, 1>();
  for (size_t i = 0; i < values.size(); ++i) values[i] = acc[static_cast<int64_t>(i)];
  return values;
}

void ProcessGroup::broadcast(torch::Tensor& tensor, int root) {
  if (!env_.distributed()) return;
  std::vector<at::Tensor> one = {tensor};
  c10d::BroadcastOptions o;
  o.rootRank = root;
  o.timeout = millis(options_.timeout_s);
  try {
    gloo(group_).broadcast(one, o)->wait(millis(options_.timeout_s));
  } catch (const std::exception& e) {
    throw DistError("rank " + std::to_string(env_.rank) + ": broadcast from rank " + std::to_string(root) + " failed: " + first_line(e.what()));
  }
}

void ProcessGroup::barrier() {
  std::vector<double> one = {1.0};
  all_reduce(one, ReduceOp::sum);
}

}  // namespace r1::dist
