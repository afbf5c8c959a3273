// Namespaces, the private root, capabilities and the seccomp filter of the sandbox worker.
#include "verifiers/code/isolation.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

namespace r1::verifiers::code {

namespace fs = std::filesystem;

namespace {

std::string errno_text(const std::string& what) { return what + ": " + std::strerror(errno); }

bool write_text(const std::string& path, const std::string& text) {
  int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  close(fd);
  return ok;
}

// Read-only bind of `src` at `dst` (which exists), submounts included where the kernel can.
std::string bind_read_only(const std::string& src, const std::string& dst, bool allow_devices) {
  if (mount(src.c_str(), dst.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0) return errno_text("bind " + src);
  mount_attr attr{};
  attr.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | (allow_devices ? 0 : MOUNT_ATTR_NODEV);
  if (syscall(SYS_mount_setattr, -1, dst.c_str(), AT_RECURSIVE, &attr, sizeof attr) == 0) return "";
  // Kernels before 5.12: remount the top mount, keeping the flags a user namespace may not drop.
  struct statvfs sv {};
  statvfs(dst.c_str(), &sv);
  unsigned long flags = MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID;
  if (sv.f_flag & ST_NODEV) flags |= MS_NODEV;
  if (sv.f_flag & ST_NOEXEC) flags |= MS_NOEXEC;
  if (mount(nullptr, dst.c_str(), nullptr, flags, nullptr) != 0) return errno_text("remount read-only " + dst);
  return "";
}

std::string touch(const std::string& path) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return errno_text("create " + path);
  close(fd);
  return "";
}

// Maps uid/gid 0 inside to nobody outside (as root, through a helper still outside), or to our
// own ids (as a user). Root outside must not stay root: RLIMIT_NPROC does not bind real root.
std::string enter_user_namespace() {
  const uid_t uid = geteuid();
  const gid_t gid = getegid();
  int go[2], done[2];
  if (pipe2(go, O_CLOEXEC) || pipe2(done, O_CLOEXEC)) return errno_text("pipe");
  pid_t helper = -1;
  if (uid == 0) {
    helper = fork();
    if (helper < 0) return errno_text("fork");
    if (helper == 0) {
      char c = 0;
      bool ok = read(go[0], &c, 1) == 1;
      std::string proc = "/proc/" + std::to_string(getppid());
      ok = ok && write_text(proc + "/uid_map", "0 65534 1\n") && write_text(proc + "/gid_map", "0 65534 1\n");
      c = ok ? 1 : 0;
      (void)!write(done[1], &c, 1);
      _exit(0);
    }
  }
  int rc = unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWUTS | CLONE_NEWIPC);
  int saved = errno;
  std::string why;
  if (helper > 0) {
    char c = rc == 0 ? 1 : 0;
    (void)!write(go[1], &c, 1);
    c = 0;
    if (rc == 0 && (read(done[0], &c, 1) != 1 || c != 1)) why = "cannot map the sandbox user to nobody (uid_map)";
    waitpid(helper, nullptr, 0);
  }
  for (int fd : {go[0], go[1], done[0], done[1]}) close(fd);
  if (rc != 0) {
    errno = saved;
    return errno_text("unshare(user, mount, network, UTS, IPC namespaces) (user namespaces disabled? see sysctl user.max_user_namespaces)");
  }
  if (!why.empty()) return why;
  if (helper < 0) {
    write_text("/proc/self/setgroups", "deny\n");
    if (!write_text("/proc/self/uid_map", "0 " + std::to_string(uid) + " 1\n") ||
        !write_text("/proc/self/gid_map", "0 " + std::to_string(gid) + " 1\n"))
      return errno_text("write uid_map/gid_map");
  }
  if (setresgid(0, 0, 0) != 0 || setresuid(0, 0, 0) != 0) return errno_text("become uid 0 in the user namespace");
  if (uid == 0) setgroups(0, nullptr);
  return "";
}

std::string build_root(const std::string& root, int64_t work_bytes) {
  std::string why;
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return errno_text("make mounts private");
  // Staging on a tmpfs over /tmp — in our mount namespace only; the host's /tmp is untouched.
  if (mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,nr_inodes=64,mode=0755") != 0)
    return errno_text("mount staging tmpfs");
  mkdir(root.c_str(), 0755);
  if (mount("tmpfs", root.c_str(), "tmpfs", MS_NOSUID, "size=2m,nr_inodes=1024,mode=0755") != 0) return errno_text("mount root tmpfs");
  for (const char* d : {"usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32"}) {
    fs::path host = fs::path("/") / d;
    std::error_code ec;
    auto st = fs::symlink_status(host, ec);
    if (ec || !fs::exists(st)) continue;
    std::string dst = root + "/" + d;
    if (fs::is_symlink(st)) {
      if (symlink(fs::read_symlink(host).c_str(), dst.c_str()) != 0) return errno_text("symlink " + dst);
    } else if (fs::is_directory(st)) {
      mkdir(dst.c_str(), 0755);
      if (!(why = bind_read_only(host, dst, false)).empty()) return why;
    }
  }
  // /etc: only what the loader, Python and g++ read; synthetic passwd and group.
  std::string etc = root + "/etc";
  mkdir(etc.c_str(), 0755);
  std::vector<std::string> keep{"ld.so.cache", "ld.so.conf", "ld.so.conf.d", "alternatives", "localtime", "nsswitch.conf"};
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/etc", ec))
    if (e.path().filename().string().rfind("python3", 0) == 0) keep.push_back(e.path().filename().string());
  for (const auto& name : keep) {
    fs::path host = fs::path("/etc") / name;
    auto st = fs::symlink_status(host, ec);
    if (ec || !fs::exists(st)) continue;
    std::string dst = etc + "/" + name;
    if (fs::is_symlink(st)) {
      if (symlink(fs::read_symlink(host).c_str(), dst.c_str()) != 0) return errno_text("symlink " + dst);
      continue;
    }
    if (fs::is_directory(st)) mkdir(dst.c_str(), 0755);
    else if (!(why = touch(dst)).empty()) return why;
    if (!(why = bind_read_only(host, dst, false)).empty()) return why;
  }
  {
    int fd = open((etc + "/passwd").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    std::string pw = "sandbox:x:0:0:sandbox:/work:/bin/sh\n";
    if (fd < 0 || write(fd, pw.data(), pw.size()) < 0) return errno_text("write /etc/passwd");
    close(fd);
    fd = open((etc + "/group").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    std::string gr = "sandbox:x:0:\n";
    if (fd < 0 || write(fd, gr.data(), gr.size()) < 0) return errno_text("write /etc/group");
    close(fd);
  }
  std::string dev = root + "/dev";
  mkdir(dev.c_str(), 0755);
  for (const char* d : {"null", "zero", "full", "random", "urandom"}) {
    std::string dst = dev + "/" + d;
    if (!(why = touch(dst)).empty()) return why;
    if (!(why = bind_read_only(std::string("/dev/") + d, dst, true)).empty()) return why;
    // read-only mounts still allow writing to a device node (writes to /dev/null succeed)
  }
  std::string work = root + "/work";
  mkdir(work.c_str(), 0755);
  std::string opts = "size=" + std::to_string(work_bytes) + ",nr_inodes=4096,mode=0777";
  if (mount("tmpfs", work.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, opts.c_str()) != 0) return errno_text("mount /work tmpfs");
  if (symlink("/work", (root + "/tmp").c_str()) != 0 || symlink("/work", (dev + "/shm").c_str()) != 0)
    return errno_text("symlink /tmp");
  if (mount(nullptr, root.c_str(), nullptr, MS_REMOUNT | MS_RDONLY | MS_NOSUID, nullptr) != 0)
    return errno_text("remount root read-only");
  if (chdir(root.c_str()) != 0) return errno_text("chdir new root");
  if (syscall(SYS_pivot_root, ".", ".") != 0) return errno_text("pivot_root");
  if (umount2(".", MNT_DETACH) != 0) return errno_text("detach the host's root");
  if (chdir("/work") != 0) return errno_text("chdir /work");
  return "";
}

// Deny what a test program never needs. Namespaces, mounts, tracing, kernel keyrings, BPF,
// perf, module and clock changes, and every socket family but AF_UNIX (there is no network to
// reach anyway; this also stops listening on ports).
std::string build_filter(std::vector<sock_filter>& out) {
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
  if (!ctx) return "seccomp_init failed";
  seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);  // a binary tree of syscall numbers, not a list
  auto deny = [&](const char* name, int err) {
    int nr = seccomp_syscall_resolve_name(name);
    if (nr != __NR_SCMP_ERROR) seccomp_rule_add(ctx, SCMP_ACT_ERRNO(static_cast<uint32_t>(err)), nr, 0);
  };
  for (const char* name :
       {"ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "mount", "umount2", "pivot_root", "chroot", "move_mount",
        "open_tree", "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr", "unshare", "setns", "kexec_load",
        "kexec_file_load", "reboot", "init_module", "finit_module", "delete_module", "swapon", "swapoff", "syslog", "acct",
        "quotactl", "bpf", "perf_event_open", "userfaultfd", "keyctl", "add_key", "request_key", "settimeofday",
        "clock_settime", "adjtimex", "clock_adjtime", "sethostname", "setdomainname", "io_uring_setup", "io_uring_enter",
        "io_uring_register", "name_to_handle_at", "open_by_handle_at", "lookup_dcookie", "vhangup", "uselib", "ioperm",
        "iopl", "fanotify_init", "pidfd_getfd", "landlock_create_ruleset"})
    deny(name, EPERM);
  deny("clone3", ENOSYS);  // glibc then falls back to clone(), whose flags we can inspect
  // CLONE_NEWPID is not among them: the filter is installed once in the worker, which clones each
  // run into a fresh PID namespace. A program cannot do the same: that needs CAP_SYS_ADMIN, and it
  // has no capabilities (and, with no_new_privs and SECBIT_NOROOT, no way to get any back); a new
  // user namespace, where it would have them, is what this rule denies.
  const uint64_t namespace_flags[] = {CLONE_NEWUSER, CLONE_NEWNS,     CLONE_NEWNET, CLONE_NEWIPC,
                                      CLONE_NEWUTS,  CLONE_NEWCGROUP, CLONE_NEWTIME};
  for (uint64_t flag : namespace_flags)
    seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1, SCMP_A0(SCMP_CMP_MASKED_EQ, flag, flag));
  seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES), SCMP_SYS(socket), 1, SCMP_A0(SCMP_CMP_NE, AF_UNIX));
  seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES), SCMP_SYS(socketpair), 1, SCMP_A0(SCMP_CMP_NE, AF_UNIX));
  int fd = memfd_create("r1-seccomp", MFD_CLOEXEC);
  std::string why;
  if (fd < 0 || seccomp_export_bpf(ctx, fd) != 0) {
    why = "seccomp_export_bpf failed";
  } else {
    off_t n = lseek(fd, 0, SEEK_END);
    lseek(fd, 0, SEEK_SET);
    out.resize(static_cast<size_t>(n) / sizeof(sock_filter));
    if (read(fd, out.data(), out.size() * sizeof(sock_filter)) != static_cast<ssize_t>(out.size() * sizeof(sock_filter)))
      why = "seccomp filter read-back failed";
  }
  if (fd >= 0) close(fd);
  seccomp_release(ctx);
  return why;
}

}  // namespace

