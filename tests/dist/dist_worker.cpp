// dist_worker: one rank of the dist tests, started by test_dist.cpp with a launcher's environment.
//   dist_worker collectives   every collective (and gathering bytes at rank 0) against what the ranks can compute alone
//   dist_worker lose_rank     rank 1 leaves after meeting; rank 0's next all-reduce must fail
//   dist_worker meet          join the job and leave (for an unreachable master)
//   dist_worker backends      dist.backend resolved for a CPU and a CUDA run (one process)
// Exit 0: as expected; 1: a wrong result; 2: a DistError (its line on stderr).
#include <cstdio>
#include <iostream>
#include <string>

#include "dist/process_group.h"

using namespace r1;

namespace {

std::string_view text_name(dist::Backend b) {
  for (const auto& [v, name] : enum_names(b))
    if (v == b) return name;
  return "?";
}

int collectives(dist::ProcessGroup& pg) {
  const int r = pg.rank(), n = pg.size();
  // Gradients of several shapes and two dtypes, split over several buckets (48 bytes each).
  std::vector<torch::Tensor> grads = {torch::full({3, 4}, static_cast<float>(r + 1)), torch::arange(5, torch::kFloat32) * (r + 1),
                                      torch::full({2}, 0.5 * (r + 1), torch::kFloat64), torch::Tensor(), torch::full({7}, 1.0f)};
  pg.all_reduce_sum(grads);
  const double ranks_sum = n * (n + 1) / 2.0;  // sum of (r + 1)
  bool ok = grads[0].eq(static_cast<float>(ranks_sum)).all().item<bool>();
  ok = ok && grads[1].equal(torch::arange(5, torch::kFloat32) * static_cast<float>(ranks_sum));
  ok = ok && grads[2].allclose(torch::full({2}, 0.5 * ranks_sum, torch::kFloat64));
  ok = ok && !grads[3].defined() && grads[4].eq(static_cast<float>(n)).all().item<bool>();
  auto mx = pg.all_reduce({static_cast<double>(r), 10.0 * r}, dist::ReduceOp::max);
  auto mn = pg.all_reduce({static_cast<double>(r)}, dist::ReduceOp::min);
  ok = ok && mx[0] == n - 1 && mx[1] == 10.0 * (n - 1) && mn[0] == 0;
  torch::Tensor b = torch::full({4}, static_cast<float>(r == 1 ? 42 : -1));
  pg.broadcast(b, 1);
  ok = ok && b.eq(42.0f).all().item<bool>();
  // Bytes to rank 0 through the store, twice (each call's keys are its own), one part empty.
  for (int round = 0; round < 2; ++round) {
    const std::string mine = r == 1 && round == 1 ? "" : "rank " + std::to_string(r) + " round " + std::to_string(round) + std::string(1, '\0');
    auto parts = pg.gather_bytes(mine, 0);
    if (r != 0) {
      ok = ok && parts.empty();
      continue;
    }
    ok = ok && static_cast<int>(parts.size()) == n;
    for (int q = 0; ok && q < n; ++q)
      ok = parts[static_cast<size_t>(q)] == (q == 1 && round == 1 ? "" : "rank " + std::to_string(q) + " round " + std::to_string(round) + std::string(1, '\0'));
  }
  pg.barrier();
  std::printf("rank %d: %s\n", r, ok ? "collectives ok" : "WRONG");
  return ok ? 0 : 1;
}

// dist.backend resolved for a CPU and a CUDA run (no GPU needed: only the device's type is read),
// one line each: the backend, or the error.
int backends() {
  using dist::Backend;
  for (Backend b : {Backend::auto_, Backend::gloo, Backend::nccl})
    for (const torch::Device& d : {torch::Device(torch::kCPU), torch::Device(torch::kCUDA, 0)}) {
      std::printf("%s on %s: ", std::string(text_name(b)).c_str(), d.str().c_str());
      try {
        std::printf("%s\n", std::string(text_name(dist::resolve_backend(b, d))).c_str());
      } catch (const dist::DistError& e) {
        std::printf("error: %s\n", e.what());
      }
    }
  std::printf("nccl built: %s\n", dist::nccl_built() ? "yes" : "no");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string what = argc > 1 ? argv[1] : "";
  if (what == "backends") return backends();
  try {
    dist::LaunchEnv env = dist::read_launch_env();
    dist::DistOptions o;
    o.timeout_s = std::getenv("R1_DIST_TIMEOUT") ? std::atof(std::getenv("R1_DIST_TIMEOUT")) : 20;
    o.bucket_bytes = 48;
    dist::ProcessGroup pg(env, o);
    if (what == "collectives") return collectives(pg);
    if (what == "lose_rank") {
      pg.barrier();
      if (pg.rank() == 1) return 0;  // gone
      pg.all_reduce({1.0}, dist::ReduceOp::sum);
      std::printf("rank 0: the all-reduce without rank 1 returned\n");
      return 1;
    }
    if (what == "meet") return 0;
    std::cerr << "usage: dist_worker collectives|lose_rank|meet|backends\n";
    return 1;
  } catch (const dist::DistError& e) {
    std::cerr << "r1: error: " << e.what() << "\n";
    return 2;
  }
}
