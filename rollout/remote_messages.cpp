#include "rollout/remote_messages.h"

#include "rollout/byte_codec.h"

namespace r1::rollout {

using wire::WireError;

namespace {

constexpr uint8_t kVersion = 1;  // of these payloads; the handshake's protocol version covers them

void put_params(ByteWriter& o, const SamplingParams& p) {
  o.put<double>(p.temperature);
  o.put<double>(p.top_p);
  o.put<int64_t>(p.top_k);
  o.put<double>(p.min_p);
  o.put<int64_t>(p.max_new_tokens);
  o.put_array(p.stop_token_ids);
  o.put<uint64_t>(p.stop_strings.size());
  for (const auto& s : p.stop_strings) o.put_string(s);
  o.put<uint8_t>(p.include_stop ? 1 : 0);
  o.put<uint64_t>(p.seed);
}

SamplingParams get_params(ByteReader& in) {
  SamplingParams p;
  p.temperature = in.get<double>("temperature");
  p.top_p = in.get<double>("top_p");
  p.top_k = in.get<int64_t>("top_k");
  p.min_p = in.get<double>("min_p");
  p.max_new_tokens = in.get<int64_t>("max_new_tokens");
  p.stop_token_ids = in.get_array<int32_t>("stop_token_ids");
  const uint64_t n = in.get<uint64_t>("stop_strings");
  for (uint64_t i = 0; i < n; ++i) p.stop_strings.push_back(in.get_string("stop_strings"));  // each read is bounds-checked
  p.include_stop = in.get<uint8_t>("include_stop") != 0;
  p.seed = in.get<uint64_t>("seed");
  return p;
}

void put_routing(ByteWriter& o, const torch::Tensor& routing) {
  if (!routing.defined()) {
    o.put<uint8_t>(0);
    return;
  }
  auto r = routing.to(torch::kCPU, torch::kInt16).contiguous();
  o.put<uint8_t>(static_cast<uint8_t>(r.dim()));
  for (int64_t d = 0; d < r.dim(); ++d) o.put<int64_t>(r.size(d));
  const auto* p = r.data_ptr<int16_t>();
  o.put_array(std::vector<int16_t>(p, p + r.numel()));
}

torch::Tensor get_routing(ByteReader& in) {
  const uint8_t dims = in.get<uint8_t>("routing dims");
  if (dims == 0) return {};
  if (dims > 8) throw WireError("result: routing: " + std::to_string(dims) + " dimensions");
  std::vector<int64_t> shape;
  int64_t numel = 1;
  for (uint8_t d = 0; d < dims; ++d) {
    const int64_t n = in.get<int64_t>("routing shape");
    if (n < 0 || (n > 0 && numel > (int64_t{1} << 40) / n)) throw WireError("result: routing: a dimension of " + std::to_string(n));
    shape.push_back(n);
    numel *= n;
  }
  const auto data = in.get_array<int16_t>("routing data");
  if (static_cast<int64_t>(data.size()) != numel)
    throw WireError("result: routing: " + std::to_string(data.size()) + " values for a shape of " + std::to_string(numel));
  return torch::from_blob(const_cast<int16_t*>(data.data()), shape, torch::kInt16).clone();
}

}  // namespace

std::string encode_request(const GroupRequest& r) {
  ByteWriter o;
  o.put<uint8_t>(kVersion);
  o.put<int64_t>(r.group);
  o.put<int64_t>(r.weight_version);
  o.put_array(r.request.prompt);
  o.put<int64_t>(r.request.n);
  put_params(o, r.request.params);
  return o.take();
}

GroupRequest decode_request(std::string_view payload) {
  ByteReader in(payload, "request");
  if (const uint8_t v = in.get<uint8_t>("version"); v != kVersion) throw WireError("request: payload version " + std::to_string(v));
  GroupRequest r;
  r.group = in.get<int64_t>("group");
  r.weight_version = in.get<int64_t>("weight_version");
  r.request.prompt = in.get_array<int32_t>("prompt");
  r.request.n = in.get<int64_t>("n");
  if (r.request.n < 1 || r.request.n > 1 << 20) throw WireError("request: n = " + std::to_string(r.request.n));
  r.request.params = get_params(in);
  in.done();
  return r;
}

std::string encode_result(const GroupResult& r) {
  ByteWriter o;
  o.put<uint8_t>(kVersion);
  o.put<int64_t>(r.group);
  o.put<uint64_t>(r.completions.size());
  for (const Completion& c : r.completions) {
    o.put<int64_t>(c.sample);
    o.put_array(c.tokens);
    o.put_array(c.sampling_logprobs);
    o.put_array(c.policy_logprobs);
    o.put_string(c.text);
    o.put<uint8_t>(static_cast<uint8_t>(c.finish));
    o.put<int64_t>(c.prompt_tokens);
    o.put<int64_t>(c.completion_tokens);
    o.put<int64_t>(c.weight_version);
    o.put_array(c.token_versions);
    put_routing(o, c.routing);
  }
  return o.take();
}

GroupResult decode_result(std::string_view payload) {
  ByteReader in(payload, "result");
  if (const uint8_t v = in.get<uint8_t>("version"); v != kVersion) throw WireError("result: payload version " + std::to_string(v));
  GroupResult r;
  r.group = in.get<int64_t>("group");
  const uint64_t n = in.get<uint64_t>("completions");
  for (uint64_t i = 0; i < n; ++i) {  // each completion's reads are bounds-checked: a false count ends at the payload's end
    Completion c;
    c.sample = in.get<int64_t>("sample");
    c.tokens = in.get_array<int32_t>("tokens");
    c.sampling_logprobs = in.get_array<float>("sampling_logprobs");
    c.policy_logprobs = in.get_array<float>("policy_logprobs");
    c.text = in.get_string("text");
    const uint8_t finish = in.get<uint8_t>("finish");
    if (finish > static_cast<uint8_t>(FinishReason::prompt_too_long)) throw WireError("result: finish reason " + std::to_string(finish));
    c.finish = static_cast<FinishReason>(finish);
    c.prompt_tokens = in.get<int64_t>("prompt_tokens");
    c.completion_tokens = in.get<int64_t>("completion_tokens");
    c.weight_version = in.get<int64_t>("weight_version");
    c.token_versions = in.get_array<int64_t>("token_versions");
    c.routing = get_routing(in);
    if (c.sampling_logprobs.size() != c.tokens.size() || c.policy_logprobs.size() != c.tokens.size() || c.token_versions.size() != c.tokens.size())
      throw WireError("result: completion " + std::to_string(i) + ": " + std::to_string(c.tokens.size()) + " tokens but " +
                      std::to_string(c.sampling_logprobs.size()) + ", " + std::to_string(c.policy_logprobs.size()) + " log-probs and " +
                      std::to_string(c.token_versions.size()) + " versions");
    r.completions.push_back(std::move(c));
  }
  in.done();
  return r;
}

}  // namespace r1::rollout
