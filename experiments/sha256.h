// SHA-256 of files, for checkpoint records (FIPS 180-4; no external dependency).
#pragma once

#include <string>
#include <string_view>

namespace r1::experiments {

std::string sha256_file(const std::string& path);  // throws ExperimentsError when unreadable
std::string sha256_text(std::string_view text);

}  // namespace r1::experiments
