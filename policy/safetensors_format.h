// The safetensors container, without torch: an 8-byte little-endian header length, a JSON header
// {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}, then the data.
// parse_safetensors_header() validates everything a reader relies on — header length against the
// file size, dtypes, shapes (with overflow checks), offsets inside the data and not overlapping,
// byte sizes equal to numel x element size — so that a lying file is an error, never a bad read.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "policy/policy_error.h"

namespace r1::policy {

enum class SafeDType { F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL };
int safe_dtype_size(SafeDType t);

struct SafeTensorEntry {
  std::string name;
  SafeDType dtype;
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0;  // offsets into the data section
};

struct SafeTensorsHeader {
  uint64_t header_bytes = 0;        // N: the JSON length
  uint64_t data_offset = 0;         // 8 + N
  std::vector<SafeTensorEntry> entries;
  std::map<std::string, std::string> metadata;
};

// `file` is the whole file (or at least its first 8 + N bytes plus the true size in file_size).
// Throws PolicyError naming `source`.
SafeTensorsHeader parse_safetensors_header(const uint8_t* data, uint64_t file_size, const std::string& source);

}  // namespace r1::policy
