// Writing a folder all at once (model checkpoints, trained tokenizers).
#pragma once

#include <functional>
#include <string>

namespace r1::text {

// `write(tmp_dir)` fills a temporary sibling of `dir`. A new `dir` appears in one rename; into an
// existing one each file is renamed over its old version, and files not written are kept
// (a tokenizer beside the weights survives a save). A failed write leaves `dir` untouched.
void write_folder_atomically(const std::string& dir, const std::function<void(const std::string&)>& write);

}  // namespace r1::text
