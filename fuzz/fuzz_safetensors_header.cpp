// libFuzzer target: arbitrary bytes as a safetensors file through the header validator.
#include <cstddef>
#include <cstdint>

#include "text/json_value.h"
#include "policy/safetensors_format.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    auto h = r1::policy::parse_safetensors_header(data, size, "fuzz");
    // Every validated entry must lie inside the buffer.
    for (const auto& e : h.entries)
      if (h.data_offset + e.end > size) __builtin_trap();
  } catch (const r1::policy::PolicyError&) {
  }
  return 0;
}
