// Validation of safetensors headers (no torch: this is what the fuzz target exercises).
#include "policy/safetensors_format.h"

#include <algorithm>
#include <cstring>

#include "policy/policy_error.h"

namespace r1::policy {

namespace {
constexpr uint64_t kMaxHeaderBytes = 100ull << 20;  // the reference implementation's limit
}

int safe_dtype_size(SafeDType t) {
  switch (t) {
    case SafeDType::F64:
    case SafeDType::I64: return 8;
    case SafeDType::F32:
    case SafeDType::I32: return 4;
    case SafeDType::F16:
    case SafeDType::BF16:
    case SafeDType::I16: return 2;
    default: return 1;
  }
}

SafeTensorsHeader parse_safetensors_header(const uint8_t* data, uint64_t file_size, const std::string& src) {
  SafeTensorsHeader h;
  if (file_size < 8) throw PolicyError(src + ": truncated safetensors file (" + std::to_string(file_size) + " bytes)");
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | data[i];
  if (n > kMaxHeaderBytes) throw PolicyError(src + ": safetensors header length " + std::to_string(n) + " is absurd (limit 100 MiB)");
  if (8 + n > file_size)
    throw PolicyError(src + ": safetensors header length " + std::to_string(n) + " exceeds the file size " + std::to_string(file_size));
  h.header_bytes = n;
  h.data_offset = 8 + n;
  const uint64_t data_size = file_size - h.data_offset;
  Value j = parse_json(std::string_view(reinterpret_cast<const char*>(data + 8), n), src + " header");
  if (!j.is_object()) throw PolicyError(src + ": safetensors header is not a JSON object");
  for (const auto& [name, e] : j.as_object()) {
    if (name == "__metadata__") {
      for (const auto& [k, v] : e.as_object())
        if (v.is_string()) h.metadata[k] = v.as_string();
      continue;
    }
    std::string where = src + ": tensor '" + name + "'";
    if (!e.is_object()) throw PolicyError(where + " is not an object");
    if (!e["dtype"].is_string()) throw PolicyError(where + " has no dtype");
    static const std::pair<const char*, SafeDType> kTypes[] = {
        {"F64", SafeDType::F64}, {"F32", SafeDType::F32}, {"F16", SafeDType::F16}, {"BF16", SafeDType::BF16},
        {"I64", SafeDType::I64}, {"I32", SafeDType::I32}, {"I16", SafeDType::I16}, {"I8", SafeDType::I8},
        {"U8", SafeDType::U8},   {"BOOL", SafeDType::BOOL}};
    SafeTensorEntry t;
    t.name = name;
    const std::string& dt = e["dtype"].as_string();
    auto it = std::find_if(std::begin(kTypes), std::end(kTypes), [&](const auto& p) { return dt == p.first; });
    if (it == std::end(kTypes)) throw PolicyError(where + " has unsupported dtype '" + dt + "'");
    t.dtype = it->second;
    uint64_t numel = 1;
    for (const auto& d : e["shape"].as_array()) {
      if (!d.is_int() || d.as_int() < 0) throw PolicyError(where + " has an invalid shape");
      uint64_t dim = static_cast<uint64_t>(d.as_int());
      if (dim != 0 && numel > (UINT64_MAX / 16) / dim) throw PolicyError(where + " has a shape that overflows");
      numel *= dim;
      t.shape.push_back(d.as_int());
    }
    if (!e["shape"].is_array()) throw PolicyError(where + " has no shape");
    const Value& off = e["data_offsets"];
    if (!off.is_array() || off.size() != 2 || !off[0].is_int() || !off[1].is_int() || off[0].as_int() < 0 ||
        off[1].as_int() < off[0].as_int())
      throw PolicyError(where + " has invalid data_offsets");
    t.begin = static_cast<uint64_t>(off[0].as_int());
    t.end = static_cast<uint64_t>(off[1].as_int());
    if (t.end > data_size)
      throw PolicyError(where + " ends at byte " + std::to_string(t.end) + " but the data section has " +
                        std::to_string(data_size) + " (truncated file?)");
    if (t.end - t.begin != numel * static_cast<uint64_t>(safe_dtype_size(t.dtype)))
      throw PolicyError(where + " has " + std::to_string(t.end - t.begin) + " bytes but its dtype and shape need " +
                        std::to_string(numel * safe_dtype_size(t.dtype)));
    h.entries.push_back(std::move(t));
  }
  std::vector<const SafeTensorEntry*> sorted;
  for (const auto& e : h.entries) sorted.push_back(&e);
  std::sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return a->begin < b->begin; });
  for (size_t i = 1; i < sorted.size(); ++i)
    if (sorted[i]->begin < sorted[i - 1]->end)
      throw PolicyError(src + ": tensors '" + sorted[i - 1]->name + "' and '" + sorted[i]->name + "' overlap");
  return h;
}

}  // namespace r1::policy
