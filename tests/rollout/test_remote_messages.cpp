// The rollout service's request and result payloads: what the learner sends is what the worker
// reads, and back; a payload cut anywhere, or claiming more than it holds, is refused naming the field.
#include <doctest/doctest.h>

#include <torch/torch.h>

#include <cstring>

#include "rollout/remote_messages.h"

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
  CHECK(p.stop_token_ids == std::vector<int32_t>{7, 9});
  CHECK(p.stop_strings == std::vector<std::string>{"</answer>", ""});
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
    CHECK(b.routing.defined() == a.routing.defined());
    if (a.routing.defined()) CHECK(torch::equal(a.routing, b.routing));
  }
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
