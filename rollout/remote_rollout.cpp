#include "rollout/remote_rollout.h"

#include <utility>  // before Boost.Asio 1.74

#include <boost/asio.hpp>

#include <algorithm>
#include <chrono>
#include <stdexcept>

#include "rollout/byte_codec.h"

namespace r1::rollout {

namespace {

double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

// A port on `host` that was free a moment ago, for the weight group's store.
uint16_t free_port(const std::string& host) {
  boost::asio::io_context io;
  boost::system::error_code ec;
  const auto address = boost::asio::ip::make_address(host == "localhost" ? "127.0.0.1" : host, ec);
  if (ec) throw ServiceError("rollout.listen: \"" + host + "\" is not an IP address (the c10d weight group binds to it)");
  boost::asio::ip::tcp::acceptor a(io, {address, 0});
  return a.local_endpoint().port();
}

}  // namespace

RemoteRollout::RemoteRollout(policy::CausalLM& learner, Options options) : options_(std::move(options)), learner_(learner) {
  version_ = options_.weight_version;
  host_ = parse_host_port(options_.gate.listen, "rollout.listen").first;
  std::lock_guard<std::mutex> lock(mutex_);  // a worker already knocking waits until gate_ is set
  publish(encode_weights(learner_->state(), version_, options_.weight_chunk_bytes), 0);
  WorkerGate::Options go = options_.gate;
  go.weight_version = [this] {
    std::lock_guard<std::mutex> lock(mutex_);
    return version_;
  };
  if (options_.c10d_workers > 0) {
    c10d_port_ = free_port(host_);
    go.admit = [this](const wire::Hello& h, wire::Welcome& w) { return admit(h, w); };
  }
  WorkerGate::Events ev;
  ev.on_join = [this](int64_t id, const wire::Hello& h) { on_join(id, h); };
  ev.on_frame = [this](int64_t id, wire::Frame f) { on_frame(id, std::move(f)); };
  ev.on_leave = [this](int64_t id, const std::string&) { on_leave(id); };
  gate_ = std::make_unique<WorkerGate>(go, ev);
}

RemoteRollout::~RemoteRollout() { gate_.reset(); }

void RemoteRollout::log(const std::string& line) const {
  if (options_.gate.log) options_.gate.log(line);
}

// Makes `chunks` (encoded without the lock: the gate's io thread must not wait on an encode) the
// current version's; the caller holds the lock.
void RemoteRollout::publish(std::vector<std::string> chunks, double encode_s) {
  weight_chunks_ = std::move(chunks);
  stats_.last_sync_s = encode_s;
  stats_.last_sync_bytes = 0;
  for (const auto& c : weight_chunks_) stats_.last_sync_bytes += static_cast<int64_t>(c.size());
}

void RemoteRollout::send_weights_locked(int64_t worker) {
  for (const auto& c : weight_chunks_) gate_->send(worker, wire::FrameType::weights, c);
  stats_.weight_bytes_sent += stats_.last_sync_bytes;
}

// A joining worker gets the current weights before anything else on its connection, so every
// request it is sent later finds them in place.
void RemoteRollout::on_join(int64_t id, const wire::Hello& hello) {
  std::lock_guard<std::mutex> lock(mutex_);
  send_weights_locked(id);
  Worker& w = workers_[id];
  w.slots = std::max<int64_t>(1, hello.slots);
  w.joined_at = now_s();
  dispatch_locked();
  changed_.notify_all();
}

// A worker's busy time runs while it has any group outstanding (the learner's view: from handing
// it a group to hearing back).
void RemoteRollout::add_busy_locked(Worker& w, int64_t samples, double now) {
  if (w.busy == 0 && samples > 0) w.busy_since = now;
  w.busy += samples;
  if (w.busy == 0 && samples < 0) w.busy_s += now - w.busy_since;
}

void RemoteRollout::on_frame(int64_t id, wire::Frame f) {
  if (f.type != wire::FrameType::result) {
    gate_->drop(id, std::string("protocol error: a worker does not send ") + wire::to_string(f.type) + " frames");
    return;
  }
  GroupResult r;
  try {
    r = decode_result(f.payload);
  } catch (const wire::WireError& e) {
    gate_->drop(id, std::string("protocol error: ") + e.what());
    return;
  }
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = outstanding_.find(r.group);
  if (it == outstanding_.end() || it->second.worker != id) {
    ++stats_.late_results_ignored;  // re-issued elsewhere, or from an earlier call: counted once, there
    return;
  }
  if (static_cast<int64_t>(r.completions.size()) != it->second.samples) {
    gate_->drop(id, "protocol error: group " + std::to_string(r.group) + " came back with " + std::to_string(r.completions.size()) + " of " +
                        std::to_string(it->second.samples) + " completions");
    return;
  }
  if (const std::string bad = check_versions_locked(it->second, r.completions); !bad.empty()) {
    gate_->drop(id, "protocol error: group " + std::to_string(r.group) + ": " + bad);
    return;
  }
  Worker& w = workers_[id];
  add_busy_locked(w, -it->second.samples, now_s());
  w.groups.erase(r.group);
  done_[r.group] = std::move(r.completions);
  outstanding_.erase(it);
  dispatch_locked();  // its slots go to the next queued group, whether or not the learner is waiting
  changed_.notify_all();
}

// The staleness bound rests on the versions a worker reports: each completion must start at the
// version its group was handed out with (later with in-flight updates, never past the learner's),
// and its tokens' versions may only grow from there.
std::string RemoteRollout::check_versions_locked(const Group& g, const std::vector<Completion>& completions) const {
  const bool inflight = options_.gate.inflight_update;
  for (const Completion& c : completions) {
    if (c.weight_version < g.version || c.weight_version > version_ || (!inflight && c.weight_version != g.version))
      return "a completion of version " + std::to_string(c.weight_version) + " for a group handed out at version " + std::to_string(g.version);
    int64_t last = c.weight_version;
    for (int64_t v : c.token_versions) {
      if (v < last || v > version_ || (!inflight && v != c.weight_version)) return "token versions out of order";
      last = v;
    }
  }
  return "";
}

// The weight group's ranks go to the first N workers to join (one that leaves before the group
// forms frees its rank); once formed, the group takes no one new.
std::string RemoteRollout::admit(const wire::Hello& hello, wire::Welcome& welcome) {
  std::lock_guard<std::mutex> lock(mutex_);
  const int64_t n = options_.c10d_workers;
  if (options_.c10d_backend == "nccl" && hello.device.rfind("cuda", 0) != 0)
    return "the c10d weight group talks NCCL (the learner is on a GPU): start the worker with --device cuda";
  if (broadcast_ || c10d_forming_) return "the c10d weight group has formed with its " + std::to_string(n) + " workers (rollout.weight_sync = \"c10d\" fixes the set)";
  for (int64_t rank = 1; rank <= n; ++rank) {
    bool taken = false;
    for (const auto& [id, r] : c10d_rank_) taken = taken || r == rank;
    if (taken) continue;
    c10d_rank_[welcome.worker_id] = rank;
    welcome.weight_group = wire::WeightGroup{host_, c10d_port_, rank, n + 1,
                                             options_.c10d_backend, options_.c10d_timeout_s};
    return "";
  }
  return "rollout.workers = " + std::to_string(n) + " workers have joined already (rollout.weight_sync = \"c10d\")";
}

void RemoteRollout::on_leave(int64_t id) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!broadcast_ && !c10d_forming_) c10d_rank_.erase(id);
  auto it = workers_.find(id);
  if (it == workers_.end()) return;
  for (int64_t g : it->second.groups) {
    auto og = outstanding_.find(g);
    if (og == outstanding_.end()) continue;  // answered, or of a call given up on
    og->second.worker = 0;
    queued_.push_front(g);
    ++stats_.groups_reissued;
  }
  const double now = now_s();
  Worker& w = it->second;
  if (w.busy > 0) w.busy_s += now - w.busy_since;
  stats_.worker_online_s += now - w.joined_at;
  stats_.worker_busy_s += w.busy_s;
  workers_.erase(it);
  dispatch_locked();
  changed_.notify_all();
}