std::string Isolation::setup(int64_t work_bytes) {
  std::string why = build_filter(filter_);
  if (why.empty()) why = enter_user_namespace();
  if (why.empty()) why = build_root("/tmp/root", work_bytes);
  if (why.empty() && sethostname("sandbox", 7) != 0) why = errno_text("sethostname");
  if (why.empty()) why = lock_down_worker();
  return why;
}

// What every run would otherwise repeat, done once: the worker and all it clones keep
// SECBIT_NOROOT & co. (locked), no_new_privs and the seccomp filter, and only the two
// capabilities it still needs (CAP_SYS_ADMIN: a PID namespace per run; CAP_SETPCAP: to drop
// that one) stay in the bounding set. Attaching a seccomp filter costs more than the rest of a
// small program's isolation, so once per worker instead of once per run matters (bench_sandbox).
std::string Isolation::lock_down_worker() {
  if (prctl(PR_SET_SECUREBITS, SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP | SECBIT_NO_SETUID_FIXUP_LOCKED |
                                   SECBIT_KEEP_CAPS_LOCKED | SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED) != 0)
    return errno_text("set securebits");
  for (int cap = 0; cap <= 63; ++cap)
    if (cap != CAP_SYS_ADMIN && cap != CAP_SETPCAP && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL)
      return errno_text("drop capability " + std::to_string(cap) + " from the bounding set");
  prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return errno_text("set no_new_privs");
  sock_fprog prog{static_cast<unsigned short>(filter_.size()), const_cast<sock_filter*>(filter_.data())};
  // SPEC_ALLOW: without it the kernel forces the speculative-store-bypass mitigation on every
  // filtered task, which alone costs more than the rest of the isolation per run (measured with
  // bench_sandbox). Speculative side channels are outside this sandbox's threat model.
  if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_SPEC_ALLOW, &prog) != 0 &&
      prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0)
    return errno_text("install the seccomp filter");
  return "";
}

