// [data]: where training tasks come from and how they become prompts.
#pragma once

#include <cstdint>
#include <string>

namespace r1::datasets {

struct DataConfig {
  std::string dataset = "gsm8k";   // a shared data set name, "jsonl", or a generator: arithmetic | countdown
  std::string path;                // file for "jsonl", or to override a named set's default file
  std::string split = "train";     // train | test (named sets)
  std::string id_field;            // jsonl mapping: task id ("" = line number)
  std::string question_field = "question";  // jsonl mapping: problem text
  std::string answer_field = "answer";      // jsonl mapping: reference answer
  std::string template_name = "r1-zero";    // r1-zero | chat | none | a custom string with {question}
  bool shuffle = true;             // deterministic shuffle with run.seed
  int64_t limit = 0;               // use the first N tasks after shuffling; 0 = all
  int64_t holdout = 0;             // tasks set aside for evaluation (taken before training uses any)
  int64_t difficulty = 2;          // generators: number of digits / numbers
  int64_t generated = 10000;       // generators: tasks generated

  template <class V>
  void visit(V& v) {
    v("dataset", dataset, "gsm8k | math500 | math_train | aime2024 | aime2025 | amc2023 | humaneval | mbpp | "
                          "code_contests | countdown | jsonl | arithmetic (generated) | countdown_gen (generated) | code_gen (generated Python functions)");
    v.path("path", path, "data file for 'jsonl', or to override a named set's file");
    v("split", split, "train | test, for named sets that have both");
    v("id_field", id_field, "jsonl: field holding the task id; empty = line number");
    v("question_field", question_field, "jsonl: field holding the problem text");
    v("answer_field", answer_field, "jsonl: field holding the reference answer");
    v("template", template_name, "prompt template: r1-zero | chat (with R1's system instruction) | chat-plain | none | a custom string with {question}");
    v("shuffle", shuffle, "shuffle tasks deterministically with run.seed");
    v("limit", limit, "use the first N tasks after shuffling; 0 = all", 0, 1e12);
    v("holdout", holdout, "tasks set aside for evaluation before training takes any", 0, 1e12);
    v("difficulty", difficulty, "generators: digits (arithmetic), numbers (countdown) or operations (code_gen)", 1, 12);
    v("generated", generated, "generators: number of tasks generated", 1, 1e9);
  }
};

}  // namespace r1::datasets
