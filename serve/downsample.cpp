#include "serve/downsample.h"

#include <cmath>

namespace r1::serve {

std::vector<size_t> lttb(const std::vector<double>& x, const std::vector<double>& y, size_t target) {
  const size_t n = x.size();
  std::vector<size_t> out;
  if (n <= target || n <= 2) {
    out.resize(n);
    for (size_t i = 0; i < n; ++i) out[i] = i;
    return out;
  }
  if (target < 3) return {0, n - 1};
  out.reserve(target);
  out.push_back(0);
  // Points 1 .. n-2 are split into target-2 buckets of (nearly) equal size.
  const double width = static_cast<double>(n - 2) / static_cast<double>(target - 2);
  size_t a = 0;  // the point kept from the previous bucket
  for (size_t b = 0; b < target - 2; ++b) {
    const size_t lo = 1 + static_cast<size_t>(std::floor(b * width));
    const size_t hi = std::min(n - 1, 1 + static_cast<size_t>(std::floor((b + 1) * width)));
    // The next bucket's mean (the last point for the last bucket) is the triangle's third corner.
    const size_t next_lo = hi, next_hi = std::min(n, 1 + static_cast<size_t>(std::floor((b + 2) * width)));
    double mx = 0, my = 0;
    size_t cnt = 0;
    for (size_t i = next_lo; i < std::max(next_hi, next_lo + 1) && i < n; ++i, ++cnt) mx += x[i], my += y[i];
    mx /= static_cast<double>(cnt);
    my /= static_cast<double>(cnt);
    double best = -1;
    size_t keep = lo;
    for (size_t i = lo; i < hi; ++i) {
      const double area = std::fabs((x[a] - mx) * (y[i] - y[a]) - (x[a] - x[i]) * (my - y[a]));
      if (area > best) best = area, keep = i;
    }
    out.push_back(keep);
    a = keep;
  }
  out.push_back(n - 1);
  return out;
}

}  // namespace r1::serve
