#include "dist/process_group.h"

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/version.h>
#if R1_WITH_NCCL
#ifndef USE_C10D_NCCL
#define USE_C10D_NCCL 1  // what LibTorch's own build defines: ProcessGroupNCCL.hpp declares nothing without it
#endif
#include <c10/cuda/CUDAFunctions.h>
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
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

c10d::ReduceOp c10d_op(ReduceOp op) {
  switch (op) {
    case ReduceOp::max: return c10d::ReduceOp::MAX;
    case ReduceOp::min: return c10d::ReduceOp::MIN;
    default: return c10d::ReduceOp::SUM;
  }
}

std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }

std::string seconds(double s) { return std::to_string(static_cast<int64_t>(s)) + " s"; }

// A prefix of our own in the job's store (torchrun's agent keeps its keys there too), per attempt:
// after a torchrun restart (--max-restarts) the agent's store still holds the last attempt's keys.
std::string store_prefix(const DistOptions& o) {
  if (!o.store_prefix.empty()) return o.store_prefix;
  const char* attempt = std::getenv("TORCHELASTIC_RESTART_COUNT");
  return std::string("r1forge/attempt_") + (attempt && *attempt ? attempt : "0") + "/";
}

std::string text_of(const std::vector<uint8_t>& v) { return std::string(v.begin(), v.end()); }

std::string_view enum_name(Backend b) {
  for (const auto& [v, name] : enum_names(b))
    if (v == b) return name;
  return "?";
}

}  // namespace

// What Gloo's and NCCL's process groups have in common: the collectives, virtual on their base.
struct ProcessGroup::Collectives {
#if TORCH_VERSION_MAJOR >= 2
  c10::intrusive_ptr<c10d::Backend> backend;
#else
  c10::intrusive_ptr<c10d::ProcessGroup> backend;
#endif
};

static DistError no_nccl() { return DistError("dist.backend = \"nccl\": this r1 was built without NCCL (its LibTorch has no CUDA); use gloo"); }

torch::Device rank_cuda_device(const LaunchEnv& env) {
  const auto gpus = static_cast<int>(torch::cuda::device_count());
  if (env.local_rank >= gpus)
    throw DistError("rank " + std::to_string(env.rank) + ": LOCAL_RANK " + std::to_string(env.local_rank) + " but this host has " +
                    std::to_string(gpus) + " CUDA device(s): start at most one rank per GPU");
  return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(env.local_rank));
}

bool nccl_built() {
#if R1_WITH_NCCL
  return true;
#else
  return false;
#endif
}

Backend resolve_backend(Backend requested, const torch::Device& device) {
  if (requested == Backend::auto_) return device.is_cuda() && nccl_built() ? Backend::nccl : Backend::gloo;
  if (requested == Backend::nccl && !device.is_cuda())
    throw DistError("dist.backend = \"nccl\" carries CUDA tensors, but this run is on " + device.str() + " (use gloo, or run.device = \"cuda\")");
  if (requested == Backend::nccl && !nccl_built()) throw no_nccl();
  return requested;
}

// Every second, from a thread and a store connection of its own: a rank that stops (killed,
// hung, its host gone) stops counting, and the others can name it from any host.
class ProcessGroup::Heartbeat {
 public:
  Heartbeat(const LaunchEnv& env, const DistOptions& options) {
    const double timeout_s = options.timeout_s;
    c10d::TCPStoreOptions so;
    so.port = static_cast<uint16_t>(env.master_port);
    so.isServer = false;
    so.waitWorkers = false;
    so.timeout = millis(std::min(timeout_s, 10.0));
    store_ = c10::make_intrusive<c10d::PrefixStore>(store_prefix(options), c10::make_intrusive<c10d::TCPStore>(env.master_addr, so));
    key_ = "beat/" + std::to_string(env.rank);
    store_->add(key_, 1);
    thread_ = std::thread([this] { run(); });
  }
  ~Heartbeat() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }

 private:
  void run() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (!wake_.wait_for(lock, std::chrono::seconds(1), [this] { return stop_; })) {
      lock.unlock();
      try {
        store_->add(key_, 1);
      } catch (const std::exception&) {
        return;  // the store is gone (with rank 0): nobody is left to read the count
      }
      lock.lock();
    }
  }

  c10::intrusive_ptr<c10d::Store> store_;
  std::string key_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread thread_;
};