// Queued groups to the workers with the most free slots; a group larger than any worker's slots
// goes to an idle one. A group is sampled with the version current now.
void RemoteRollout::dispatch_locked() {
  while (!queued_.empty() && !workers_.empty()) {
    const int64_t gid = queued_.front();
    Group& g = outstanding_.at(gid);
    auto best = std::max_element(workers_.begin(), workers_.end(),
                                 [](const auto& a, const auto& b) { return a.second.slots - a.second.busy < b.second.slots - b.second.busy; });
    Worker& w = best->second;
    if (w.busy > 0 && w.slots - w.busy < g.samples) return;
    GroupRequest gr;
    gr.group = gid;
    gr.weight_version = version_;
    g.version = version_;
    gr.request = calls_.at(g.ticket).requests[g.request];
    gate_->send(best->first, wire::FrameType::request, encode_request(gr));
    add_busy_locked(w, g.samples, now_s());
    w.groups.insert(gid);
    g.worker = best->first;
    queued_.pop_front();
  }
}

int64_t RemoteRollout::submit(const std::vector<Request>& requests, bool urgent) {
  std::lock_guard<std::mutex> lock(mutex_);
  return submit_locked(requests, urgent, {});
}

int64_t RemoteRollout::submit_with(const std::vector<Request>& requests, Received done) {
  std::lock_guard<std::mutex> lock(mutex_);
  return submit_locked(requests, false, std::move(done));
}

