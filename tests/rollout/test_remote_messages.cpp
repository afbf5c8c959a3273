// The rollout service's request and result payloads: what the learner sends is what the worker
// reads, and back; a payload cut anywhere, or claiming more than it holds, is refused naming the field.
#include <doctest/doctest.h>

#include <torch/torch.h>

#include <cstring>

#include "rollout/remote_messages.h"
#include "rollout/weight_sync.h"

using namespace r1::rollout;

namespace {

GroupRequest sample_request() {
  GroupRequest g;
  g.group = 41;
  g.weight_version = 9;
  g.request.prompt = {1, 2, 3, 70000};
  g.request.n = 8;
  g.request.params = {.temperature = 0.7, .top_p = 0.95, .top_k = 20, .min_p = 0.05, .max_new_tokens = 512,
                      .stop_token_ids = {7, 9}, .stop_strings = {"</answer>", ""}, .include_stop = false, .seed = 1234567890123ull};
  return g;
}

GroupResult sample_result() {
  GroupResult r;
  r.group = 41;
  for (int s = 0; s < 3; ++s) {
    Completion c;
    c.sample = s;
    c.tokens = {5, 6, 7 + s};
    c.sampling_logprobs = {-0.5f, -1.25f, -3.0f - s};
    c.policy_logprobs = {-0.6f, -1.0f, -2.0f};
    c.text = "<answer>4" + std::string(1, '\0') + "</answer>\xff";  // any bytes
    c.finish = s == 2 ? FinishReason::length : FinishReason::eos;
    c.prompt_tokens = 4;
    c.completion_tokens = 3;
    c.weight_version = 9;
    c.token_versions = {9, 9, 9 + s};  // an in-flight update moves later tokens to a newer version
    if (s == 1) c.routing = torch::arange(24, torch::kInt16).view({6, 2, 2});
    r.completions.push_back(c);
  }
  return r;
}

}  // namespace

TEST_CASE("a group request and its result round-trip exactly") {
  const GroupRequest g = sample_request();
  const GroupRequest back = decode_request(encode_request(g));
  CHECK(back.group == 41);
  CHECK(back.weight_version == 9);
  CHECK(back.request.prompt == g.request.prompt);
  CHECK(back.request.n == 8);
  const auto& p = back.request.params;
  CHECK(p.temperature == 0.7);
  CHECK(p.top_p == 0.95);
  CHECK(p.top_k == 20);
  CHECK(p.min_p == 0.05);
  CHECK(p.max_new_tokens == 512);
  CHECK((p.stop_token_ids == std::vector<int32_t>{7, 9}));  // parenthesised: a one-argument CHECK macro (glog's) may win
  CHECK((p.stop_strings == std::vector<std::string>{"</answer>", ""}));
  CHECK_FALSE(p.include_stop);
  CHECK(p.seed == 1234567890123ull);

  const GroupResult r = sample_result();
  const GroupResult rb = decode_result(encode_result(r));
  REQUIRE(rb.completions.size() == 3);
  CHECK(rb.group == 41);
  for (size_t i = 0; i < 3; ++i) {
    const Completion &a = r.completions[i], &b = rb.completions[i];
    CHECK(b.sample == a.sample);
    CHECK(b.tokens == a.tokens);
    CHECK(b.sampling_logprobs == a.sampling_logprobs);
    CHECK(b.policy_logprobs == a.policy_logprobs);
    CHECK(b.text == a.text);
    CHECK(b.finish == a.finish);
    CHECK(b.prompt_tokens == 4);
    CHECK(b.completion_tokens == 3);
    CHECK(b.weight_version == 9);
    CHECK(b.token_versions == a.token_versions);
    CHECK(b.routing.defined() == a.routing.defined());
    if (a.routing.defined()) CHECK(torch::equal(a.routing, b.routing));
  }
  GroupResult short_versions = sample_result();
  short_versions.completions[1].token_versions.pop_back();
  CHECK_THROWS_WITH_AS(decode_result(encode_result(short_versions)), "result: completion 1: 3 tokens but 3, 3 log-probs and 2 versions", wire::WireError);
}

