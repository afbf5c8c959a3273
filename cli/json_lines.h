// JSON Lines in and out for the command line (cli/'s use of nlohmann::json goes through here).
#pragma once

#include <nlohmann/json.hpp>

#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <string>

namespace r1::cli {

using Json = nlohmann::json;

// Calls `fn(line_number, object)` for each non-empty line. A line that is not a JSON object is
// an InputError naming file:line, unless `skip_bad` (then it is reported to stderr and skipped).
void for_each_json_line(const std::string& path, const std::function<void(int64_t, const Json&)>& fn,
                        bool skip_bad = false);

// Output to a file (written to FILE.tmp, renamed on close()) or to stdout when path is empty.
class LineWriter {
 public:
  explicit LineWriter(const std::string& path);
  ~LineWriter();
  void write(const Json& j);
  void write_raw(const std::string& line);
  void close();  // renames the temporary file into place

 private:
  std::string path_, tmp_;
  std::unique_ptr<std::ofstream> file_;
  bool closed_ = false;
};

std::string dump(const Json& j);  // compact, invalid UTF-8 replaced

}  // namespace r1::cli