std::string Isolation::wipe_work() const {
  // Usually a few files: each is unlinked straight from one read of the directory (the
  // std::filesystem walk cost as much as writing a run's files); folders go to remove_all.
  int dfd = open("/work", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return errno_text("cannot open /work");
  DIR* d = fdopendir(dfd);
  if (!d) {
    close(dfd);
    return errno_text("cannot list /work");
  }
  std::string why;
  while (dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    if (unlinkat(dfd, name.c_str(), 0) == 0) continue;
    if (errno != EISDIR) {
      why = errno_text("cannot clean /work/" + name);
      break;
    }
    std::error_code rm;
    fs::remove_all(fs::path("/work") / name, rm);
    if (rm) {
      why = "cannot clean /work: " + rm.message();
      break;
    }
  }
  closedir(d);
  return why;
}

// System V objects live in the worker's IPC namespace, which its runs share (a fresh namespace per
// run costs more than the rest of a small run): every segment, semaphore set and message queue a
// run created is removed before the next one starts. POSIX shared memory lives in /dev/shm =
// /work (wiped); POSIX message queues are off (RLIMIT_MSGQUEUE = 0).
std::string Isolation::wipe_ipc() const {
  int removed_failures = 0;
  shm_info si{};
  int max_shm = shmctl(0, SHM_INFO, reinterpret_cast<shmid_ds*>(&si));
  for (int i = 0; i <= max_shm; ++i) {
    shmid_ds ds{};
    int id = shmctl(i, SHM_STAT, &ds);
    if (id >= 0 && shmctl(id, IPC_RMID, nullptr) != 0) ++removed_failures;
  }
  union semun_arg {
    int val;
    semid_ds* buf;
    unsigned short* array;
    seminfo* info;
  };
  seminfo sem_limits{};
  semun_arg arg{};
  arg.info = &sem_limits;
  int max_sem = semctl(0, 0, SEM_INFO, arg);
  for (int i = 0; i <= max_sem; ++i) {
    semid_ds ds{};
    arg.buf = &ds;
    int id = semctl(i, 0, SEM_STAT, arg);
    if (id >= 0 && semctl(id, 0, IPC_RMID) != 0) ++removed_failures;
  }
  msginfo mi{};
  int max_msg = msgctl(0, MSG_INFO, reinterpret_cast<msqid_ds*>(&mi));
  for (int i = 0; i <= max_msg; ++i) {
    msqid_ds ds{};
    int id = msgctl(i, MSG_STAT, &ds);
    if (id >= 0 && msgctl(id, IPC_RMID, nullptr) != 0) ++removed_failures;
  }
  return removed_failures ? "cannot remove the System V IPC objects of the last run" : "";
}

bool Isolation::confine_process() const noexcept {
  // The rest (securebits, no_new_privs, seccomp, the bounding set) is inherited from the worker.
  if (prctl(PR_CAPBSET_DROP, CAP_SYS_ADMIN, 0, 0, 0) != 0 || prctl(PR_CAPBSET_DROP, CAP_SETPCAP, 0, 0, 0) != 0) return false;
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  return syscall(SYS_capset, &hdr, data) == 0;
}

}  // namespace r1::verifiers::code
