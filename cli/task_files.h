// Generated tasks as JSON Lines (`r1 data tasks`, the demos' problem files) and their prompts.
#pragma once

#include <string>
#include <vector>

#include "datasets/task.h"

namespace r1::cli {

// The question inside a prompt template: "r1-zero", "none", or a string with {question}.
std::string apply_template(const std::string& tmpl, const std::string& question);

// One line per task with its id, question, answer, verifier, metadata and tests, as the jsonl
// loader reads them back; written to a temporary file and renamed into place.
void write_task_lines(const std::string& out_path, const std::vector<datasets::Task>& tasks);

}  // namespace r1::cli
