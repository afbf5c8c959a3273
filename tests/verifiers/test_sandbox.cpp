// The code sandbox against what a reward-hacking policy will try: every attack ends with the
// right verdict within its limits, leaves no process and no file on the host, and the pool
// serves the next run. Then the judge formats, and the HumanEval / MBPP reference solutions.
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <signal.h>
#include <thread>
#include <unistd.h>

#include "tests/test_util.h"
#include <nlohmann/json.hpp>

#include "datasets/task.h"
#include "verifiers/code/sandbox_pool.h"

using namespace r1::verifiers::code;
namespace fs = std::filesystem;

namespace {

SandboxPool& pool() {
  static SandboxPool p(PoolOptions{.workers = 2});
  return p;
}

Limits quick(double cpu = 1.0) {
  Limits l;
  l.cpu_s = cpu;
  l.wall_s = cpu + 1.5;
  return l;
}

struct Ran {
  JudgeResult r;
  double wall_s;
  const TestVerdict& t() const { return r.tests.at(0); }
};

Ran run(const std::string& lang, const std::string& code, const Limits& l = quick(), const std::string& input = "") {
  auto t0 = std::chrono::steady_clock::now();
  Ran x{pool().run_source(lang, code, input, l).get(), 0};
  x.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return x;
}

// The parent of `pid` (from /proc/PID/stat, whose second field, the command, may hold spaces and
// parentheses: the fields after it follow the last ')'); 0 when it is gone.
long parent_of(long pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream rest(stat.substr(close + 1));
  std::string state;
  long ppid = 0;
  rest >> state >> ppid;
  return ppid;
}

// Is `pid` this test's descendant (its sandbox workers and what they started), or an orphan the
// host's init adopted (what an escape from the sandbox would look like)? Other suites that ctest
// runs at the same time start sandboxed programs of the same names under their own processes:
// those are not ours.
bool ours(long pid) {
  const long self = getpid();
  if (parent_of(pid) == 1) return true;
  for (int depth = 0; depth < 64 && pid > 1; ++depth) {
    pid = parent_of(pid);
    if (pid == self) return true;
  }
  return false;
}

// This test's processes whose command line contains `needle` (sandboxed ones are visible from here).
int host_processes(const std::string& needle) {
  int n = 0;
  for (const auto& e : fs::directory_iterator("/proc")) {
    std::string name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    if (!ours(std::stol(name))) continue;
    std::ifstream in(e.path() / "cmdline", std::ios::binary);
    std::string cmd((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    for (auto& c : cmd)
      if (c == '\0') c = ' ';
    if (cmd.find(needle) != std::string::npos) ++n;
  }
  return n;
}

// After each attack: nothing of it runs on the host any more, and the pool still works.
void check_aftermath() {
  CHECK(host_processes("python3 -I -B main.py") == 0);
  CHECK(host_processes("./main") == 0);
  auto next = run("python", "print(6 * 7)");
  CHECK(to_string(next.r.verdict) == std::string("AC"));
  CHECK(next.t().stdout_data == "42\n");
}

std::string verdict(const Ran& x) { return to_string(x.r.verdict); }

}  // namespace

TEST_CASE("the sandbox isolates on this host (or says exactly why not)") {
  INFO(pool().isolation_error());
  REQUIRE(pool().isolation_error().empty());
  auto x = run("python", "import sys\nprint(sum(map(int, sys.stdin.read().split())))\n", quick(), "1 2 3\n");
  CHECK(verdict(x) == "AC");
  CHECK(x.t().stdout_data == "6\n");
  auto c = run("cpp", "#include <iostream>\nint main(){long a,b;std::cin>>a>>b;std::cout<<a*b<<'\\n';}\n", quick(), "6 7");
  CHECK(verdict(c) == "AC");
  CHECK(c.t().stdout_data == "42\n");
}

TEST_CASE("a host that cannot isolate gives SE naming what is missing, never an unisolated run") {
  SandboxPool broken(PoolOptions{.workers = 1, .worker_path = "/nonexistent/r1-sandbox-worker"});
  CHECK(broken.isolation_error().find("/nonexistent/r1-sandbox-worker") != std::string::npos);
  JudgeResult r = broken.run_source("python", "print(1)", "", quick()).get();
  CHECK(to_string(r.verdict) == std::string("SE"));
  CHECK(r.message.find("r1-sandbox-worker") != std::string::npos);
  CHECK((r.tests.empty() || r.tests[0].stdout_data.empty()));
  RunRequest q;
  q.argv = {"/usr/bin/python3", "-c", "print(1)"};
  RunResult now = broken.run_now(q);
  CHECK(now.error.find("r1-sandbox-worker") != std::string::npos);
  CHECK(now.stdout_data.empty());
}

TEST_CASE("run_now: blocking runs take their turn among futures, and a worker that dies mid-run is replaced") {
  // A pool of its own, told apart from the others by its /work size on the worker's command line.
  SandboxPool one(PoolOptions{.workers = 1, .work_bytes = 48ll << 20 | 12345});
  auto echo = [](int i) {
    RunRequest q;
    q.argv = {"/usr/bin/python3", "-c", "import sys; print(int(sys.stdin.read()) * 2)"};
    q.stdin_data = std::to_string(i);
    q.limits = quick();
    return q;
  };
  std::vector<std::future<RunResult>> queued;
  for (int i = 0; i < 3; ++i) queued.push_back(one.run(echo(i)));
  RunResult mine = one.run_now(echo(21));  // waits for the worker behind the queued runs
  CHECK(mine.error.empty());
  CHECK(mine.stdout_data == "42\n");
  for (int i = 0; i < 3; ++i) CHECK(queued[i].get().stdout_data == std::to_string(2 * i) + "\n");

  RunRequest sleeper;
  sleeper.argv = {"/usr/bin/python3", "-c", "import time; time.sleep(5)"};
  sleeper.limits = quick(6);
  const std::string tag = "--work-bytes " + std::to_string(48ll << 20 | 12345);
  std::thread killer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    for (const auto& e : fs::directory_iterator("/proc")) {
      std::ifstream in(e.path() / "cmdline", std::ios::binary);
      std::string cmd((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      for (auto& c : cmd)
        if (c == '\0') c = ' ';
      if (cmd.find("r1-sandbox-worker") != std::string::npos && cmd.find(tag) != std::string::npos)
        kill(std::stoi(e.path().filename().string()), SIGKILL);
    }
  });
  auto t0 = std::chrono::steady_clock::now();
  RunResult died = one.run_now(sleeper);
  killer.join();
  CHECK(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() < 4);
  CHECK(died.error.find("sandbox worker died") != std::string::npos);
  CHECK(one.restarts() == 1);
  RunResult after = one.run_now(echo(4));
  CHECK(after.error.empty());
  CHECK(after.stdout_data == "8\n");
  CHECK(host_processes("time.sleep(5)") == 0);  // the run's PID namespace died with its worker
}

TEST_CASE("time: infinite loops and sleeping forever are TLE within the wall limit") {
  auto spin = run("python", "while True:\n    pass\n");
  CHECK(verdict(spin) == "TLE");
  CHECK(spin.wall_s < 4.0);
  auto cpp = run("cpp", "int main(){ volatile unsigned long x = 0; for(;;) ++x; }\n");
  CHECK(verdict(cpp) == "TLE");
  auto sleep = run("python", "import time\ntime.sleep(1000)\n");
  CHECK(verdict(sleep) == "TLE");
  CHECK(sleep.wall_s < 4.0);
  check_aftermath();
}

TEST_CASE("processes: fork bombs and thread bombs end, and nothing they started survives") {
  auto fork_bomb = run("python", "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n");
  CHECK((verdict(fork_bomb) == "TLE" || verdict(fork_bomb) == "RE"));
  CHECK(fork_bomb.wall_s < 4.0);
  check_aftermath();
  auto cpp_bomb = run("cpp", "#include <unistd.h>\nint main(){ for(;;) fork(); }\n");
  CHECK((verdict(cpp_bomb) == "TLE" || verdict(cpp_bomb) == "RE"));
  check_aftermath();
  auto threads = run("python",
                     "import threading, time\nts = []\nwhile True:\n    t = threading.Thread(target=time.sleep, args=(100,))\n"
                     "    t.start()\n    ts.append(t)\n");
  CHECK((verdict(threads) == "RE" || verdict(threads) == "TLE"));
  check_aftermath();
  // a handful of threads is fine (judge convention: at least 8)
  auto eight = run("cpp",
                   "#include <thread>\n#include <vector>\n#include <cstdio>\nint main(){ std::vector<std::thread> v; int s[8]={0};"
                   " for(int i=0;i<8;++i) v.emplace_back([&s,i]{ s[i]=i; }); for(auto& t: v) t.join(); int t=0; for(int x: s) t+=x;"
                   " std::printf(\"%d\\n\", t); }\n");
  CHECK(verdict(eight) == "AC");
  CHECK(eight.t().stdout_data == "28\n");
}

TEST_CASE("memory: bombs in Python and C++ are MLE") {
  Limits l = quick();
  l.memory_bytes = 128ll << 20;
  CHECK(verdict(run("python", "a = bytearray(1 << 34)\n", l)) == "MLE");
  CHECK(verdict(run("python", "x = []\nwhile True:\n    x.append(' ' * 10**6)\n", l)) == "MLE");
  CHECK(verdict(run("cpp", "#include <vector>\nint main(){ std::vector<char> v(1ull << 34); return v[5]; }\n", l)) == "MLE");
  CHECK(verdict(run("cpp",
                    "#include <vector>\n#include <cstring>\nint main(){ std::vector<char*> v; for(;;){ char* p = new char[1<<20];"
                    " std::memset(p, 1, 1<<20); v.push_back(p);} }\n",
                    l)) == "MLE");
  check_aftermath();
}

TEST_CASE("output and disk: floods are OLE, a full disk stays inside the sandbox") {
  auto flood = run("python", "while True:\n    print('x' * 1000)\n");
  CHECK(verdict(flood) == "OLE");
  CHECK(flood.t().stdout_data.size() <= static_cast<size_t>(quick().output_bytes));
  CHECK(flood.wall_s < 4.0);
  auto err_flood = run("cpp", "#include <cstdio>\nint main(){ for(;;) std::fputs(\"yyyyyyyyyyyyyyyy\", stderr); }\n");
  CHECK(verdict(err_flood) == "OLE");
  auto big_file = run("python", "f = open('big', 'wb')\nwhile True:\n    f.write(b'0' * (1 << 20))\n");
  CHECK(verdict(big_file) == "OLE");  // the file size limit
  auto fill = run("python",
                  "i = 0\ntry:\n    while True:\n        open('f%d' % i, 'wb').write(b'0' * (8 << 20))\n        i += 1\n"
                  "except OSError as e:\n    print('full after', i, e.errno)\n");
  CHECK(verdict(fill) == "AC");
  CHECK(fill.t().stdout_data.find("full after") != std::string::npos);
  // the next run starts from an empty /work
  auto clean = run("python", "import os\nprint(sorted(os.listdir('.')))\n");
  CHECK(clean.t().stdout_data == "['main.py']\n");
  check_aftermath();
}

TEST_CASE("files: nothing outside /work is writable, host files are not there to read") {
  std::mt19937_64 rng(std::random_device{}());
  std::string nonce = "r1-escape-" + std::to_string(rng());
  std::string here = fs::current_path().string();
  std::string code = "import os\nok = []\nfor d in ['/', '/usr', '/usr/bin', '/etc', '/dev', '/tmp/..', '/work/..', '" + here +
                     "', '/root', '/home', '/var/tmp']:\n"
                     "    try:\n        open(os.path.join(d, '" + nonce + "'), 'w').write('x')\n        ok.append(d)\n"
                     "    except OSError:\n        pass\n"
                     "print('written', ok)\n"
                     "seen = [p for p in ['/etc/shadow', '/root', '/home', '/proc/self', '/proc/1', '/sys/kernel', '" +
                     R1_SOURCE_DIR + "', '" + here + "', '/var/run/docker.sock', '/run'] if os.path.exists(p)]\n"
                     "print('visible', seen)\n";
  auto x = run("python", code);
  CHECK(verdict(x) == "AC");
  CHECK(x.t().stdout_data == "written []\nvisible []\n");
  for (const char* d : {"/tmp", "/dev/shm", "/var/tmp", "/"}) CHECK(!fs::exists(fs::path(d) / nonce));
  CHECK(!fs::exists(fs::path(here) / nonce));
}

TEST_CASE("environment: the caller's variables and descriptors are not inherited") {
  setenv("R1_TEST_SECRET", "hunter2", 1);
  auto x = run("python",
               "import os\nprint('R1_TEST_SECRET' in os.environ, sorted(int(f) for f in os.listdir('/dev/fd')) "
               "if os.path.exists('/dev/fd') else 'nofd')\n"
               "n = 0\nfor fd in range(3, 256):\n    try:\n        os.fstat(fd)\n        n += 1\n    except OSError:\n        pass\n"
               "print('open beyond stdio:', n)\n");
  unsetenv("R1_TEST_SECRET");
  CHECK(verdict(x) == "AC");
  CHECK(x.t().stdout_data.find("False") == 0);
  CHECK(x.t().stdout_data.find("open beyond stdio: 0") != std::string::npos);
}

TEST_CASE("network: no connection to any address (127.0.0.1 included), no listening") {
  // A real listener on the host's loopback, to make sure a connection would otherwise succeed.
  int srv = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(srv, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  REQUIRE(listen(srv, 4) == 0);
  socklen_t len = sizeof a;
  getsockname(srv, reinterpret_cast<sockaddr*>(&a), &len);
  int port = ntohs(a.sin_port);
  std::string code = "import socket\nres = []\n"
                     "for fam, addr in [(socket.AF_INET, ('127.0.0.1', " + std::to_string(port) + ")), (socket.AF_INET, ('1.1.1.1', 80)),"
                     " (socket.AF_INET6, ('::1', " + std::to_string(port) + "))]:\n"
                     "    try:\n        s = socket.socket(fam, socket.SOCK_STREAM)\n        s.settimeout(1)\n        s.connect(addr)\n"
                     "        res.append('connected')\n    except OSError:\n        res.append('blocked')\n"
                     "try:\n    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)\n    s.bind(('0.0.0.0', 8080))\n    s.listen()\n"
                     "    res.append('listening')\nexcept OSError:\n    res.append('no-listen')\n"
                     "try:\n    socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'x', ('127.0.0.1', 53))\n    res.append('udp')\n"
                     "except OSError:\n    res.append('no-udp')\n"
                     "print(' '.join(res))\n";
  auto x = run("python", code);
  close(srv);
  CHECK(verdict(x) == "AC");
  CHECK(x.t().stdout_data == "blocked blocked blocked no-listen no-udp\n");
}

TEST_CASE("signals and tracing: killing the parent or the group, ptrace, raising limits") {
  const int64_t restarts_before = pool().restarts();
  auto killer = run("python", "import os, signal\nfor f in [lambda: os.kill(os.getppid(), 9), lambda: os.killpg(0, 9), lambda: os.kill(-1, 9)]:\n"
                              "    try:\n        f()\n    except OSError:\n        pass\nprint('alive')\n");
  CHECK((verdict(killer) == "RE" || verdict(killer) == "AC"));
  CHECK(pool().restarts() == restarts_before);  // no worker was reached
  check_aftermath();
  auto trace = run("cpp",
                   "#include <sys/ptrace.h>\n#include <cstdio>\n#include <cerrno>\nint main(){ long a = ptrace(PTRACE_TRACEME, 0, 0, 0);"
                   " long b = ptrace(PTRACE_ATTACH, 1, 0, 0); std::printf(\"%ld %ld\\n\", a, b); }\n");
  CHECK(verdict(trace) == "AC");
  CHECK(trace.t().stdout_data == "-1 -1\n");
  auto limits = run("python",
                    "import resource\nout = []\nfor r in [resource.RLIMIT_CPU, resource.RLIMIT_AS, resource.RLIMIT_NPROC, resource.RLIMIT_FSIZE]:\n"
                    "    try:\n        resource.setrlimit(r, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))\n        out.append('raised')\n"
                    "    except (ValueError, OSError):\n        out.append('denied')\nprint(' '.join(out))\n");
  CHECK(limits.t().stdout_data == "denied denied denied denied\n");
  auto ns = run("python", "import os\ntry:\n    os.unshare(os.CLONE_NEWUSER)\n    print('unshared')\nexcept (OSError, AttributeError):\n    print('no')\n");
  CHECK(ns.t().stdout_data == "no\n");
}

TEST_CASE("nothing a run writes to /work (files, folders, /dev/shm) is there for the next run") {
  SandboxPool one(PoolOptions{.workers = 1});  // one worker: the second run lands where the first ran
  auto write = one.run_source("python",
                              "import os\nos.makedirs('a/b/c')\nopen('a/b/c/deep', 'w').write('x')\nopen('top', 'w').write('y')\n"
                              "open('/dev/shm/shm', 'w').write('z')\nos.symlink('/etc/passwd', 'link')\nprint(sorted(os.listdir('.')))\n",
                              "", quick()).get();
  CHECK(to_string(write.verdict) == std::string("AC"));
  CHECK(write.tests.at(0).stdout_data == "['a', 'link', 'main.py', 'shm', 'top']\n");  // /dev/shm is /work
  for (int i = 0; i < 2; ++i) {
    auto look = one.run_source("python", "import os\nprint(sorted(os.listdir('.')), sorted(os.listdir('/dev/shm')))\n", "", quick()).get();
    CHECK(to_string(look.verdict) == std::string("AC"));
    // Only the program file of this run itself.
    CHECK(look.tests.at(0).stdout_data == "['main.py'] ['main.py']\n");
  }
}

TEST_CASE("a shipped program runs from a sealed copy: no run can change what a later run of it executes") {
  // The worker execs shipped executables from sealed in-memory files kept for the next request
  // with the same bytes (a judge sends the compiled program with every test). One worker, so the
  // runs follow each other where the program ran before.
  SandboxPool one(PoolOptions{.workers = 1});
  auto program = [](const std::string& name) {
    // Looks for itself, then tries to replace ./main with a program of its own.
    return "#include <cstdio>\n#include <fcntl.h>\n#include <unistd.h>\nint main(){"
           " int fd = open(\"./main\", O_RDONLY); std::printf(\"" + name + " %d\\n\", fd >= 0);"
           " fd = open(\"./main\", O_WRONLY | O_CREAT | O_TRUNC, 0755); if (fd >= 0) { (void)!write(fd, \"#!/bin/sh\\necho owned\\n\", 22); close(fd); } }\n";
  };
  // Where the kernel refuses to execute memfds (vm.memfd_noexec = 2) the worker writes the
  // program into /work instead, fresh for every run: the program then sees itself.
  std::ifstream noexec_sysctl("/proc/sys/vm/memfd_noexec");
  int noexec = 0;
  noexec_sysctl >> noexec;
  const std::string seen = noexec >= 2 ? " 1" : " 0";
  Submission a;
  a.lang = "cpp";
  a.code = program("a");
  a.limits = quick();
  a.tests = {{"", "a" + seen}, {"", "a" + seen}, {"", "a" + seen}};
  Submission b = a;
  b.code = program("b");
  b.tests = {{"", "b" + seen}, {"", "b" + seen}};
  for (int round = 0; round < 2; ++round) {
    for (const Submission& s : {a, b}) {
      JudgeResult r = one.judge(s).get();
      INFO(r.message);
      CHECK(to_string(r.verdict) == std::string("AC"));
      CHECK(r.passed == static_cast<int>(s.tests.size()));
    }
  }
  // A script cannot be executed from a sealed copy (its interpreter opens it by path): it is
  // written into /work as before.
  RunRequest script;
  script.argv = {"./run.sh"};
  script.files["run.sh"] = "#!/bin/sh\necho script $0\n";
  script.executable = {"run.sh"};
  script.limits = quick();
  RunResult sr = one.run(script).get();
  CHECK(sr.error.empty());
  CHECK(sr.stdout_data == "script ./run.sh\n");
  CHECK(one.restarts() == 0);
}

TEST_CASE("capabilities: a program has none, and cannot clone itself into any new namespace") {
  // The worker keeps CAP_SYS_ADMIN to give each run a PID namespace; its programs must not.
  // (There is no /proc in the sandbox: the kernel is asked directly.)
  auto caps = run("cpp",
                  "#include <sys/prctl.h>\n#include <linux/capability.h>\n#include <cstdio>\nint main(){ int n = 0;"
                  " for (int c = 0; c <= CAP_LAST_CAP; ++c) n += prctl(PR_CAPBSET_READ, c, 0, 0, 0) == 1;"
                  " std::printf(\"%d %d %d\\n\", n, (int)prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0), (int)prctl(PR_GET_SECCOMP, 0, 0, 0, 0)); }\n");
  CHECK(verdict(caps) == "AC");
  CHECK(caps.t().stdout_data == "0 1 2\n");  // empty bounding set, no_new_privs, seccomp filter mode
  auto clones = run("cpp",
                    "#include <sched.h>\n#include <signal.h>\n#include <sys/syscall.h>\n#include <unistd.h>\n#include <cstdio>\n"
                    "int main(){ const long flags[] = {CLONE_NEWPID, CLONE_NEWUSER, CLONE_NEWNS, CLONE_NEWNET, CLONE_NEWIPC, CLONE_NEWUTS};"
                    " int made = 0; for (long f : flags) { long pid = syscall(SYS_clone, f | SIGCHLD, 0, 0, 0, 0);"
                    " if (pid == 0) _exit(0); if (pid > 0) ++made; }"
                    " int un = 0; for (long f : flags) un += unshare(f) == 0; std::printf(\"%d %d\\n\", made, un); }\n");
  CHECK(verdict(clones) == "AC");
  CHECK(clones.t().stdout_data == "0 0\n");
  check_aftermath();
}

TEST_CASE("System V IPC objects of one run are gone before the next (the worker's IPC namespace is shared)") {
  SandboxPool one(PoolOptions{.workers = 1});  // the creator and the checker share one worker
  const std::string create =
      "#include <sys/ipc.h>\n#include <sys/shm.h>\n#include <sys/sem.h>\n#include <sys/msg.h>\n#include <cstdio>\n"
      "int main(){ int a = shmget(4242, 4096, IPC_CREAT | 0600); int b = semget(4243, 2, IPC_CREAT | 0600);"
      " int c = msgget(4244, IPC_CREAT | 0600); std::printf(\"%d\\n\", a >= 0 && b >= 0 && c >= 0); }\n";
  const std::string check =
      "#include <sys/ipc.h>\n#include <sys/shm.h>\n#include <sys/sem.h>\n#include <sys/msg.h>\n#include <cstdio>\n"
      "int main(){ std::printf(\"%d %d %d\\n\", shmget(4242, 0, 0), semget(4243, 0, 0), msgget(4244, 0)); }\n";
  for (int i = 0; i < 2; ++i) {
    JudgeResult made = one.run_source("cpp", create, "", quick()).get();
    REQUIRE(made.tests.size() == 1);
    CHECK(made.tests[0].stdout_data == "1\n");
    JudgeResult seen = one.run_source("cpp", check, "", quick()).get();
    REQUIRE(seen.tests.size() == 1);
    CHECK(seen.tests[0].stdout_data == "-1 -1 -1\n");
  }
}

TEST_CASE("a daemonised child does not outlive the run") {
  auto x = run("python",
               "import os, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n        time.sleep(60)\n    os._exit(0)\n"
               "print('parent done')\n");
  CHECK(verdict(x) == "AC");
  CHECK(x.wall_s < 2.5);
  check_aftermath();
}

TEST_CASE("non-zero exit is RE even after correct output; signals are reported") {
  auto x = run("python", "print(42)\nraise SystemExit(3)\n");
  CHECK(verdict(x) == "RE");
  CHECK(x.t().exit_code == 3);
  auto seg = run("cpp", "int main(){ volatile int* p = nullptr; return *p; }\n");
  CHECK(verdict(seg) == "RE");
  CHECK(seg.t().signal == 11);
}

TEST_CASE("compiles that never end or flood their output are CE with a truncated message") {
  Submission s;
  s.lang = "cpp";
  s.code = "#include \"/dev/urandom\"\nint main(){}\n";
  s.tests = {{"", ""}};
  auto t0 = std::chrono::steady_clock::now();
  JudgeResult r = pool().judge(s).get();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  CHECK(to_string(r.verdict) == std::string("CE"));
  CHECK(r.message.size() <= 4200);
  CHECK(secs < 25);
  s.code = "int main() { return undefined_name; }\n";
  r = pool().judge(s).get();
  CHECK(to_string(r.verdict) == std::string("CE"));
  CHECK(r.message.find("undefined_name") != std::string::npos);
  check_aftermath();
}

TEST_CASE("judge formats: stdin/stdout with float tolerance, function tests, a custom checker") {
  Submission s;
  s.id = "sum";
  s.lang = "python";
  s.code = "a, b = map(float, input().split())\nprint(a / b)\n";
  s.tests = {{"1 3", "0.3333333"}, {"2 4", "0.5"}, {"1 0", "inf"}};
  s.float_tolerance = 1e-6;
  JudgeResult r = pool().judge(s).get();
  REQUIRE(r.tests.size() == 3);
  CHECK(to_string(r.tests[0].verdict) == std::string("AC"));
  CHECK(to_string(r.tests[1].verdict) == std::string("AC"));
  CHECK(to_string(r.tests[2].verdict) == std::string("RE"));  // ZeroDivisionError
  CHECK(r.passed == 2);
  CHECK(r.total == 3);
  CHECK(to_string(r.verdict) == std::string("RE"));
  s.float_tolerance = 0;
  CHECK(pool().judge(s).get().passed == 1);  // "0.3333333333333333" != "0.3333333" token-wise

  Submission f;
  f.lang = "python";
  f.code = "def add(a, b):\n    return a + b\n";
  f.test_code = "def check(candidate):\n    assert candidate(2, 3) == 5\n    assert candidate(-1, 1) == 0\n";
  f.entry_point = "add";
  CHECK(to_string(pool().judge(f).get().verdict) == std::string("AC"));
  f.code = "def add(a, b):\n    return a - b\n";
  CHECK(to_string(pool().judge(f).get().verdict) == std::string("RE"));  // AssertionError

  Submission c;
  c.lang = "cpp";
  c.code = "#include <cstdio>\nint main(){ int n; std::scanf(\"%d\", &n); std::printf(\"%d %d\\n\", 1, n - 1); }\n";
  c.tests = {{"5", "2 3"}, {"10", "5 5"}};  // any pair summing to n is right
  c.checker_lang = "python";
  c.checker_code = "import sys\nn = int(open(sys.argv[1]).read())\na, b = map(int, open(sys.argv[3]).read().split())\n"
                   "sys.exit(0 if a + b == n and a > 0 and b > 0 else 1)\n";
  JudgeResult cr = pool().judge(c).get();
  CHECK(cr.passed == 2);
  CHECK(to_string(cr.verdict) == std::string("AC"));
  c.code = "#include <cstdio>\nint main(){ std::printf(\"0 0\\n\"); }\n";
  CHECK(to_string(pool().judge(c).get().verdict) == std::string("WA"));
}

TEST_CASE("outputs_match compares tokens, with optional tolerance") {
  CHECK(outputs_match("1 2\n3", "1  2 3\n\n"));
  CHECK(!outputs_match("1 2 3", "1 2"));
  CHECK(!outputs_match("0.5", "0.5000001", 0));
  CHECK(outputs_match("0.5", "0.5000001", 1e-6));
  CHECK(outputs_match("1e9", "1000000001", 1e-6));
  CHECK(!outputs_match("abc", "abd", 1e-6));
}

namespace {

struct FunctionProblem {
  std::string id, code, test_code, entry_point;
};

std::vector<FunctionProblem> function_problems(const std::string& shared, const std::string& name) {
  r1::datasets::DataConfig c;
  c.dataset = name;
  std::vector<FunctionProblem> out;
  for (const auto& t : r1::datasets::load_tasks(c, shared, 1)) {
    auto j = nlohmann::json::parse(t.tests_json);
    FunctionProblem p;
    p.id = t.id;
    p.code = j.value("prompt", std::string()) + t.answer;  // HumanEval: prompt + body; MBPP: whole code
    p.test_code = j.value("test_code", std::string());
    p.entry_point = j.value("entry_point", std::string());
    out.push_back(p);
  }
  return out;
}

// The canonical solution with its return value perturbed: a wrong solution the tests must fail.
std::string perturbed(const FunctionProblem& p) {
  return p.code + "\n\n_r1_original = " + p.entry_point +
         "\ndef " + p.entry_point + "(*args, **kwargs):\n"
         "    r = _r1_original(*args, **kwargs)\n"
         "    if isinstance(r, bool): return not r\n"
         "    if isinstance(r, (int, float)): return r + 1\n"
         "    if isinstance(r, str): return r + 'x'\n"
         "    if isinstance(r, list): return r + [None]\n"
         "    if isinstance(r, tuple): return r + (None,)\n"
         "    if r is None: return 0\n"
         "    return None\n";
}

// The problem's function test with `code` as the program (the reference or a changed one).
std::future<JudgeResult> judge_function(const FunctionProblem& p, const std::string& code) {
  Submission s;
  s.id = p.id;
  s.lang = "python";
  s.code = code;
  s.test_code = p.test_code;
  s.entry_point = p.entry_point;
  s.limits = quick(5.0);
  return pool().judge(s);
}

// How many were accepted; each rejection is reported with the start of its stderr.
int accepted(const std::vector<FunctionProblem>& problems, std::vector<std::future<JudgeResult>>& verdicts, bool report) {
  int n = 0;
  for (size_t i = 0; i < problems.size(); ++i) {
    JudgeResult r = verdicts[i].get();
    if (r.verdict == Verdict::AC) ++n;
    else if (report) MESSAGE(problems[i].id << ": " << to_string(r.verdict) << " " << r.tests.at(0).stderr_data.substr(0, 300));
  }
  return n;
}

}  // namespace

TEST_CASE("HumanEval: canonical solutions pass 164/164, perturbed ones fail") {
  R1_REQUIRE_SHARED(shared);
  auto problems = function_problems(shared, "humaneval");
  REQUIRE(problems.size() == 164);
  std::vector<std::future<JudgeResult>> right, wrong;
  for (const auto& p : problems) {
    right.push_back(judge_function(p, p.code));
    wrong.push_back(judge_function(p, perturbed(p)));
  }
  CHECK(accepted(problems, right, true) == 164);
  int rejected = 164 - accepted(problems, wrong, false);
  MESSAGE("HumanEval perturbed solutions rejected: " << rejected << "/164");
  CHECK(rejected >= 155);
}

TEST_CASE("MBPP (sanitized): reference solutions pass >= 99%") {
  R1_REQUIRE_SHARED(shared);
  auto problems = function_problems(shared, "mbpp");
  REQUIRE(problems.size() == 427);
  std::vector<std::future<JudgeResult>> verdicts;
  for (const auto& p : problems) verdicts.push_back(judge_function(p, p.code));
  int passed = accepted(problems, verdicts, true);
  MESSAGE("MBPP sanitized reference solutions: " << passed << "/427");
  CHECK(passed * 100 >= 99 * 427);
}
