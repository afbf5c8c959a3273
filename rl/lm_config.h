// [lm]: next-token training — `r1 pretrain` (packed text) and `r1 sft` (chat, loss on assistant
// tokens only). Optimizer settings live here too: pretraining wants learning rates a thousand
// times those of RL.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "rl/rl_config.h"

namespace r1::rl {

struct LmConfig {
  std::vector<std::string> corpus;  // .jsonl files ({field} or {"messages"}) or plain text (one document per line)
  std::vector<std::string> mix;     // more files, mixed in at `mix_share` (R1's non-reasoning SFT data)
  double mix_share = 0.0;           // share of the training sequences drawn from `mix`
  std::string field = "text";       // JSON Lines field holding a document (pretrain)
  int64_t seq_len = 256;            // tokens per training sequence
  int64_t batch_size = 16;          // sequences per optimizer step
  double lr = 1e-3;                 // AdamW peak learning rate
  double adam_beta1 = 0.9;
  double adam_beta2 = 0.95;
  double weight_decay = 0.01;
  double max_grad_norm = 1.0;       // 0 = off
  int64_t warmup_steps = 20;
  LrSchedule lr_schedule = LrSchedule::cosine;
  double min_lr_ratio = 0.1;

  template <class V>
  void visit(V& v) {
    v.path("corpus", corpus, "training files: .jsonl ({field} per line, or {\"messages\"} for sft) or plain text");
    v.path("mix", mix, "files mixed into the corpus at mix_share (e.g. non-reasoning chats beside rejection-sampled reasoning)");
    v("mix_share", mix_share, "share of the training sequences drawn from mix (R1: 200k of 800k = 0.25)", 0.0, 0.99);
    v("field", field, "JSON Lines field holding a document (pretrain)");
    v("seq_len", seq_len, "tokens per training sequence", 8, 1 << 20);
    v("batch_size", batch_size, "sequences per optimizer step", 1, 1 << 20);
    v("lr", lr, "AdamW peak learning rate", 0.0, 1.0);
    v("adam_beta1", adam_beta1, "AdamW beta1", 0.0, 1.0);
    v("adam_beta2", adam_beta2, "AdamW beta2", 0.0, 1.0);
    v("weight_decay", weight_decay, "AdamW decoupled weight decay", 0.0, 10.0);
    v("max_grad_norm", max_grad_norm, "gradient norm clip; 0 = off", 0.0, 1e9);
    v("warmup_steps", warmup_steps, "linear learning-rate warm-up steps", 0, 1e12);
    v("lr_schedule", lr_schedule, "constant | linear | cosine (after warm-up)");
    v("min_lr_ratio", min_lr_ratio, "final lr as a fraction of the peak", 0.0, 1.0);
  }
};

}  // namespace r1::rl
