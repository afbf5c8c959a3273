// The rollout engine against references: full recomputation, unshared prefill, hand-computed
// sampling tables, stop strings across token boundaries, batching invariance, back-pressure.
#include <doctest/doctest.h>
#include <torch/torch.h>

#include <set>

#include "policy/transformer.h"
#include "rollout/engine.h"
#include "rollout/rollout_backend.h"
#include "rollout/sampler.h"
#include "tests/policy/tiny_configs.h"
#include "tests/rollout/engine_fixture.h"

using namespace r1;
using namespace r1::rollout;

namespace {

using test::letter;
using test::make_model;

std::vector<int32_t> greedy_reference(policy::CausalLM& m, std::vector<int32_t> prompt, int64_t n) {
  torch::NoGradGuard ng;
  std::vector<int32_t> out;
  for (int64_t i = 0; i < n; ++i) {
    std::vector<int64_t> ids(prompt.begin(), prompt.end());
    auto logits = m->forward(torch::tensor(ids, torch::kLong).unsqueeze(0));
    int32_t t = static_cast<int32_t>(logits[0][-1].argmax().item<int64_t>());
    out.push_back(t);
    prompt.push_back(t);
  }
  return out;
}

}  // namespace

TEST_CASE("greedy decoding with the cache equals greedy decoding by full recomputation (MLA and GQA)") {
  for (const auto& c : {test::tiny_v3(), test::tiny_qwen2()}) {
    auto m = make_model(c, 21);
    for (bool absorb : {true, false}) {
      if (!c.mla() && !absorb) continue;
      Engine e(m, {.max_batch_seqs = 4, .absorb = absorb}, {}, letter);
      std::vector<Request> reqs;
      std::vector<std::vector<int32_t>> prompts = {{1, 2, 3, 4, 5}, {7, 8}, {9, 10, 11, 12, 13, 14, 15, 16}};
      for (const auto& p : prompts) reqs.push_back({p, 1, {.temperature = 0.0, .max_new_tokens = 12}});
      auto out = e.generate(reqs);
      REQUIRE(out.size() == 3);
      for (size_t i = 0; i < prompts.size(); ++i) {
        CHECK(out[i].tokens == greedy_reference(m, prompts[i], 12));
        CHECK(out[i].finish == FinishReason::length);
        for (float lp : out[i].sampling_logprobs) CHECK(lp == 0.0f);  // greedy: probability 1
      }
    }
  }
}

TEST_CASE("prefix-shared samples equal unshared ones under the same seeds; prefill happens once") {
  auto m = make_model(test::tiny_v3(), 5);
  std::vector<Request> reqs = {{{3, 1, 4, 1, 5, 9, 2, 6}, 6, {.temperature = 1.0, .max_new_tokens = 10, .seed = 42}},
                               {{2, 7, 1, 8}, 4, {.temperature = 0.8, .top_k = 20, .max_new_tokens = 10, .seed = 7}}};
  Engine shared(m, {.max_batch_seqs = 16, .prefix_sharing = true}, {}, letter);
  Engine unshared(m, {.max_batch_seqs = 16, .prefix_sharing = false}, {}, letter);
  auto a = shared.generate(reqs);
  auto b = unshared.generate(reqs);
  REQUIRE(a.size() == 10);
  for (size_t i = 0; i < a.size(); ++i) {
    CHECK(a[i].tokens == b[i].tokens);
    for (size_t t = 0; t < a[i].policy_logprobs.size(); ++t)
      CHECK(a[i].policy_logprobs[t] == doctest::Approx(b[i].policy_logprobs[t]).epsilon(1e-4));
  }
  CHECK(shared.stats().prefills == 2);
  CHECK(unshared.stats().prefills == 10);
  // With 4 slots, later samples wait and reuse the stored prefix: still one prefill per prompt.
  Engine narrow(m, {.max_batch_seqs = 4, .prefix_sharing = true}, {}, letter);
  auto c = narrow.generate(reqs);
  for (size_t i = 0; i < a.size(); ++i) {
    INFO("completion " << i);
    CHECK(c[i].tokens == a[i].tokens);
  }
  CHECK(narrow.stats().prefills == 2);
  // Samples of one request differ from each other (their own generators).
  std::set<std::vector<int32_t>> distinct;
  for (int i = 0; i < 6; ++i) distinct.insert(a[i].tokens);
  CHECK(distinct.size() > 1);
}

