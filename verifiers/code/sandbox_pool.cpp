// The sandbox pool: worker processes, an Asio event loop, and the judging sequence
// (compile, then each test, then the checker) run as callbacks on one worker.
#include "verifiers/code/sandbox_pool.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <utility>  // before Asio: Boost 1.74 uses std::exchange without including it

#include <boost/asio.hpp>
#include <deque>
#include <filesystem>
#include <functional>
#include <mutex>
#include <thread>

#include "verifiers/code/protocol.h"

extern char** environ;

namespace r1::verifiers::code {

namespace asio = boost::asio;
using local_socket = asio::local::stream_protocol::socket;

std::string find_worker_binary() {
  namespace fs = std::filesystem;
  if (const char* env = std::getenv("R1_SANDBOX_WORKER"); env && *env) return env;
  std::error_code ec;
  fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (!ec && fs::exists(self.parent_path() / "r1-sandbox-worker")) return (self.parent_path() / "r1-sandbox-worker").string();
#ifdef R1_SANDBOX_WORKER_PATH
  if (fs::exists(R1_SANDBOX_WORKER_PATH)) return R1_SANDBOX_WORKER_PATH;
#endif
  return "";
}

namespace {

RunResult sandbox_error(const std::string& why) {
  RunResult r;
  r.error = why;
  return r;
}

}  // namespace

struct SandboxPool::Impl {
  struct Worker {
    explicit Worker(asio::io_context& io) : sock(io), timer(io) {}
    pid_t pid = -1;
    local_socket sock;
    asio::steady_timer timer;
    std::string hello_error;
    std::string out_frame, in_header, in_body;
    bool timed_out = false;
    std::atomic<uint64_t> runs{0};  // a hang timer that fired as its run ended must spare the next
  };
  using Job = std::function<void(Worker&, std::function<void()>)>;

  PoolOptions opt;
  std::string worker_path;
  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> guard{io.get_executor()};
  std::vector<std::unique_ptr<Worker>> workers;
  std::mutex mu;  // guards idle and queue: jobs start on the submitting thread or the io thread
  std::deque<Worker*> idle;
  std::deque<Job> queue;
  std::string first_error;
  std::atomic<int64_t> restarts{0};
  std::thread thread;

  explicit Impl(PoolOptions o) : opt(std::move(o)) {
    if (opt.workers <= 0) opt.workers = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    worker_path = opt.worker_path.empty() ? find_worker_binary() : opt.worker_path;
    for (int i = 0; i < opt.workers; ++i) {
      workers.push_back(std::make_unique<Worker>(io));
      start(*workers.back());
      idle.push_back(workers.back().get());
    }
    first_error = workers.front()->hello_error;
    thread = std::thread([this] { io.run(); });
  }

  ~Impl() {
    guard.reset();
    asio::post(io, [this] {
      for (auto& w : workers) stop(*w);
    });
    thread.join();
  }

  // Spawns a worker with its end of a socket pair on fd 3 and reads its hello.
  void start(Worker& w) {
    if (worker_path.empty()) {
      w.hello_error = "sandbox worker binary r1-sandbox-worker not found (set R1_SANDBOX_WORKER)";
      return;
    }
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
      w.hello_error = "socketpair failed";
      return;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, sv[1], 3);
    std::string work = std::to_string(opt.work_bytes);
    const char* argv[] = {worker_path.c_str(), "--fd", "3", "--work-bytes", work.c_str(), nullptr};
    const char* envp[] = {nullptr};  // the worker and everything it runs start from an empty environment
    pid_t pid = -1;
    int rc = posix_spawn(&pid, worker_path.c_str(), &fa, nullptr, const_cast<char* const*>(argv), const_cast<char* const*>(envp));
    posix_spawn_file_actions_destroy(&fa);
    close(sv[1]);
    if (rc != 0) {
      close(sv[0]);
      w.hello_error = "cannot start " + worker_path + ": " + std::strerror(rc);
      return;
    }
    w.pid = pid;
    std::string body;
    if (!wire::read_frame(sv[0], body)) {
      w.hello_error = "sandbox worker " + worker_path + " exited during setup";
    } else {
      try {
        w.hello_error = wire::decode_result(body).error;
      } catch (const std::exception& e) {
        w.hello_error = e.what();
      }
    }
    w.sock = local_socket(io);
    w.sock.assign(asio::local::stream_protocol(), sv[0]);
  }

