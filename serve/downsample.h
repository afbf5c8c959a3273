// Downsampling a curve for drawing: Largest-Triangle-Three-Buckets (Steinarsson 2013) keeps the
// first and last points and, per bucket, the point that makes the largest triangle with its
// neighbours, so spikes survive where a stride or a mean would hide them.
#pragma once

#include <cstddef>
#include <vector>

namespace r1::serve {

// Indices of at most `target` points of (x[i], y[i]) (x ascending), in order; every index when
// there are no more than `target` points. target < 3 keeps the first and last.
std::vector<size_t> lttb(const std::vector<double>& x, const std::vector<double>& y, size_t target);

}  // namespace r1::serve