TEST_CASE("top-k, top-p and min-p keep the hand-computed token sets") {
  // probabilities 0.5, 0.25, 0.125, 0.0625, 0.0625 (from logits = log p)
  auto logits = torch::log(torch::tensor({{0.5, 0.25, 0.125, 0.0625, 0.0625}}, torch::kFloat32));
  auto dist = [&](RowSampling p) { return sampling_distribution(logits, {p})[0]; };
  auto near = [](torch::Tensor a, std::vector<double> b) {
    for (size_t i = 0; i < b.size(); ++i)
      if (std::abs(a[i].item<double>() - b[i]) > 1e-6) return false;
    return true;
  };
  CHECK(near(dist({1.0, 0, 1.0, 0.0}), {0.5, 0.25, 0.125, 0.0625, 0.0625}));
  CHECK(near(dist({1.0, 2, 1.0, 0.0}), {2.0 / 3, 1.0 / 3, 0, 0, 0}));                 // top-k 2
  CHECK(near(dist({1.0, 0, 0.7, 0.0}), {2.0 / 3, 1.0 / 3, 0, 0, 0}));                 // 0.5 + 0.25 >= 0.7
  CHECK(near(dist({1.0, 0, 0.8, 0.0}), {4.0 / 7, 2.0 / 7, 1.0 / 7, 0, 0}));           // needs 3 tokens
  CHECK(near(dist({1.0, 0, 1.0, 0.2}), {4.0 / 7, 2.0 / 7, 1.0 / 7, 0, 0}));           // min-p: p >= 0.1
  CHECK(near(dist({1.0, 0, 0.3, 0.0}), {1, 0, 0, 0, 0}));                             // top token always kept
  CHECK(near(dist({0.0, 0, 1.0, 0.0}), {1, 0, 0, 0, 0}));                             // greedy
  // Temperature 2 flattens: p^(1/2) normalised.
  double z = std::sqrt(0.5) + std::sqrt(0.25) + std::sqrt(0.125) + 2 * std::sqrt(0.0625);
  CHECK(near(dist({2.0, 0, 1.0, 0.0}), {std::sqrt(0.5) / z, 0.5 / z, std::sqrt(0.125) / z, 0.25 / z, 0.25 / z}));
  // Top-k then top-p renormalises in between (HF order): within the top 3 (4/7, 2/7, 1/7), p = 0.8
  // needs all three (4/7 + 2/7 = 0.857 >= 0.8 -> two suffice).
  CHECK(near(dist({1.0, 3, 0.8, 0.0}), {2.0 / 3, 1.0 / 3, 0, 0, 0}));
  // Inverse-CDF sampling: u picks the bucket; log-probs are of the filtered and the plain policy.
  auto r = sample_tokens(logits.repeat({3, 1}), {{1.0, 0, 1.0, 0.0}, {1.0, 0, 1.0, 0.0}, {1.0, 2, 1.0, 0.0}}, {0.1, 0.6, 0.9});
  CHECK(r.tokens[0].item<int64_t>() == 0);
  CHECK(r.tokens[1].item<int64_t>() == 1);
  CHECK(r.tokens[2].item<int64_t>() == 1);
  CHECK(r.sampling_logprobs[2].item<double>() == doctest::Approx(std::log(1.0 / 3)));
  CHECK(r.policy_logprobs[2].item<double>() == doctest::Approx(std::log(0.25)));
  // A row's token depends on its own parameters only, not on the other rows of the batch.
  auto big = torch::randn({4, 50});
  std::vector<RowSampling> mixed = {{1.0, 0, 1.0, 0.0}, {0.7, 5, 0.9, 0.0}, {0.0, 0, 1.0, 0.0}, {1.3, 0, 1.0, 0.05}};
  std::vector<double> us = {0.31, 0.77, 0.5, 0.93};
  auto together = sample_tokens(big, mixed, us);
  for (int64_t b = 0; b < 4; ++b) {
    auto alone = sample_tokens(big.narrow(0, b, 1), {mixed[b]}, {us[b]});
    CHECK(alone.tokens[0].item<int64_t>() == together.tokens[b].item<int64_t>());
    CHECK(alone.sampling_logprobs[0].item<float>() == together.sampling_logprobs[b].item<float>());
  }
}

