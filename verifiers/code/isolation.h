// The worker's isolation: set up once per worker process, reset between runs.
#pragma once

#include <linux/filter.h>

#include <cstdint>
#include <string>
#include <vector>

namespace r1::verifiers::code {

class Isolation {
 public:
  // Enters new user (uid 0 inside = nobody outside when we are root, else our own uid), mount,
  // network (no interface up), UTS and IPC namespaces and pivots into a private root: /usr (and the
  // /bin, /lib* links or folders) read-only, a curated read-only /etc, /dev with null, zero,
  // full, random and urandom, no /proc or /sys, and a tmpfs of `work_bytes` at /work (/tmp and
  // /dev/shm point to it). Then locks the worker down: securebits, no_new_privs, the seccomp
  // filter, a bounding set of CAP_SYS_ADMIN and CAP_SETPCAP only. Returns "" or what could not be done.
  std::string setup(int64_t work_bytes);

  // Empties /work between runs (bounded: the tmpfs has few inodes).
  std::string wipe_work() const;
  // Removes the System V IPC objects the last run left in the worker's IPC namespace.
  std::string wipe_ipc() const;

  // In the program's process before exec: the last two capabilities leave the bounding set and
  // effective, permitted and inheritable are emptied; securebits (root without privileges),
  // no_new_privs and the seccomp filter are already in place, inherited from the worker.
  // System calls only (it runs between vfork and exec); false with errno set on failure.
  bool confine_process() const noexcept;

 private:
  std::string lock_down_worker();
  std::vector<sock_filter> filter_;
};

}  // namespace r1::verifiers::code
