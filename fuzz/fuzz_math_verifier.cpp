// libFuzzer target: arbitrary bytes as a model response (and as a reference) through the whole
// math verifier. Must never crash, hang or read out of bounds.
#include <cstddef>
#include <cstdint>
#include <string>

#include "verifiers/math/math_verifier.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string s(reinterpret_cast<const char*>(data), size);
  r1::verifiers::math::MathOptions o;
  o.timeout_s = 0.2;
  r1::verifiers::math::verify("\\frac{1}{2}", s, o);
  size_t half = s.size() / 2;
  r1::verifiers::math::verify(s.substr(0, half), s.substr(half), o);
  return 0;
}