TEST_CASE("unfiltered and greedy rows pick the inverse-CDF token of the softmax, with its log-probs") {
  // A vocabulary that is not a multiple of the kernel's 8 lanes, some masked (-inf) tokens, and
  // temperatures 1, 0.7 and 0 (greedy); the reference is computed here in fp64.
  const int64_t V = 1003, B = 240;
  torch::manual_seed(5);
  auto logits = torch::randn({B, V}, torch::kFloat32) * 3;
  logits.narrow(1, 100, 37).fill_(-std::numeric_limits<float>::infinity());
  std::vector<RowSampling> ps;
  std::vector<double> us;
  for (int64_t b = 0; b < B; ++b) {
    ps.push_back({b % 3 == 0 ? 1.0 : b % 3 == 1 ? 0.7 : 0.0, 0, 1.0, 0.0});
    us.push_back((b * 0.618034 + 0.1) - std::floor(b * 0.618034 + 0.1));
  }
  auto r = sample_tokens(logits, ps, us);
  auto x = logits.to(torch::kFloat64);
  int checked = 0;
  for (int64_t b = 0; b < B; ++b) {
    const int64_t t = r.tokens[b].item<int64_t>();
    REQUIRE(t >= 0);
    REQUIRE(t < V);
    CHECK_FALSE((t >= 100 && t < 137));
    auto plp = torch::log_softmax(x[b], -1);
    CHECK(r.policy_logprobs[b].item<double>() == doctest::Approx(plp[t].item<double>()).epsilon(1e-5));
    if (ps[b].temperature == 0) {
      CHECK(t == x[b].argmax().item<int64_t>());
      CHECK(r.sampling_logprobs[b].item<float>() == 0.0f);
      continue;
    }
    auto slp = torch::log_softmax(x[b] / ps[b].temperature, -1);
    CHECK(r.sampling_logprobs[b].item<double>() == doctest::Approx(slp[t].item<double>()).epsilon(1e-5));
    auto cdf = slp.exp().cumsum(0);
    const double above = t > 0 ? cdf[t - 1].item<double>() : 0.0, upto = cdf[t].item<double>();
    // u falls in the token's bucket (up to the float rounding of the weights near a bucket edge).
    CHECK(us[b] >= above - 1e-6);
    CHECK(us[b] < upto + 1e-6);
    ++checked;
  }
  CHECK(checked == 160);
  // The same rows sampled one at a time and in another batch give the same tokens and log-probs.
  for (int64_t b = 0; b < B; b += 17) {
    auto alone = sample_tokens(logits.narrow(0, b, 1), {ps[b]}, {us[b]});
    CHECK(alone.tokens[0].item<int64_t>() == r.tokens[b].item<int64_t>());
    CHECK(alone.policy_logprobs[0].item<float>() == r.policy_logprobs[b].item<float>());
  }
}

TEST_CASE("stop strings match across token boundaries; stop ids and EOS end a completion") {
  auto m = make_model(test::tiny_qwen2(), 3);
  Engine probe(m, {}, {}, letter);
  auto base = probe.generate({{{1, 2, 3}, 1, {.temperature = 0.0, .max_new_tokens = 8}}})[0];
  std::string text = base.text;
  REQUIRE(text.size() == 8);
  // A stop string made of the 3rd and 4th tokens' letters ends the completion at the 4th token.
  std::string stop = text.substr(2, 2);
  size_t first = text.find(stop);
  Engine e(m, {}, {}, letter);
  auto with = e.generate({{{1, 2, 3}, 1, {.temperature = 0.0, .max_new_tokens = 8, .stop_strings = {stop}, .include_stop = true}},
                          {{1, 2, 3}, 1, {.temperature = 0.0, .max_new_tokens = 8, .stop_strings = {stop}, .include_stop = false}}});
  CHECK(with[0].finish == FinishReason::stop);
  CHECK(with[0].tokens.size() == first + 2);
  CHECK(with[0].text == text.substr(0, first + 2));
  CHECK(with[1].text == text.substr(0, first));
  // A stop token id, and EOS.
  auto ids = e.generate({{{1, 2, 3}, 1, {.temperature = 0.0, .max_new_tokens = 8, .stop_token_ids = {base.tokens[1]}}}})[0];
  CHECK(ids.finish == FinishReason::stop);
  CHECK(ids.tokens.back() == base.tokens[1]);
  Engine eos(m, {}, {base.tokens[2]}, letter);
  auto ended = eos.generate({{{1, 2, 3}, 1, {.temperature = 0.0, .max_new_tokens = 8}}})[0];
  CHECK(ended.finish == FinishReason::eos);
  CHECK(ended.tokens.size() <= 3);
  CHECK(ended.tokens.back() == base.tokens[2]);
}

