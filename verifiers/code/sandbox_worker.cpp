// r1-sandbox-worker: the isolated process that runs untrusted programs for the pool.
//
// Started by SandboxPool with a socket on fd 3. It isolates itself once (isolation.cpp: user,
// mount, network, UTS and IPC namespaces; a private root), says hello (a RunResult whose `error`
// names what is missing when isolation failed), then serves one RunRequest at a time:
//   write the files into an empty /work (a shipped executable that is the program runs from a
//   sealed in-memory copy, ExecutableCache); clone a new PID namespace whose init is the program
//   (rlimits, no capabilities; no_new_privs and seccomp come with the worker); feed stdin, then
//   close it; read stdout and stderr up to their caps; enforce the wall limit; kill the namespace
//   at the end, so nothing it started outlives the run. After the result is sent it wipes /work
//   and the System V IPC objects, off the critical path (the pool is reading the result then).
//   Kept small on purpose: forking it must be cheap.
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <vector>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <string>

#include "verifiers/code/isolation.h"
#include "verifiers/code/protocol.h"

using namespace r1::verifiers::code;
namespace fs = std::filesystem;

namespace {

double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

// Everything the child needs, prepared before the clone: between clone(CLONE_VM | CLONE_VFORK)
// and exec the child shares our memory, so it only makes system calls (as posix_spawn does), and
// a failure before or at exec is reported the same way: its errno, written into this struct.
struct Child {
  int in_r, out_w, err_w;
  int exec_fd;  // >= 0: exec this sealed in-memory copy of argv[0] (ExecutableCache), else execve
  std::vector<char*> argv;
  const char* const* envp;
  rlim_t cpu, memory, processes, file_size, open_files;
  const Isolation* iso;
  volatile int exec_errno = 0;  // still 0 once we resume: the program runs
};

// Executables that come with a request are exec'd from sealed in-memory files (memfd) that the
// worker keeps for later requests carrying the same bytes: a judge sends one compiled program with
// each of its tests, and writing it into /work for every run cost as much as a third of running it.
// Sealed means that no process, the runs included, can change a byte of them; a run never sees the
// descriptor (close-on-exec), and a request matches an entry only when every byte is equal.
class ExecutableCache {
 public:
  // The descriptor of a sealed copy of `bytes`, or -1 when the kernel will not execute memfds
  // (vm.memfd_noexec = 2, or no memfd): the caller then writes the file into /work.
  int fd_for(const std::string& bytes) {
    for (auto& e : entries_)
      if (e.bytes == bytes) {
        e.last_use = ++clock_;
        return e.fd;
      }
    if (disabled_) return -1;
    int fd = create(bytes);
    if (fd < 0) return -1;
    while (!entries_.empty() && (entries_.size() >= kMaxEntries || held_ + bytes.size() > kMaxBytes)) {
      auto oldest = std::min_element(entries_.begin(), entries_.end(),
                                     [](const Entry& a, const Entry& b) { return a.last_use < b.last_use; });
      held_ -= oldest->bytes.size();
      close(oldest->fd);
      entries_.erase(oldest);
    }
    held_ += bytes.size();
    entries_.push_back({bytes, fd, ++clock_});
    return fd;
  }

 private:
  static constexpr size_t kMaxEntries = 8;
  static constexpr size_t kMaxBytes = 64u << 20;
  struct Entry {
    std::string bytes;
    int fd;
    uint64_t last_use;
  };

  int create(const std::string& bytes) {
    // MFD_EXEC (Linux 6.3+) keeps the file executable where vm.memfd_noexec = 1 would seal it
    // non-executable; older kernels do not know the flag and execute every memfd.
    constexpr unsigned kMfdExec = 0x10;
    int fd = static_cast<int>(syscall(SYS_memfd_create, "r1-program", MFD_CLOEXEC | MFD_ALLOW_SEALING | kMfdExec));
    if (fd < 0 && errno == EINVAL) fd = static_cast<int>(syscall(SYS_memfd_create, "r1-program", MFD_CLOEXEC | MFD_ALLOW_SEALING));
    if (fd < 0) {
      disabled_ = errno != EMFILE && errno != ENFILE && errno != ENOMEM;
      return -1;
    }
    struct stat st {};
    if (!wire::write_all(fd, bytes) || fstat(fd, &st) != 0 || (st.st_mode & 0111) == 0 ||
        fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) != 0) {
      close(fd);
      return -1;
    }
    return fd;
  }