// A call's groups: those in `done` are answered already, the others queue for a worker.
int64_t RemoteRollout::submit_locked(const std::vector<Request>& requests, bool urgent, Received done) {
  const int64_t ticket = next_ticket_++;
  Call& call = calls_[ticket];
  call.requests = requests;
  std::vector<int64_t> to_queue;
  for (size_t i = 0; i < requests.size(); ++i) {
    const int64_t gid = next_group_++;
    call.groups.push_back(gid);
    if (auto d = done.find(i); d != done.end()) {
      done_[gid] = std::move(d->second);
      continue;
    }
    outstanding_[gid] = Group{ticket, i, 0, requests[i].n, 0};
    to_queue.push_back(gid);
  }
  queued_.insert(urgent ? queued_.begin() : queued_.end(), to_queue.begin(), to_queue.end());
  dispatch_locked();
  return ticket;
}

// Until every one of `groups` is answered (or `ok`), handing queued groups to workers meanwhile;
// says why it waits when no worker is there; throws Interrupted on Ctrl-C.
void RemoteRollout::wait_for_locked(std::unique_lock<std::mutex>& lock, const std::vector<int64_t>& groups) {
  auto answered = [&] {
    for (int64_t g : groups)
      if (!done_.count(g)) return false;
    return true;
  };
  wait_until_locked(lock, answered);
}

void RemoteRollout::wait_until_locked(std::unique_lock<std::mutex>& lock, const std::function<bool()>& ok) {
  double last_said = -1e300;
  while (!ok()) {
    if (options_.stop && options_.stop->load()) throw Interrupted("rollout: stopped while waiting for workers");
    dispatch_locked();
    if (workers_.empty() && now_s() - last_said >= options_.wait_log_every_s) {
      log("rollout: waiting for a worker to join on port " + std::to_string(gate_->port()) + " (" + std::to_string(queued_.size()) +
          " groups queued): start one with `r1 rollout worker --connect HOST:" + std::to_string(gate_->port()) + "`");
      last_said = now_s();
    }
    changed_.wait_for(lock, std::chrono::milliseconds(500));
  }
}

void RemoteRollout::wait_for_worker() {
  std::unique_lock<std::mutex> lock(mutex_);
  wait_until_locked(lock, [this] { return !workers_.empty(); });
}

std::vector<Completion> RemoteRollout::collect(int64_t ticket) {
  std::unique_lock<std::mutex> lock(mutex_);
  auto call_it = calls_.find(ticket);
  if (call_it == calls_.end()) throw std::logic_error("rollout: collect() of a ticket that was not submitted");
  const std::vector<int64_t> ids = call_it->second.groups;
  wait_for_locked(lock, ids);
  std::vector<Completion> out;
  for (size_t i = 0; i < ids.size(); ++i) {
    auto node = done_.extract(ids[i]);
    auto& group = node.mapped();
    std::sort(group.begin(), group.end(), [](const Completion& a, const Completion& b) { return a.sample < b.sample; });
    for (auto& c : group) {
      c.request = static_cast<int64_t>(i);
      out.push_back(std::move(c));
    }
  }
  calls_.erase(ticket);
  dispatch_locked();  // slots freed by this call's last answers go to the next call's groups
  return out;
}

