// [distill]: distillation into a student (`r1 distill`). The student is the recipe's [model].
//   sft        R1's recipe: SFT of the student on teacher samples (lm.corpus, e.g. from r1 sample)
//   on_policy  the student samples, the teacher's per-token log-probs on the student's own tokens
//              give a reverse-KL signal (on-policy distillation as in Qwen3 and GKD): the GRPO
//              loop with the teacher as the frozen KL anchor and the KL in the reward. Needs the
//              teacher to share the student's tokenizer, checked at start.
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <utility>

namespace r1::rl {

enum class DistillMode { sft, on_policy };
constexpr std::array<std::pair<DistillMode, std::string_view>, 2> enum_names(DistillMode) {
  return {{{DistillMode::sft, "sft"}, {DistillMode::on_policy, "on_policy"}}};
}

struct DistillConfig {
  DistillMode mode = DistillMode::sft;
  std::string teacher;            // the teacher's model folder (on_policy; recorded for sft)
  std::string teacher_tokenizer;  // "" = the teacher's folder
  double kl_coef = 1.0;           // on_policy: weight of the teacher's per-token KL (becomes rl.beta)

  template <class V>
  void visit(V& v) {
    v("mode", mode, "sft (on teacher samples in lm.corpus) | on_policy (reverse KL to the teacher on the student's samples)");
    v.path("teacher", teacher, "the teacher's model folder (a checkpoint or a Hugging Face folder)");
    v.path("teacher_tokenizer", teacher_tokenizer, "the teacher's tokenizer folder; empty = the teacher's folder");
    v("kl_coef", kl_coef, "on_policy: weight of the teacher's per-token KL (it sets rl.beta)", 1e-9, 1e9);
  }
};

}  // namespace r1::rl