  std::vector<Entry> entries_;
  size_t held_ = 0;
  uint64_t clock_ = 0;
  bool disabled_ = false;
};

// Closes every descriptor >= 3 except `keep` (-1: none) with close_range() (a close() loop over
// the descriptor table costs more than a whole run of a small program). No allocation: see Child.
void close_fds_except(int keep) {
  auto range = [](unsigned a, unsigned b) {
    if (a > b) return;
    if (syscall(SYS_close_range, a, b, 0) == 0) return;
    for (unsigned fd = a; fd <= std::min(b, 4095u); ++fd) close(static_cast<int>(fd));
  };
  if (keep < 3) return range(3, ~0u);
  range(3, static_cast<unsigned>(keep) - 1);
  range(static_cast<unsigned>(keep) + 1, ~0u);
}

[[noreturn]] void fail_child(Child& c, const char* what) {
  int e = errno;
  c.exec_errno = e != 0 ? e : EINVAL;
  (void)!write(2, what, std::strlen(what));
  _exit(127);
}

// PID 1 of the run's fresh PID namespace: when it exits, the kernel kills whatever it started.
int exec_program(void* arg) {
  Child& c = *static_cast<Child*>(arg);
  // A session of its own: kill(0, ...) and killpg() then reach only the run's processes, not the
  // worker's process group, whose members live outside this PID namespace but share our uid.
  setsid();
  dup2(c.in_r, 0);
  dup2(c.out_w, 1);
  dup2(c.err_w, 2);
  close_fds_except(c.exec_fd);  // only stdin, stdout, stderr are inherited (exec_fd is close-on-exec)
  // exec resets caught signals to their default but keeps ignored ones: SIGPIPE is the only
  // signal the worker ignores (main), so it is the only one to restore.
  sigset_t none;
  sigemptyset(&none);
  signal(SIGPIPE, SIG_DFL);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  if (chdir("/work") != 0) fail_child(c, "sandbox: chdir /work failed\n");
  auto lim = [](int what, rlim_t soft, rlim_t hard) {
    rlimit r{soft, hard};
    setrlimit(what, &r);
  };
  lim(RLIMIT_CPU, c.cpu, c.cpu + 1);
  lim(RLIMIT_AS, c.memory, c.memory);
  // Judge convention: the stack may use all the memory. An unlimited stack rlimit under the
  // address-space limit says exactly that — and keeps glibc's thread stacks at their 8 MiB
  // default (a finite RLIMIT_STACK becomes every thread's stack size: 8 threads could not start).
  lim(RLIMIT_STACK, RLIM_INFINITY, RLIM_INFINITY);
  lim(RLIMIT_NPROC, c.processes, c.processes);
  lim(RLIMIT_FSIZE, c.file_size, c.file_size);
  lim(RLIMIT_NOFILE, c.open_files, c.open_files);
  lim(RLIMIT_CORE, 0, 0);
  lim(RLIMIT_MEMLOCK, 0, 0);
  lim(RLIMIT_MSGQUEUE, 0, 0);
  if (!c.iso->confine_process()) fail_child(c, "sandbox: cannot drop privileges or install the seccomp filter\n");
  // If the worker dies (killed by the pool as hung, or crashed), the program dies with it: its
  // PID namespace, and whatever it started, with it. Nothing else would end a program sleeping
  // forever once the worker that enforces its wall limit is gone. Kept across exec.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (c.exec_fd >= 0) syscall(SYS_execveat, c.exec_fd, "", c.argv.data(), c.envp, AT_EMPTY_PATH);
  else execve(c.argv[0], c.argv.data(), const_cast<char* const*>(c.envp));
  fail_child(c, "sandbox: cannot execute the program\n");
}

void set_nonblocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

// The file of /work that argv[0] names ("./main", "main" or "/work/main"), or "".
std::string program_file(const RunRequest& q) {
  std::string a = q.argv.empty() ? "" : q.argv[0];
  if (a.rfind("./", 0) == 0) a = a.substr(2);
  else if (a.rfind("/work/", 0) == 0) a = a.substr(6);
  return a.find('/') == std::string::npos ? a : "";
}

// Writes the request's files into /work, except the program itself when it comes from `exec_fd`.
std::string write_files(const RunRequest& q, const std::string& skip) {
  for (const auto& [name, data] : q.files) {
    if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..")
      return "bad file name '" + name + "'";
    if (name == skip) continue;
    bool exe = false;
    for (const auto& e : q.executable) exe |= e == name;
    int fd = open(("/work/" + name).c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, exe ? 0755 : 0644);
    if (fd < 0) return "cannot write /work/" + name + ": " + std::strerror(errno);
    bool ok = wire::write_all(fd, data);
    close(fd);
    if (!ok) return "cannot write /work/" + name + " (work folder full?)";
  }
  return "";
}