  void stop(Worker& w) {
    boost::system::error_code ec;
    w.timer.cancel();
    if (w.sock.is_open()) w.sock.close(ec);
    if (w.pid > 0) {
      kill(w.pid, SIGKILL);
      waitpid(w.pid, nullptr, 0);
      w.pid = -1;
    }
  }

  void restart(Worker& w) {
    stop(w);
    ++restarts;
    start(w);
  }

  // A job that finds a worker idle starts on the submitting thread: its request goes straight
  // into the worker's socket (Asio writes speculatively in the initiating thread), and only the
  // completions run on the io thread. Handing every job to the io thread first cost a thread
  // wake-up on the critical path of each run (bench_sandbox). Otherwise it waits in the queue.
  // A worker is touched by one job at a time; `mu` orders the hand-over between threads.
  void submit(Job job) {
    Worker* w = nullptr;
    {
      std::lock_guard<std::mutex> lock(mu);
      if (!idle.empty() && queue.empty()) {
        w = idle.front();
        idle.pop_front();
      } else {
        queue.push_back(std::move(job));
      }
    }
    if (w) start_job(*w, std::move(job));
  }

  void start_job(Worker& w, Job job) {
    job(w, [this, &w] { release(w); });
  }

  // The job on `w` is done (it must not touch `w` afterwards): the next queued job gets it, on the
  // io thread (posted, so that jobs finishing at once do not nest), or it becomes idle.
  void release(Worker& w) {
    std::lock_guard<std::mutex> lock(mu);
    if (queue.empty()) {
      idle.push_back(&w);
      return;
    }
    auto next = std::make_shared<Job>(std::move(queue.front()));
    queue.pop_front();
    asio::post(io, [this, &w, next] { start_job(w, std::move(*next)); });
  }

  // One request on one worker; `done` gets the result on the io thread.
  void exec(Worker& w, const RunRequest& req, std::function<void(RunResult)> done) {
    if (!w.hello_error.empty() || w.pid < 0) {
      done(sandbox_error(w.hello_error.empty() ? "sandbox worker unavailable" : w.hello_error));
      return;
    }
    w.out_frame = wire::encode(req);
    w.timed_out = false;
    auto finish = std::make_shared<std::function<void(RunResult)>>(std::move(done));
    // A worker enforces the wall limit itself; one that overruns it by far has hung.
    w.timer.expires_after(std::chrono::milliseconds(static_cast<int64_t>(1000 * (req.limits.wall() + 10))));
    const uint64_t run = ++w.runs;
    w.timer.async_wait([&w, run](const boost::system::error_code& ec) {
      if (ec || w.runs.load() != run) return;
      w.timed_out = true;
      if (w.pid > 0) kill(w.pid, SIGKILL);
    });
    auto fail = [this, &w, finish](const std::string& why) {
      w.timer.cancel();
      std::string msg = w.timed_out ? "sandbox worker stopped responding" : why;
      restart(w);
      (*finish)(sandbox_error(msg));
    };
    asio::async_write(w.sock, asio::buffer(w.out_frame), [this, &w, finish, fail](const boost::system::error_code& ec, size_t) {
      if (ec) return fail("sandbox worker died: " + ec.message());
      w.in_header.assign(8, '\0');
      asio::async_read(w.sock, asio::buffer(w.in_header), [this, &w, finish, fail](const boost::system::error_code& ec2, size_t) {
        if (ec2) return fail("sandbox worker died: " + ec2.message());
        uint64_t n = 0;
        std::memcpy(&n, w.in_header.data(), 8);
        w.in_body.assign(n, '\0');
        asio::async_read(w.sock, asio::buffer(w.in_body), [&w, finish, fail](const boost::system::error_code& ec3, size_t) {
          if (ec3) return fail("sandbox worker died: " + ec3.message());
          w.timer.cancel();
          RunResult r;
          try {
            r = wire::decode_result(w.in_body);
          } catch (const std::exception& e) {
            r = sandbox_error(e.what());
          }
          (*finish)(std::move(r));
        });
      });
    });
  }