ProcessGroup::ProcessGroup(const LaunchEnv& env, const DistOptions& options)
    : env_(env), options_(options), collectives_(std::make_unique<Collectives>()) {
  if (!env_.distributed()) return;
  // A peer that dies mid-send (rank 0 with the store, a rank in a collective) must end this rank
  // with an error naming it, not kill it with SIGPIPE; c10d assumes Python's SIG_IGN.
  signal(SIGPIPE, SIG_IGN);
  const std::string master = env_.master_addr + ":" + std::to_string(env_.master_port);
  try {
    c10d::TCPStoreOptions so;
    so.port = static_cast<uint16_t>(env_.master_port);
    so.isServer = env_.rank == 0 && !env_.agent_store;
    so.numWorkers = env_.world_size;
    so.waitWorkers = false;
    so.timeout = millis(options_.timeout_s);
    auto tcp = c10::make_intrusive<c10d::TCPStore>(env_.master_addr, so);
    store_ = c10::make_intrusive<c10d::PrefixStore>(store_prefix(options_), tcp);
    meet();
    if (options_.backend == Backend::nccl) join_nccl();
    else join_gloo();
    // Who this rank is, for the others' error message if it dies.
    char host[256] = {0};
    gethostname(host, sizeof host - 1);
    const std::string me = std::string(host) + " " + std::to_string(getpid());
    store_->set("rank/" + std::to_string(env_.rank), std::vector<uint8_t>(me.begin(), me.end()));
    heartbeat_ = std::make_unique<Heartbeat>(env_, options_);
  } catch (const DistError&) {
    throw;
  } catch (const std::exception& e) {
    throw DistError("rank " + std::to_string(env_.rank) + " of " + std::to_string(env_.world_size) + ": the ranks did not meet at " +
                    master + " within " + seconds(options_.timeout_s) + " (" + first_line(e.what()) + ")");
  }
}

// Every rank arrives (within the timeout, whatever the backend: NCCL meets only at its first
// collective) and they agree on the backend, which each resolved from its own recipe and devices.
void ProcessGroup::meet() {
  const std::string mine(enum_name(options_.backend));
  store_->set("joined/" + std::to_string(env_.rank), std::vector<uint8_t>(mine.begin(), mine.end()));
  std::vector<std::string> keys;
  for (int r = 0; r < env_.world_size; ++r) keys.push_back("joined/" + std::to_string(r));
  store_->wait(keys, millis(options_.timeout_s));
  const std::string first = text_of(store_->get("joined/0"));
  if (first != mine)
    throw DistError("rank " + std::to_string(env_.rank) + " resolved dist.backend to " + mine + " but rank 0 to " + first +
                    " (set dist.backend, and run every rank on the same kind of device)");
}

void ProcessGroup::join_gloo() {
  auto go = c10d::ProcessGroupGloo::Options::create(millis(options_.timeout_s));
  go->devices.push_back(gloo_device(env_));
  collectives_->backend = c10::make_intrusive<c10d::ProcessGroupGloo>(store_, env_.rank, env_.world_size, go);
}

// Each rank drives the GPU of its LOCAL_RANK, as torchrun's users set it (torch.cuda.set_device);
// NCCL creates its communicators at the first collective, on that device.
void ProcessGroup::join_nccl() {
#if R1_WITH_NCCL
  device_ = rank_cuda_device(env_);
  // Blocking waits: a collective whose peer is gone then throws after the timeout, here, instead
  // of hanging the stream (LibTorch 1.x) or being aborted by NCCL's watchdog (2.x). A value the
  // user set wins.
  setenv("TORCH_NCCL_BLOCKING_WAIT", "1", 0);
  setenv("NCCL_BLOCKING_WAIT", "1", 0);
  c10::cuda::set_device(device_.index());
  auto no = c10d::ProcessGroupNCCL::Options::create();
  no->timeout = millis(options_.timeout_s);
  collectives_->backend = c10::make_intrusive<c10d::ProcessGroupNCCL>(store_, env_.rank, env_.world_size, no);
#else
  throw no_nccl();
#endif
}