// Empties /work and the System V objects. Done right after a run's result is sent, while the pool
// reads it and prepares the next request, and again before a run if that failed (or never ran).
std::string reset(const Isolation& iso) {
  std::string why = iso.wipe_work();
  return why.empty() ? iso.wipe_ipc() : why;
}

RunResult run(const RunRequest& q, const Isolation& iso, bool clean, ExecutableCache& cache) {
  RunResult r;
  if (q.argv.empty()) {
    r.error = "empty argv";
    return r;
  }
  // A shipped executable that is the program runs from the cache; a script ("#!") needs a path
  // its interpreter can open, so it goes into /work like every other file.
  int exec_fd = -1;
  std::string program = program_file(q);
  auto shipped = q.files.find(program);
  if (shipped != q.files.end() && std::find(q.executable.begin(), q.executable.end(), program) != q.executable.end() &&
      shipped->second.rfind("#!", 0) != 0)
    exec_fd = cache.fd_for(shipped->second);
  std::string why = clean ? "" : reset(iso);
  if (why.empty()) why = write_files(q, exec_fd >= 0 ? program : "");
  if (!why.empty()) {
    r.error = why;
    return r;
  }
  int in[2], out[2], err[2];
  if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC)) {
    r.error = std::string("pipe: ") + std::strerror(errno);
    return r;
  }
  static const char* const env[] = {"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/work", "TMPDIR=/work", "LANG=C.UTF-8",
                                    "PYTHONHASHSEED=0", "PYTHONDONTWRITEBYTECODE=1", "PYTHONIOENCODING=utf-8", nullptr};
  const Limits& l = q.limits;
  Child c{in[0], out[1], err[1], exec_fd, {}, env,
          static_cast<rlim_t>(std::ceil(l.cpu_s)), static_cast<rlim_t>(l.memory_bytes), static_cast<rlim_t>(l.processes),
          static_cast<rlim_t>(l.file_size_bytes), static_cast<rlim_t>(l.open_files), &iso};
  for (const auto& a : q.argv) c.argv.push_back(const_cast<char*>(a.c_str()));
  c.argv.push_back(nullptr);
  static char stack[256 * 1024];
  double t0 = now_s();
  // CLONE_VFORK: we resume once the program has exec'd (or failed to), like posix_spawn.
  pid_t pid = clone(exec_program, stack + sizeof stack, CLONE_VM | CLONE_VFORK | CLONE_NEWPID | SIGCHLD, &c);
  close(in[0]);
  close(out[1]);
  close(err[1]);
  if (pid < 0) {
    r.error = std::string("clone(new PID namespace): ") + std::strerror(errno);
    for (int fd : {in[1], out[0], err[0]}) close(fd);
    return r;
  }
  const int child_errno = c.exec_errno;
  const bool exec_failed = child_errno != 0;
  int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  set_nonblocking(in[1]);
  set_nonblocking(out[0]);
  set_nonblocking(err[0]);
  size_t in_off = 0;
  int in_fd = in[1];
  if (q.stdin_data.empty()) {
    close(in_fd);  // stdin is closed after the input
    in_fd = -1;
  }
  int out_fd = out[0], err_fd = err[0];
  const double deadline = t0 + q.limits.wall();
  const size_t cap = static_cast<size_t>(q.limits.output_bytes);
  bool done = false, killed = false;
  int wait_status = 0;
  rusage ru{};
  char buf[65536];
  auto drain = [&](int& fd, std::string& into) {
    for (;;) {
      ssize_t n = read(fd, buf, sizeof buf);
      if (n > 0) {
        size_t room = cap > into.size() ? cap - into.size() : 0;
        into.append(buf, std::min(room, static_cast<size_t>(n)));
        if (static_cast<size_t>(n) > room) {
          r.output_limit = true;
          if (!killed) kill(pid, SIGKILL), killed = true;
        }
        continue;
      }
      if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        close(fd);
        fd = -1;
      }
      return;
    }
  };
  while (out_fd >= 0 || err_fd >= 0 || !done) {
    pollfd p[4];
    int n = 0, i_in = -1, i_out = -1, i_err = -1, i_pid = -1;
    if (in_fd >= 0) p[i_in = n++] = {in_fd, POLLOUT, 0};
    if (out_fd >= 0) p[i_out = n++] = {out_fd, POLLIN, 0};
    if (err_fd >= 0) p[i_err = n++] = {err_fd, POLLIN, 0};
    if (!done && pidfd >= 0) p[i_pid = n++] = {pidfd, POLLIN, 0};
    double left = deadline - now_s();
    if (left <= 0 && !killed) {
      r.wall_timeout = true;
      kill(pid, SIGKILL);
      killed = true;
    }
    int timeout_ms = killed ? 50 : static_cast<int>(std::ceil(std::max(0.0, left) * 1000));
    if (pidfd < 0 && !done) timeout_ms = std::min(timeout_ms, 5);
    int k = poll(p, static_cast<nfds_t>(n), timeout_ms);
    if (k < 0 && errno != EINTR) break;
    if (i_in >= 0 && (p[i_in].revents & (POLLOUT | POLLERR | POLLHUP))) {
      ssize_t w = write(in_fd, q.stdin_data.data() + in_off, q.stdin_data.size() - in_off);
      if (w > 0) in_off += static_cast<size_t>(w);
      if (in_off == q.stdin_data.size() || (w < 0 && errno != EAGAIN && errno != EINTR)) {
        close(in_fd);
        in_fd = -1;
      }
    }
    if (i_out >= 0 && p[i_out].revents) drain(out_fd, r.stdout_data);
    if (i_err >= 0 && p[i_err].revents) drain(err_fd, r.stderr_data);
    if (!done && (pidfd < 0 || (i_pid >= 0 && p[i_pid].revents))) {
      if (wait4(pid, &wait_status, WNOHANG, &ru) == pid) {
        done = true;
        // PID 1 is gone, and with it its namespace: any writer left holding our pipes is dead.
        if (in_fd >= 0) close(in_fd), in_fd = -1;
      }
    }
  }
  for (int* fd : {&in_fd, &out_fd, &err_fd})
    if (*fd >= 0) close(*fd), *fd = -1;
  if (!done) {
    kill(pid, SIGKILL);
    wait4(pid, &wait_status, 0, &ru);
  }
  if (pidfd >= 0) close(pidfd);
  r.wall_s = now_s() - t0;
  if (exec_failed) {
    r.error = std::string("cannot start ") + q.argv[0] + ": " + std::strerror(child_errno);
    return r;
  }
  if (WIFEXITED(wait_status)) r.exit_code = WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) r.signal = WTERMSIG(wait_status);
  r.cpu_s = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec * 1e-6;
  r.memory_bytes = static_cast<int64_t>(ru.ru_maxrss) * 1024;
  for (const auto& name : q.return_files) {
    if (name.find('/') != std::string::npos) continue;
    int fd = open(("/work/" + name).c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) continue;
    struct stat stbuf;
    if (fstat(fd, &stbuf) == 0 && S_ISREG(stbuf.st_mode) && stbuf.st_size < (256ll << 20)) {
      std::string data(static_cast<size_t>(stbuf.st_size), '\0');
      ssize_t n = read(fd, data.data(), data.size());
      if (n == stbuf.st_size) r.files[name] = std::move(data);
    }
    close(fd);
  }
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  int fd = 3;
  int64_t work_bytes = 64ll << 20;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    if (k == "--fd") fd = std::atoi(argv[i + 1]);
    if (k == "--work-bytes") work_bytes = std::atoll(argv[i + 1]);
  }
  signal(SIGPIPE, SIG_IGN);  // the only disposition a run's process must reset (exec_program)
  prctl(PR_SET_PDEATHSIG, SIGKILL);  // the pool is gone: so are we
  Isolation iso;
  RunResult hello;
  hello.error = iso.setup(work_bytes);
  if (!wire::write_all(fd, wire::encode(hello))) return 1;
  std::string body;
  bool clean = false;  // /work and the IPC namespace are known empty
  ExecutableCache cache;
  while (wire::read_frame(fd, body)) {
    RunResult res;
    try {
      RunRequest q = wire::decode_request(body);
      res = hello.error.empty() ? run(q, iso, clean, cache) : RunResult{};
      if (!hello.error.empty()) res.error = hello.error;  // never run unisolated
    } catch (const std::exception& e) {
      res.error = e.what();
    }
    clean = false;
    if (!wire::write_all(fd, wire::encode(res))) return 1;
    // Every process of the run is gone (its PID namespace died with it): nothing can write to
    // /work between this reset and the next run.
    clean = hello.error.empty() && reset(iso).empty();
  }
  return 0;
}