TEST_CASE("a payload cut at any byte, with a byte too many, or claiming more than it holds is refused naming the field") {
  for (const std::string& full : {encode_request(sample_request()), encode_result(sample_result())}) {
    const bool is_request = full.size() < 200;
    for (size_t cut = 0; cut < full.size(); ++cut) {
      const std::string part = full.substr(0, cut);
      INFO("cut at " << cut);
      if (is_request) CHECK_THROWS_AS(decode_request(part), wire::WireError);
      else CHECK_THROWS_AS(decode_result(part), wire::WireError);
    }
    if (is_request) CHECK_THROWS_WITH_AS(decode_request(full + "x"), "request: 1 bytes after the last field", wire::WireError);
    else CHECK_THROWS_WITH_AS(decode_result(full + "x"), "result: 1 bytes after the last field", wire::WireError);
  }
  std::string lying = encode_request(sample_request());
  const uint64_t huge = uint64_t{1} << 60;
  std::memcpy(lying.data() + 1 + 8 + 8, &huge, 8);  // the prompt's element count
  const std::string claim = "request: prompt: 1152921504606846976 elements claimed, " + std::to_string(lying.size() - 25) + " bytes left";
  CHECK_THROWS_WITH_AS(decode_request(lying), claim.c_str(), wire::WireError);
  CHECK_THROWS_WITH_AS(decode_request(std::string(1, '\2')), "request: payload version 2", wire::WireError);
  CHECK_THROWS_WITH_AS(decode_request(""), "request: version: the payload ends at byte 0", wire::WireError);
}

TEST_CASE("weights cut into chunks arrive whole, switch at once, and refuse what does not fit the worker's model") {
  torch::manual_seed(3);
  StateDict src = {{"a.weight", torch::randn({3, 4})}, {"b.bias", torch::randn({1000}).to(torch::kBFloat16)}, {"c.count", torch::tensor({7, 8}, torch::kInt64)}};
  auto zeros_like_src = [&] {
    StateDict t;
    for (auto& [k, v] : src) t[k] = torch::zeros_like(v);
    return t;
  };
  const auto chunks = encode_weights(src, 5, 300);  // 48 + 2000 + 16 bytes of data: 7 chunks, b.bias spans several
  CHECK(chunks.size() == 7);
  StateDict dst = zeros_like_src();
  WeightsReceiver rx(dst);
  for (size_t i = 0; i + 1 < chunks.size(); ++i) {
    CHECK_FALSE(rx.add(chunks[i]));
    CHECK(dst["a.weight"].abs().sum().item<double>() == 0.0);  // nothing switches before the last chunk
  }
  CHECK(rx.add(chunks.back()));
  CHECK(rx.version() == 5);
  for (auto& [k, v] : src) CHECK(torch::equal(dst[k], v));

  // A half-received version is dropped when the next one starts over.
  const auto v6 = encode_weights(src, 6, 300), v7 = encode_weights(src, 7, 300);
  CHECK_FALSE(rx.add(v6[0]));
  CHECK_FALSE(rx.add(v7[0]));
  for (size_t i = 1; i < v7.size(); ++i) rx.add(v7[i]);
  CHECK(rx.version() == 7);
  CHECK_THROWS_WITH_AS(rx.add(v6[1]), "weights: chunk 1/7 of version 6 arrived while receiving chunk 7/7 of version 7", wire::WireError);

  StateDict other = zeros_like_src();
  other["a.weight"] = torch::zeros({4, 3});
  WeightsReceiver wrong_shape(other);
  CHECK_THROWS_WITH_AS(wrong_shape.add(chunks[0]), "weights: \"a.weight\" arrives as Float [3, 4], this worker's is Float [4, 3]", wire::WireError);
  StateDict fewer = {{"b.bias", torch::zeros({1000}, torch::kBFloat16)}};
  WeightsReceiver unknown(fewer);
  CHECK_THROWS_WITH_AS(unknown.add(chunks[0]), "weights: \"a.weight\" is not a tensor of this worker's model", wire::WireError);
  StateDict more = zeros_like_src();
  more["d.extra"] = torch::zeros({2});
  WeightsReceiver missing(more);
  for (size_t i = 0; i + 1 < chunks.size(); ++i) missing.add(chunks[i]);
  CHECK_THROWS_WITH_AS(missing.add(chunks.back()), "weights: version 5 ended without all of \"d.extra\"", wire::WireError);
  for (size_t cut : {size_t{0}, size_t{5}, size_t{30}, chunks[0].size() - 1})  // cut inside the header, a name, the data
    CHECK_THROWS_WITH_AS(WeightsReceiver(zeros_like_src()).add(chunks[0].substr(0, cut)), doctest::Contains("the payload ends at byte"), wire::WireError);
}