ProcessGroup::~ProcessGroup() {
  // Rank 0 hosts the store: after a failed collective it stays a moment, so that the other ranks
  // can still read who exited or stopped beating instead of finding the store gone.
  if (failed_ && env_.rank == 0 && !env_.agent_store && env_.distributed())
    std::this_thread::sleep_for(std::chrono::milliseconds(static_cast<int64_t>((kSilentAfter_s + 2) * 1000)));
}

bool ProcessGroup::reported_failure(int r) const { return store_->check({"failed/" + std::to_string(r)}); }

DistError ProcessGroup::failed(const std::string& what, const std::exception& e) const {
  failed_ = true;
  try {
    // This rank fails because of another: the others' diagnosis must not blame it once it exits.
    store_->set("failed/" + std::to_string(env_.rank), std::vector<uint8_t>{1});
  } catch (const std::exception&) {
  }
  const std::string lost = lost_ranks();
  return DistError("rank " + std::to_string(env_.rank) + ": " + what + " failed (" +
                   (lost.empty() ? "a rank stopped, or none answered within " + seconds(options_.timeout_s) : lost) + "): " +
                   first_line(e.what()));
}

void ProcessGroup::all_reduce_tensor(torch::Tensor& flat, ReduceOp op, const char* what) {
  // A tensor elsewhere than the backend's device (a CUDA run over Gloo) goes through a copy there.
  torch::Tensor on = flat.device() == device_ ? flat : flat.to(device_);
  std::vector<at::Tensor> one = {on};
  c10d::AllreduceOptions o;
  o.reduceOp = c10d_op(op);
  o.timeout = millis(options_.timeout_s);
  try {
    collectives_->backend->allreduce(one, o)->wait(millis(options_.timeout_s));
  } catch (const std::exception& e) {
    throw failed(what, e);
  }
  if (!on.is_same(flat)) flat.copy_(on);
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
  try {
    // A peer's socket can close a moment before its process is gone: look a few times.
    for (int attempt = 0; attempt < 10; ++attempt) {
      std::string out = exited_ranks();
      if (!out.empty()) return out;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return silent_ranks();
  } catch (const std::exception&) {
    // The store itself is gone: it lived in rank 0 (unless torchrun's agent hosts it).
    if (env_.agent_store) return "";
    blamed_.push_back(0);
    return "rank 0, which hosts the job's store at " + env_.master_addr + ":" + std::to_string(env_.master_port) + ", is unreachable";
  }
}

bool ProcessGroup::blamed(int r) const { return std::find(blamed_.begin(), blamed_.end(), r) != blamed_.end(); }

std::pair<std::string, pid_t> ProcessGroup::who(int r) const {
  const std::string key = "rank/" + std::to_string(r);
  if (!store_->check({key})) return {"", 0};  // get() would wait for it
  auto v = store_->get(key);
  std::string text(v.begin(), v.end());
  const size_t sp = text.rfind(' ');
  if (sp == std::string::npos) return {"", 0};
  return {text.substr(0, sp), static_cast<pid_t>(std::atoll(text.c_str() + sp + 1))};
}

std::string ProcessGroup::exited_ranks() const {
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  std::string out;
  for (int r = 0; r < env_.world_size; ++r) {
    if (r == env_.rank || reported_failure(r)) continue;
    const auto [h, pid] = who(r);
    if (h != host) continue;  // another host: its pid says nothing here
    if (pid <= 0 || !has_exited(pid)) continue;
    blamed_.push_back(r);
    out += (out.empty() ? "" : ", ") + std::string("rank ") + std::to_string(r) + " (pid " + std::to_string(pid) + ") has exited";
  }
  return out;
}

std::string ProcessGroup::silent_ranks() const {
  auto beats = [&] {
    std::vector<int64_t> v;
    for (int r = 0; r < env_.world_size; ++r) v.push_back(store_->add("beat/" + std::to_string(r), 0));  // add 0: read, never wait
    return v;
  };
  const auto before = beats();
  std::this_thread::sleep_for(std::chrono::milliseconds(static_cast<int64_t>(kSilentAfter_s * 1000)));
  const auto after = beats();
  std::string out;
  for (int r = 0; r < env_.world_size; ++r) {
    if (r == env_.rank || after[static_cast<size_t>(r)] != before[static_cast<size_t>(r)] || reported_failure(r)) continue;
    const auto [h, pid] = who(r);
    blamed_.push_back(r);
    out += (out.empty() ? "" : ", ") + std::string("rank ") + std::to_string(r) + (h.empty() ? "" : " (host " + h + ", pid " + std::to_string(pid) + ")") +
           " stopped answering";
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
  torch::Tensor t = torch::tensor(values, torch::kFloat64).to(device_);
  all_reduce_tensor(t, op, "all-reduce of counts");
  t = t.cpu();
  auto acc = t.accessor<double, 1>();
  for (size_t i = 0; i < values.size(); ++i) values[i] = acc[static_cast<int64_t>(i)];
  return values;
}

void ProcessGroup::broadcast(torch::Tensor& tensor, int root) {
  if (!env_.distributed()) return;
  torch::Tensor on = tensor.device() == device_ ? tensor : tensor.to(device_);
  std::vector<at::Tensor> one = {on};
  c10d::BroadcastOptions o;
  o.rootRank = root;
  o.timeout = millis(options_.timeout_s);
  try {
    collectives_->backend->broadcast(one, o)->wait(millis(options_.timeout_s));
  } catch (const std::exception& e) {
    throw failed("broadcast from rank " + std::to_string(root), e);
  }
  if (!on.is_same(tensor)) tensor.copy_(on);
}

// A key another rank sets, polled: a rank that has exited ends the wait at once (a collective
// would fail at once too), not after dist.timeout_s.
std::vector<uint8_t> ProcessGroup::wait_for_key(const std::string& key, int from) const {
  const auto until = std::chrono::steady_clock::now() + millis(options_.timeout_s);
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  for (int polls = 0;; ++polls) {
    if (store_->check({key})) return store_->get(key);
    if (std::chrono::steady_clock::now() > until) throw std::runtime_error("nothing arrived within " + seconds(options_.timeout_s));
    if (polls % 20 == 19) {
      const auto [h, pid] = who(from);
      if (h == host && pid > 0 && has_exited(pid)) throw std::runtime_error("rank " + std::to_string(from) + " exited before sending");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

std::vector<std::string> ProcessGroup::gather_bytes(const std::string& mine, int root) {
  if (!env_.distributed()) return {mine};
  const std::string prefix = "gather/" + std::to_string(gathers_++) + "/";
  try {
    if (env_.rank != root) {
      store_->set(prefix + std::to_string(env_.rank), std::vector<uint8_t>(mine.begin(), mine.end()));
      return {};
    }
    std::vector<std::string> all(static_cast<size_t>(env_.world_size));
    all[static_cast<size_t>(root)] = mine;
    for (int r = 0; r < env_.world_size; ++r) {
      if (r == root) continue;
      const std::string key = prefix + std::to_string(r);
      auto v = wait_for_key(key, r);
      all[static_cast<size_t>(r)].assign(v.begin(), v.end());
      store_->deleteKey(key);
    }
    return all;
  } catch (const std::exception& e) {
    throw failed("gathering records at rank " + std::to_string(root), e);
  }
}

void ProcessGroup::barrier() {
  std::vector<double> one = {1.0};
  all_reduce(one, ReduceOp::sum);
}

}  // namespace r1::dist
