// What the rollout tests build engines from: a letter per token (so stop strings can be placed
// across token boundaries) and a randomly initialised tiny model in eval mode.
#pragma once

#include <string>
#include <vector>

#include "policy/transformer.h"

namespace r1::test {

inline const std::string& letter(int32_t id) {
  static const std::vector<std::string> table = [] {
    std::vector<std::string> t;
    for (int i = 0; i < 256; ++i) t.push_back(std::string(1, static_cast<char>('a' + i % 26)));
    return t;
  }();
  return table[id % 256];
}

inline policy::CausalLM make_model(const policy::ModelConfig& c, uint64_t seed) {
  policy::CausalLM m(c);
  m->init_weights(seed);
  m->eval();
  return m;
}

}  // namespace r1::test
