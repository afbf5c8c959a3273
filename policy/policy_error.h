// The model folder's errors and JSON: the text library's types under policy's names (a bad
// config.json, safetensors header or tokenizer.json is one kind of error for a caller).
#pragma once

#include "text/json_value.h"

namespace r1::policy {

using PolicyError = text::TextError;
using text::parse_json;
using text::read_json_file;
using text::to_json;
using text::Value;

}  // namespace r1::policy
