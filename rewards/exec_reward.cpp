// Exec reward plugins: any program, started once and kept alive, reading one JSON request per
// line on stdin and answering one JSON line on stdout. A call that times out kills the process
// (and its process group); a crash or timeout restarts it on the next call, up to max_restarts.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <mutex>

#include "rewards/reward.h"

extern char** environ;

namespace r1::rewards {

namespace {

class ExecReward : public RewardFunction {
 public:
  ExecReward(std::vector<std::string> cmd, double timeout_s, int64_t max_restarts, std::string where)
      : cmd_(std::move(cmd)), timeout_s_(timeout_s), max_restarts_(max_restarts), where_(std::move(where)) {
    if (cmd_.empty()) throw RewardError(where_ + ": exec needs a command, e.g. exec = [\"python3\", \"my_reward.py\"]");
    // A plugin that dies while we write to it must not kill us with SIGPIPE.
    signal(SIGPIPE, SIG_IGN);
    std::string err;
    if (!start(err)) throw RewardError(where_ + ": cannot start " + cmd_[0] + ": " + err);
  }
  ~ExecReward() override { stop(); }

  bool thread_safe() const override { return false; }

  RewardValue score(const TaskRef& t, const CompletionRef& c) override {
    std::lock_guard lock(mu_);
    if (pid_ <= 0) {
      if (restarts_ >= max_restarts_)
        return {0, "{}", "disabled after " + std::to_string(restarts_) + " restarts (last: " + last_error_ + ")"};
      std::string err;
      ++restarts_;
      if (!start(err)) return fail("cannot restart: " + err);
    }
    std::string req = json_request_line(t, c) + "\n";
    if (!write_all(req)) return fail("plugin closed its input (exited?)" + exit_note());
    std::string line;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::microseconds(static_cast<int64_t>(timeout_s_ * 1e6));
    while (true) {
      size_t nl = buffer_.find('\n');
      if (nl != std::string::npos) {
        line = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        break;
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
      if (left <= 0) {
        kill_child();
        return fail("timed out after " + std::to_string(timeout_s_) + " s (killed; restarts on the next call)");
      }
      pollfd pfd{out_, POLLIN, 0};
      int rc = poll(&pfd, 1, static_cast<int>(std::min<long long>(left, 1000)));
      if (rc < 0 && errno == EINTR) continue;
      if (rc <= 0) continue;
      char buf[65536];
      ssize_t n = read(out_, buf, sizeof buf);
      if (n <= 0) {
        std::string note = exit_note();
        kill_child();
        return fail("plugin exited" + note);
      }
      buffer_.append(buf, static_cast<size_t>(n));
      if (buffer_.size() > (16u << 20)) {
        kill_child();
        return fail("reply larger than 16 MiB without a newline");
      }
    }
    double r = 0;
    std::string info, err;
    if (!json_parse_reward_line(line, r, info, err)) return {0, "{}", err};
    return {r, info, ""};
  }

 private:
  RewardValue fail(const std::string& msg) {
    last_error_ = msg;
    return {0, "{}", msg};
  }

  bool start(std::string& err) {
    int in_pipe[2], out_pipe[2];
    if (pipe2(in_pipe, O_CLOEXEC) != 0 || pipe2(out_pipe, O_CLOEXEC) != 0) {
      err = std::strerror(errno);
      return false;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in_pipe[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out_pipe[1], 1);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attr, 0);  // its own group: a timeout kills its children too
    std::vector<char*> argv;
    for (auto& a : cmd_) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    pid_t pid = 0;
    int rc = posix_spawnp(&pid, argv[0], &fa, &attr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    close(in_pipe[0]);
    close(out_pipe[1]);
    if (rc != 0) {
      close(in_pipe[1]);
      close(out_pipe[0]);
      err = std::strerror(rc);
      return false;
    }
    pid_ = pid;
    in_ = in_pipe[1];
    out_ = out_pipe[0];
    buffer_.clear();
    return true;
  }

  bool write_all(const std::string& s) {
    size_t off = 0;
    while (off < s.size()) {
      ssize_t n = write(in_, s.data() + off, s.size() - off);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        kill_child();
        return false;
      }
      off += static_cast<size_t>(n);
    }
    return true;
  }

  std::string exit_note() {
    if (pid_ <= 0) return "";
    int status = 0;
    // Give a crashing child a moment to be reaped so the note can say why it ended.
    for (int i = 0; i < 20; ++i) {
      pid_t r = waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        pid_ = -1;
        if (WIFSIGNALED(status)) return " (killed by signal " + std::to_string(WTERMSIG(status)) + ")";
        return " (exit code " + std::to_string(WEXITSTATUS(status)) + ")";
      }
      usleep(5000);
    }
    return "";
  }

  void kill_child() {
    if (pid_ > 0) {
      kill(-pid_, SIGKILL);
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    pid_ = -1;
    if (in_ >= 0) close(in_);
    if (out_ >= 0) close(out_);
    in_ = out_ = -1;
    buffer_.clear();
  }

  void stop() {
    if (pid_ > 0) {
      close(in_);
      in_ = -1;
      for (int i = 0; i < 20 && pid_ > 0; ++i) {
        if (waitpid(pid_, nullptr, WNOHANG) == pid_) pid_ = -1;
        else usleep(10000);
      }
    }
    kill_child();
  }

  std::vector<std::string> cmd_;
  double timeout_s_;
  int64_t max_restarts_, restarts_ = 0;
  std::string where_, last_error_, buffer_;
  pid_t pid_ = -1;
  int in_ = -1, out_ = -1;
  std::mutex mu_;
};

}  // namespace

std::unique_ptr<RewardFunction> make_exec_reward(const std::vector<std::string>& command, double timeout_s,
                                                 int64_t max_restarts, const std::string& where) {
  return std::make_unique<ExecReward>(command, timeout_s, max_restarts, where);
}

}  // namespace r1::rewards