RolloutBackend::Received RemoteRollout::received(int64_t ticket, bool wait) {
  std::unique_lock<std::mutex> lock(mutex_);
  auto call_it = calls_.find(ticket);
  if (call_it == calls_.end()) return {};
  const std::vector<int64_t> ids = call_it->second.groups;
  if (wait) wait_for_locked(lock, ids);
  Received out;
  for (size_t i = 0; i < ids.size(); ++i)
    if (auto d = done_.find(ids[i]); d != done_.end()) out[i] = d->second;
  return out;
}

std::vector<Completion> RemoteRollout::generate(const std::vector<Request>& requests) { return collect(submit(requests)); }

void RemoteRollout::sync_weights(policy::CausalLM& learner) {
  if (options_.c10d_workers > 0) broadcast_version(learner, weight_version() + 1);
  else republish(learner, weight_version() + 1);
}

// Version `version` by broadcast: announced on every connection (after the requests sent before
// it), then sent to the group, which forms the first time, once all N workers have joined.
void RemoteRollout::broadcast_version(policy::CausalLM& learner, int64_t version) {
  std::unique_lock<std::mutex> lock(mutex_);
  double last_said = -1e300;
  while (static_cast<int64_t>(workers_.size()) < options_.c10d_workers || static_cast<int64_t>(c10d_rank_.size()) < options_.c10d_workers) {
    if (broadcast_) throw ServiceError("rollout.weight_sync = \"c10d\": a worker of the weight group left; its set is fixed, so the run stops (resume it: workers reconnect and form a new group)");
    if (options_.stop && options_.stop->load()) throw Interrupted("rollout: stopped while waiting for the weight group's workers");
    if (now_s() - last_said >= options_.wait_log_every_s) {
      log("rollout: waiting for " + std::to_string(options_.c10d_workers - static_cast<int64_t>(workers_.size())) +
          " more workers to form the c10d weight group (rollout.workers = " + std::to_string(options_.c10d_workers) + ")");
      last_said = now_s();
    }
    changed_.wait_for(lock, std::chrono::milliseconds(200));
  }
  learner_ = learner;
  version_ = version;
  ByteWriter b;
  b.put<int64_t>(version);
  const std::string announce = b.take();
  for (const auto& [id, w] : workers_) gate_->send(id, wire::FrameType::weights_c10d, announce);
  const bool form = !broadcast_;
  c10d_forming_ = true;  // the announced ranks are the group: no one leaves it or joins it now
  lock.unlock();
  const double t0 = now_s();
  if (form) {
    auto formed = std::make_unique<WeightBroadcast>(wire::WeightGroup{host_, c10d_port_, 0,
                                                                      options_.c10d_workers + 1, options_.c10d_backend, options_.c10d_timeout_s},
                                                    learner->parameters().front().device());
    std::lock_guard<std::mutex> l(mutex_);
    broadcast_ = std::move(formed);
  }
  broadcast_->send(learner->state());
  std::lock_guard<std::mutex> l(mutex_);
  stats_.last_sync_s = now_s() - t0;
  stats_.last_sync_bytes = broadcast_->bytes_per_version();
  stats_.weight_bytes_sent += stats_.last_sync_bytes * options_.c10d_workers;
}

// Only the training thread changes the version (here and in set_weight_version).
void RemoteRollout::republish(policy::CausalLM& learner, int64_t version) {
  const double t0 = now_s();
  auto chunks = encode_weights(learner->state(), version, options_.weight_chunk_bytes);
  const double encode_s = now_s() - t0;
  std::lock_guard<std::mutex> lock(mutex_);
  learner_ = learner;
  version_ = version;
  publish(std::move(chunks), encode_s);
  for (const auto& [id, w] : workers_) send_weights_locked(id);
}

int64_t RemoteRollout::weight_version() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return version_;
}

void RemoteRollout::set_weight_version(int64_t version) {
  policy::CausalLM learner = [&] {
    std::lock_guard<std::mutex> lock(mutex_);
    return learner_;
  }();
  republish(learner, version);
}

RemoteRolloutStats RemoteRollout::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  RemoteRolloutStats s = stats_;
  const double now = now_s();
  for (const auto& [id, w] : workers_) {
    s.worker_online_s += now - w.joined_at;
    s.worker_busy_s += w.busy_s + (w.busy > 0 ? now - w.busy_since : 0);
  }
  return s;
}

}  // namespace r1::rollout