TEST_CASE("continuous batching: every request once, own generators, reruns and batch sizes give the same completions") {
  auto m = make_model(test::tiny_v3(), 9);
  std::vector<Request> reqs;
  for (int r = 0; r < 7; ++r)
    reqs.push_back({{static_cast<int32_t>(r + 1), static_cast<int32_t>(2 * r + 3), 5}, 3,
                    {.temperature = 1.0, .max_new_tokens = 4 + 3 * r, .seed = static_cast<uint64_t>(100 + r)}});
  Engine big(m, {.max_batch_seqs = 32}, {}, letter);
  Engine small(m, {.max_batch_seqs = 3}, {}, letter);
  Engine stat(m, {.max_batch_seqs = 5, .batching = Batching::static_drop}, {}, letter);
  Engine padded(m, {.max_batch_seqs = 5, .batching = Batching::static_pad}, {}, letter);
  auto a = big.generate(reqs), a2 = big.generate(reqs), b = small.generate(reqs), c = stat.generate(reqs);
  auto d = padded.generate(reqs);
  REQUIRE(a.size() == 21);
  std::set<std::pair<int64_t, int64_t>> seen;
  for (size_t i = 0; i < a.size(); ++i) {
    seen.insert({a[i].request, a[i].sample});
    CHECK(a[i].tokens.size() == static_cast<size_t>(4 + 3 * a[i].request));
    CHECK(a[i].tokens == a2[i].tokens);
    CHECK(a[i].tokens == b[i].tokens);
    CHECK(a[i].tokens == c[i].tokens);
    CHECK(a[i].tokens == d[i].tokens);  // padding rows change nothing for the live ones
    for (size_t t = 0; t < d[i].policy_logprobs.size(); ++t)  // equal up to last-bit effects of the batch shape
      CHECK(d[i].policy_logprobs[t] == doctest::Approx(a[i].policy_logprobs[t]).epsilon(1e-5));
    CHECK(d[i].finish == FinishReason::length);
  }
  CHECK(seen.size() == 21);
  // In the same 5 slots static batches take more steps; padded ones the same steps as dropping
  // ones, with their idle rows not counted as tokens.
  Engine cont5(m, {.max_batch_seqs = 5}, {}, letter);
  CHECK(cont5.generate(reqs)[20].tokens == a[20].tokens);
  CHECK(stat.stats().decode_steps > cont5.stats().decode_steps);
  CHECK(padded.stats().decode_steps == stat.stats().decode_steps);
  CHECK(padded.stats().decode_tokens == stat.stats().decode_tokens);
  // Another seed gives other completions.
  reqs[0].params.seed = 999;
  CHECK(big.generate(reqs)[0].tokens != a[0].tokens);
}

