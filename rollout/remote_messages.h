// The payloads of the rollout service's `request` and `result` frames: one group to sample (a
// prompt, its sampling parameters, its seed) and the group's completions as the worker's engine
// returned them. Binary and little-endian, every field bounds-checked on the way in: a payload
// that ends early or claims more elements than it holds is a WireError naming the field, and the
// connection it came on is closed (wire.h).
//
//   std::string p = encode_request({.group = 12, .request = req});
//   GroupRequest back = decode_request(p);
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "rollout/engine.h"
#include "rollout/wire.h"

namespace r1::rollout {

// One group: sampled on one worker, so its samples share the prompt's prefill.
struct GroupRequest {
  int64_t group = 0;           // the service's id for it: a result answers exactly one request
  int64_t weight_version = 0;  // the version the worker must hold before it samples
  Request request;
};

struct GroupResult {
  int64_t group = 0;
  std::vector<Completion> completions;  // `request` is 0 in each: one request per group
};

std::string encode_request(const GroupRequest& r);
GroupRequest decode_request(std::string_view payload);
std::string encode_result(const GroupResult& r);
GroupResult decode_result(std::string_view payload);

}  // namespace r1::rollout
