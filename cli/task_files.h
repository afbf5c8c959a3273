// Generated tasks as JSON Lines (`r1 data tasks`, the demos' problem files).
#pragma once

#include <string>
#include <vector>

#include "datasets/task.h"

namespace r1::cli {

// One line per task with its id, question, answer, verifier, metadata and tests, as the jsonl
// loader reads them back; written to a temporary file and renamed into place.
void write_task_lines(const std::string& out_path, const std::vector<datasets::Task>& tasks);

}  // namespace r1::cli