TEST_CASE("padding rows of a static batch stay inside their cache slot") {
  // Slots are 12 long (10 + 2 and 2 + 10): the long prompt's row finishes at the end of its slot
  // and pads for 8 more steps there; the next slot's row must not see it.
  auto m = make_model(test::tiny_v3(), 4);
  std::vector<int32_t> long_prompt = {5, 6, 7, 8, 9, 10, 11, 12, 13, 14};
  std::vector<Request> reqs = {{long_prompt, 1, {.max_new_tokens = 2, .seed = 1}}, {{1, 2}, 1, {.max_new_tokens = 10, .seed = 2}}};
  Engine padded(m, {.max_batch_seqs = 2, .batching = Batching::static_pad}, {}, letter);
  Engine cont(m, {.max_batch_seqs = 2}, {}, letter);
  auto p = padded.generate(reqs), c = cont.generate(reqs);
  CHECK(padded.cache_slot_len() == 12);
  for (size_t i = 0; i < 2; ++i) CHECK(p[i].tokens == c[i].tokens);
  CHECK(p[1].tokens.size() == 10);
}

TEST_CASE("a prompt longer than the context is reported, and a full cache makes requests wait") {
  auto m = make_model(test::tiny_qwen2(), 2);
  Engine e(m, {.max_batch_seqs = 8, .max_context = 16}, {}, letter);
  std::vector<int32_t> long_prompt(20, 3);
  auto out = e.generate({{long_prompt, 2, {.max_new_tokens = 4}}, {{1, 2}, 1, {.max_new_tokens = 30}}});
  REQUIRE(out.size() == 3);
  CHECK(out[0].finish == FinishReason::prompt_too_long);
  CHECK(out[1].finish == FinishReason::prompt_too_long);
  CHECK(out[0].tokens.empty());
  CHECK(out[2].finish == FinishReason::length);
  CHECK(out[2].tokens.size() + 2 == 16);  // stopped at the context limit

  // A budget of 40 cached tokens fits 2 sequences of 3 + 17: twelve samples wait their turn.
  Engine tight(m, {.max_batch_seqs = 64, .max_batch_tokens = 40}, {}, letter);
  auto done = tight.generate({{{1, 2, 3}, 12, {.max_new_tokens = 17, .seed = 1}}});
  CHECK(tight.cache_slots() == 2);
  REQUIRE(done.size() == 12);
  Engine roomy(m, {.max_batch_seqs = 64}, {}, letter);
  auto ref = roomy.generate({{{1, 2, 3}, 12, {.max_new_tokens = 17, .seed = 1}}});
  for (size_t i = 0; i < done.size(); ++i) {
    CHECK(done[i].tokens.size() == 17);
    CHECK(done[i].tokens == ref[i].tokens);
  }
}

TEST_CASE("new weights load in place and completions carry the weight version") {
  auto m = make_model(test::tiny_v3(), 1);
  auto src = make_model(test::tiny_v3(), 2);
  Engine e(m, {}, {}, letter);
  auto before = e.generate({{{1, 2, 3}, 1, {.temperature = 0.0, .max_new_tokens = 6}}})[0];
  auto cache_ptr = e.cache_slots();
  e.load_weights(src);
  auto after = e.generate({{{1, 2, 3}, 1, {.temperature = 0.0, .max_new_tokens = 6}}})[0];
  CHECK(before.weight_version == 0);
  CHECK(after.weight_version == 1);
  CHECK(after.tokens == greedy_reference(src, {1, 2, 3}, 6));
  CHECK(e.cache_slots() == cache_ptr);
}

TEST_CASE("the in-process rollout backend samples with the engine and follows the learner's weights") {
  auto learner = make_model(test::tiny_v3(), 3);
  auto other = make_model(test::tiny_v3(), 4);
  Engine shared(learner, {}, {}, letter);
  InProcessRollout same(shared);  // the engine decodes with the learner's own module
  RolloutBackend& backend = same;
  auto a = backend.generate({{{1, 2, 3}, 1, {.temperature = 0.0, .max_new_tokens = 5}}})[0];
  CHECK(a.tokens == greedy_reference(learner, {1, 2, 3}, 5));
  backend.sync_weights(learner);
  CHECK(backend.weight_version() == 1);
  Engine separate(other, {}, {}, letter);  // a copy of the policy, as a remote worker holds
  InProcessRollout copy(separate);
  copy.set_weight_version(7);
  copy.sync_weights(learner);
  auto b = copy.generate({{{1, 2, 3}, 1, {.temperature = 0.0, .max_new_tokens = 5}}})[0];
  CHECK(b.tokens == a.tokens);
  CHECK(b.weight_version == 8);
}