  // A worker for the calling thread alone (waiting in the queue like any job); give it back with
  // release().
  Worker& acquire() {
    std::promise<Worker*> got;
    auto worker = got.get_future();
    submit([&got](Worker& w, std::function<void()>) { got.set_value(&w); });
    return *worker.get();
  }

  // What exec does, on the calling thread, which blocks until the answer: the request goes
  // straight to the worker and the result straight back — two thread hand-offs per run instead of
  // four (caller -> io thread -> worker -> io thread -> caller), each ~20 us on an idle core.
  RunResult exec_blocking(Worker& w, const RunRequest& req) {
    if (!w.hello_error.empty() || w.pid < 0) return sandbox_error(w.hello_error.empty() ? "sandbox worker unavailable" : w.hello_error);
    ++w.runs;  // a hang timer left from an earlier run spares this one
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(static_cast<int64_t>(1000 * (req.limits.wall() + 10)));
    const int fd = w.sock.native_handle();
    // Non-blocking, waiting with poll(): a worker that stops answering must not hold us past the
    // deadline (Asio sets the flag only once it has run an asynchronous operation on the socket).
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    std::string why;
    auto wait_for = [&](short events) {
      for (;;) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
        if (left <= 0) {
          why = "sandbox worker stopped responding";
          return false;
        }
        pollfd p{fd, events, 0};
        int k = poll(&p, 1, static_cast<int>(std::min<int64_t>(left + 1, 1 << 30)));
        if (k > 0) return true;
        if (k < 0 && errno != EINTR) {
          why = std::string("poll: ") + std::strerror(errno);
          return false;
        }
      }
    };
    auto transfer = [&](char* data, size_t size, bool out) {
      size_t off = 0;
      while (off < size) {
        ssize_t n = out ? send(fd, data + off, size - off, MSG_NOSIGNAL) : recv(fd, data + off, size - off, 0);
        if (n > 0) {
          off += static_cast<size_t>(n);
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
          if (!wait_for(out ? POLLOUT : POLLIN)) return false;
        } else {
          why = "sandbox worker died: " + std::string(n == 0 ? "end of file" : std::strerror(errno));
          return false;
        }
      }
      return true;
    };
    std::string frame = wire::encode(req);
    uint64_t n = 0;
    std::string body;
    bool ok = transfer(frame.data(), frame.size(), true) && transfer(reinterpret_cast<char*>(&n), 8, false);
    if (ok && n > (1ull << 31)) ok = false, why = "sandbox protocol: result frame too large";
    if (ok) {
      body.assign(n, '\0');
      ok = transfer(body.data(), n, false);
    }
    if (!ok) {
      restart(w);
      return sandbox_error(why);
    }
    try {
      return wire::decode_result(body);
    } catch (const std::exception& e) {
      return sandbox_error(e.what());
    }
  }

  // compile (if the language compiles) -> tests -> checker, all on worker `w`.
  struct JudgeState {
    Submission sub;
    const Language* lang = nullptr;
    const Language* checker_lang = nullptr;
    std::string binary, checker_binary;
    JudgeResult result;
    std::promise<JudgeResult> promise;
    std::function<void()> release;
    size_t next = 0;
    bool function_mode = false;
  };

  RunRequest program_request(const JudgeState& s, const std::string& program_source, const std::string& stdin_data) {
    RunRequest q;
    q.limits = s.sub.limits;
    q.stdin_data = stdin_data;
    if (s.lang->compile_argv.empty()) {
      q.files[s.lang->source_file] = program_source;
    } else {
      q.files[s.lang->compiled_file] = s.binary;
      q.executable.push_back(s.lang->compiled_file);
    }
    q.argv = s.lang->run_argv;
    return q;
  }

  void finish_judge(const std::shared_ptr<JudgeState>& s) {
    JudgeResult& r = s->result;
    r.verdict = Verdict::AC;
    for (const auto& t : r.tests)
      if (t.verdict != Verdict::AC) {
        r.verdict = t.verdict;
        break;
      }
    if (static_cast<int>(r.tests.size()) < r.total && r.verdict == Verdict::AC) r.verdict = Verdict::WA;
    s->release();  // first: a waiter that submits again at once then finds the worker idle
    s->promise.set_value(std::move(r));
  }

  void compile(const std::shared_ptr<JudgeState>& s, Worker& w, const Language* lang, const std::string& source,
               std::function<void(Verdict, std::string binary)> then) {
    RunRequest q;
    q.files[lang->source_file] = source;
    q.argv = lang->compile_argv;
    q.limits = lang->compile_limits;
    q.return_files = {lang->compiled_file};
    exec(w, q, [s, lang, then = std::move(then)](RunResult r) {
      Verdict v = classify(r, lang->compile_limits);
      auto it = r.files.find(lang->compiled_file);
      if (v == Verdict::SE) {
        s->result.message = r.error;
        then(Verdict::SE, "");
      } else if (v != Verdict::AC || it == r.files.end()) {
        std::string msg = r.stderr_data + r.stdout_data;
        if (v == Verdict::TLE) msg = "compilation exceeded its time limit\n" + msg;
        if (v == Verdict::MLE) msg = "compilation exceeded its memory limit\n" + msg;
        if (v == Verdict::OLE) msg = "compiler output exceeded its limit\n" + msg;
        if (msg.size() > 4096) msg = msg.substr(0, 4096) + "\n[truncated]";
        s->result.message = msg;
        then(Verdict::CE, "");
      } else {
        then(Verdict::AC, it->second);
      }
    });
  }

  // An SE verdict carries the sandbox's reason (the first one) in the judge's message.
  static void note_sandbox_error(JudgeState& s, const RunResult& r) {
    if (!r.error.empty() && s.result.message.empty()) s.result.message = r.error;
  }

  void run_tests(const std::shared_ptr<JudgeState>& s, Worker& w) {
    if (s->next >= static_cast<size_t>(s->result.total)) return finish_judge(s);
    if (s->sub.stop_on_failure && !s->result.tests.empty() && s->result.tests.back().verdict != Verdict::AC) return finish_judge(s);
    const size_t i = s->next++;
    if (s->function_mode) {
      std::string program = function_test_program(s->sub.code, s->sub.test_code, s->sub.entry_point);
      RunRequest q = program_request(*s, program, "");
      exec(w, q, [this, s, &w](RunResult r) {
        note_sandbox_error(*s, r);
        s->result.tests.push_back(test_verdict(r, s->sub.limits, nullptr, 0));
        if (s->result.tests.back().verdict == Verdict::AC) ++s->result.passed;
        run_tests(s, w);
      });
      return;
    }
    const TestCase& tc = s->sub.tests[i];
    RunRequest q = program_request(*s, s->sub.code, tc.stdin_data);
    bool checker = !s->sub.checker_code.empty();
    exec(w, q, [this, s, &w, i, checker](RunResult r) {
      note_sandbox_error(*s, r);
      const TestCase& tc2 = s->sub.tests[i];
      TestVerdict t = test_verdict(r, s->sub.limits, checker || !s->sub.check_output ? nullptr : &tc2, s->sub.float_tolerance);
      if (!checker || t.verdict != Verdict::AC) {
        if (t.verdict == Verdict::AC) ++s->result.passed;
        s->result.tests.push_back(std::move(t));
        return run_tests(s, w);
      }
      // (c) the checker decides: input, expected and actual output as files
      RunRequest c;
      c.limits = s->sub.limits;
      c.files["input.txt"] = tc2.stdin_data;
      c.files["expected.txt"] = tc2.expected;
      c.files["actual.txt"] = t.stdout_data;
      if (s->checker_lang->compile_argv.empty()) {
        c.files[s->checker_lang->source_file] = s->sub.checker_code;
      } else {
        c.files[s->checker_lang->compiled_file] = s->checker_binary;
        c.executable.push_back(s->checker_lang->compiled_file);
      }
      c.argv = s->checker_lang->run_argv;
      for (const char* f : {"input.txt", "expected.txt", "actual.txt"}) c.argv.push_back(f);
      exec(w, c, [this, s, &w, t = std::move(t)](RunResult cr) mutable {
        if (!cr.error.empty()) t.verdict = Verdict::SE;
        else if (cr.signal != 0 || cr.exit_code != 0 || cr.wall_timeout) t.verdict = Verdict::WA;
        if (t.verdict == Verdict::AC) ++s->result.passed;
        s->result.tests.push_back(std::move(t));
        run_tests(s, w);
      });
    });
  }

  std::future<JudgeResult> judge(Submission sub) {
    auto s = std::make_shared<JudgeState>();
    s->sub = std::move(sub);
    s->result.id = s->sub.id;
    auto fut = s->promise.get_future();
    s->lang = find_language(s->sub.lang);
    s->function_mode = !s->sub.test_code.empty();
    s->result.total = s->function_mode ? 1 : static_cast<int>(s->sub.tests.size());
    if (!s->lang) {
      s->result.verdict = Verdict::CE;
      s->result.message = "unknown language '" + s->sub.lang + "'";
      s->promise.set_value(std::move(s->result));
      return fut;
    }
    if (!s->sub.checker_code.empty()) {
      s->checker_lang = find_language(s->sub.checker_lang.empty() ? s->sub.lang : s->sub.checker_lang);
      if (!s->checker_lang) {
        s->result.verdict = Verdict::SE;
        s->result.message = "unknown checker language '" + s->sub.checker_lang + "'";
        s->promise.set_value(std::move(s->result));
        return fut;
      }
    }
    submit([this, s](Worker& w, std::function<void()> release) {
      s->release = std::move(release);
      auto after_checker = [this, s, &w] {
        if (s->lang->compile_argv.empty()) return run_tests(s, w);
        std::string source = s->function_mode ? function_test_program(s->sub.code, s->sub.test_code, s->sub.entry_point) : s->sub.code;
        compile(s, w, s->lang, source, [this, s, &w](Verdict v, std::string binary) {
          if (v != Verdict::AC) {
            s->result.verdict = v;
            s->release();
            return s->promise.set_value(std::move(s->result));
          }
          s->binary = std::move(binary);  // function tests are compiled in with the code
          run_tests(s, w);
        });
      };
      if (!s->checker_lang || s->checker_lang->compile_argv.empty()) return after_checker();
      compile(s, w, s->checker_lang, s->sub.checker_code, [s, after_checker](Verdict v, std::string binary) {
        if (v != Verdict::AC) {
          s->result.verdict = Verdict::SE;
          s->result.message = "checker: " + s->result.message;
          s->release();
          return s->promise.set_value(std::move(s->result));
        }
        s->checker_binary = std::move(binary);
        after_checker();
      });
    });
    return fut;
  }
};

