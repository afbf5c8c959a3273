#include "rollout/rollout_worker.h"

#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>

#include "rollout/byte_codec.h"
#include "rollout/connection.h"
#include "rollout/remote_messages.h"
#include "rollout/weight_group.h"
#include "rollout/weight_sync.h"
#include "rollout/worker_gate.h"

namespace r1::rollout {

namespace asio = boost::asio;

// One connection's frames, handed from its io thread to the worker's own thread in arrival order.
struct RolloutWorker::Session {
  std::mutex m;
  std::condition_variable cv;
  std::deque<wire::Frame> frames;
  std::optional<std::string> closed;  // the reason, once the connection is gone
  std::shared_ptr<Connection> conn;
  std::optional<WeightsReceiver> weights;  // into the engine's model, once there is one
  bool inflight = false;                   // the welcome asked for in-flight weight updates
  std::optional<wire::WeightGroup> weight_group;  // versions by c10d broadcast (rollout.weight_sync = "c10d")
  std::unique_ptr<WeightBroadcast> broadcast;     // formed at the first such version
};

RolloutWorker::RolloutWorker(Engine* engine, Options options) : engine_(engine), options_(std::move(options)) {
  if (!engine_ && !options_.adopt) throw std::logic_error("RolloutWorker: no engine and no way to build one");
}

void RolloutWorker::log(const std::string& line) const {
  if (options_.log) options_.log(line);
}

void RolloutWorker::run(const std::atomic<bool>& stop) {
  const auto [host, port] = parse_host_port(options_.connect, "--connect");
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  if (ec) throw ServiceError("--connect " + options_.connect + ": \"" + host + "\" is not an IP address");
  bool said_waiting = false;
  while (!stop) {
    asio::io_context io;
    asio::ip::tcp::socket socket(io);
    socket.connect({address, port}, ec);
    if (ec) {
      if (!said_waiting) log("rollout worker: waiting for the learner at " + options_.connect + " (" + ec.message() + ")");
      said_waiting = true;
      std::this_thread::sleep_for(std::chrono::duration<double>(options_.retry_s));
      continue;
    }
    said_waiting = false;
    Session s;
    s.conn = std::make_shared<Connection>(std::move(socket), wire::FrameLimits{}, options_.heartbeat_s);
    s.conn->start({.on_frame =
                       [&s](wire::Frame f) {
                         std::lock_guard<std::mutex> l(s.m);
                         s.frames.push_back(std::move(f));
                         s.cv.notify_all();
                       },
                   .on_close =
                       [&s](const std::string& why) {
                         std::lock_guard<std::mutex> l(s.m);
                         s.closed = why;
                         s.cv.notify_all();
                       }});
    s.conn->send(wire::FrameType::hello, wire::to_payload(options_.hello));
    std::thread io_thread([&io] { io.run(); });
    std::exception_ptr failure;  // a refusal, or anything else: rethrown once the io thread is done with `s`
    try {
      serve(stop, s);
    } catch (...) {
      failure = std::current_exception();
    }
    s.conn->close("the worker is stopping");
    io_thread.join();
    if (failure) std::rethrow_exception(failure);
  }
}

// Frames in order: weights are applied where they stand, and the requests that came since are
// sampled together in one engine batch when nothing else is waiting.
bool RolloutWorker::serve(const std::atomic<bool>& stop, Session& s) {
  std::optional<WeightsReceiver>& weights = s.weights;
  if (engine_) weights.emplace(engine_->model()->state());
  std::vector<GroupRequest> pending;
  for (;;) {
    std::optional<wire::Frame> f;
    {
      std::unique_lock<std::mutex> l(s.m);
      s.cv.wait_for(l, std::chrono::milliseconds(pending.empty() ? 200 : 0), [&] { return !s.frames.empty() || s.closed; });
      if (!s.frames.empty()) {
        f = std::move(s.frames.front());
        s.frames.pop_front();
      } else if (s.closed) {
        log("rollout worker: connection to " + options_.connect + " closed: " + *s.closed + "; connecting again");
        return true;
      }
    }
    if (stop) return false;
    if (f) {
      switch (f->type) {
        case wire::FrameType::welcome: {
          const wire::Welcome w = wire::welcome_from(f->payload);
          if (!engine_) {
            if (!w.model) throw ServiceError("the learner's welcome carries no model, and this worker has none");
            engine_ = &options_.adopt(*w.model, options_.hello);
            weights.emplace(engine_->model()->state());
          }
          s.inflight = w.inflight_update;
          s.weight_group = w.weight_group;
          if (s.weight_group && (s.weight_group->host == "0.0.0.0" || s.weight_group->host == "::"))
            s.weight_group->host = parse_host_port(options_.connect, "--connect").first;  // the learner listens on every address
          log("rollout worker: joined as worker " + std::to_string(w.worker_id) + " (weights version " + std::to_string(w.weight_version) + ")" +
              (w.inflight_update ? ", in-flight weight updates" : ""));
          break;
        }
        case wire::FrameType::refuse: throw ServiceError("the learner refused this worker: " + f->payload);
        case wire::FrameType::weights:
          if (!weights) throw ServiceError("the learner sent weights before its welcome");
          if (!pending.empty()) {  // they were asked of the version before these weights
            if (s.inflight) {      // which arrive while they are sampled: back to the head of the queue
              std::lock_guard<std::mutex> l(s.m);
              s.frames.push_front(std::move(*f));
            }
            sample(s, pending);
            pending.clear();
            if (s.inflight) break;  // applied between decode steps, or read next if no step came
          }
          if (weights->add(f->payload)) engine_->set_weight_version(weights->version());
          break;
        case wire::FrameType::weights_c10d:
          if (!pending.empty()) {  // asked of the version before this one
            sample(s, pending);
            pending.clear();
          }
          receive_broadcast(s, f->payload);
          break;
        case wire::FrameType::request: pending.push_back(decode_request(f->payload)); break;
        default: s.conn->close(std::string("protocol error: a learner does not send ") + wire::to_string(f->type) + " frames"); break;
      }
      continue;
    }
    if (pending.empty()) continue;
    sample(s, pending);
    pending.clear();
  }
}

// A version by c10d broadcast: the group forms at the first one (every rank blocks until all have
// joined), then the whole state arrives in place.
void RolloutWorker::receive_broadcast(Session& s, const std::string& payload) {
  if (!s.weight_group || !engine_) throw ServiceError("the learner announced a c10d weight broadcast, but its welcome named no weight group");
  ByteReader in(payload, "weights_c10d");
  const int64_t version = in.get<int64_t>("version");
  in.done();
  if (!s.broadcast) {
    log("rollout worker: joining the c10d weight group as rank " + std::to_string(s.weight_group->rank) + " of " + std::to_string(s.weight_group->world));
    s.broadcast = std::make_unique<WeightBroadcast>(*s.weight_group, engine_->model()->parameters().front().device());
  }
  s.broadcast->receive(engine_->model()->state());
  engine_->set_weight_version(version);
}

// In-flight updates: between decode steps, weights frames at the head of the queue are applied
// (a version completes atomically); anything else waits for the batch to finish, in order.
void RolloutWorker::apply_arrived_weights(Session& s) {
  for (;;) {
    std::optional<wire::Frame> f;
    {
      std::lock_guard<std::mutex> l(s.m);
      if (s.frames.empty() || s.frames.front().type != wire::FrameType::weights) return;
      f = std::move(s.frames.front());
      s.frames.pop_front();
    }
    if (s.weights->add(f->payload)) engine_->set_weight_version(s.weights->version());
  }
}

void RolloutWorker::sample(Session& s, const std::vector<GroupRequest>& groups) {
  std::vector<Request> requests;
  for (const auto& g : groups) {
    // A request names the version current when the learner sent it; an in-flight update may have
    // moved this worker past it since (never behind it: weights come before later requests).
    const bool newer_ok = s.inflight && g.weight_version < engine_->weight_version();
    if (g.weight_version != engine_->weight_version() && !newer_ok)
      throw ServiceError("group " + std::to_string(g.group) + " asks for weights version " + std::to_string(g.weight_version) +
                         " but this worker holds " + std::to_string(engine_->weight_version()));
    requests.push_back(g.request);
  }
  struct HookGuard {  // the hook refers to `s`: never left on the engine after this call
    Engine* e;
    ~HookGuard() { e->set_between_steps({}); }
  } guard{engine_};
  if (s.inflight) engine_->set_between_steps([this, &s] { apply_arrived_weights(s); });
  std::vector<Completion> all = engine_->generate(requests);
  std::vector<GroupResult> results(groups.size());
  for (size_t i = 0; i < groups.size(); ++i) results[i].group = groups[i].group;
  for (auto& c : all) {
    const auto r = static_cast<size_t>(c.request);
    c.request = 0;
    results[r].completions.push_back(std::move(c));
  }
  groups_served_ += static_cast<int64_t>(groups.size());  // before the learner can hear of them
  for (const auto& r : results) s.conn->send(wire::FrameType::result, encode_result(r));
}

}  // namespace r1::rollout