SandboxPool::SandboxPool(PoolOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
SandboxPool::~SandboxPool() = default;

std::future<RunResult> SandboxPool::run(RunRequest request) {
  auto p = std::make_shared<std::promise<RunResult>>();
  auto fut = p->get_future();
  auto req = std::make_shared<RunRequest>(std::move(request));
  impl_->submit([this, p, req](Impl::Worker& w, std::function<void()> release) {
    impl_->exec(w, *req, [p, release](RunResult r) {
      release();  // first: a waiter that submits again at once then finds the worker idle
      p->set_value(std::move(r));
    });
  });
  return fut;
}

RunResult SandboxPool::run_now(const RunRequest& request) {
  Impl::Worker& w = impl_->acquire();
  RunResult r = impl_->exec_blocking(w, request);
  impl_->release(w);
  return r;
}

std::future<JudgeResult> SandboxPool::judge(Submission submission) { return impl_->judge(std::move(submission)); }

std::future<JudgeResult> SandboxPool::run_source(const std::string& lang, const std::string& source, const std::string& stdin_data,
                                                 const Limits& limits) {
  Submission s;
  s.lang = lang;
  s.code = source;
  s.limits = limits;
  s.tests.push_back({stdin_data, ""});
  s.check_output = false;  // no expected output: the run's own verdict counts (AC = ran cleanly)
  s.id = "run";
  return impl_->judge(std::move(s));
}

int SandboxPool::workers() const { return static_cast<int>(impl_->workers.size()); }
std::string SandboxPool::isolation_error() const { return impl_->first_error; }
int64_t SandboxPool::restarts() const { return impl_->restarts.load(); }

}  // namespace r1::verifiers::code
