// SHA-256 of files, for checkpoint records (FIPS 180-4; no external dependency).
#pragma once

#include <string>

namespace r1::experiments {

std::string sha256_file(const std::string& path);  // throws ExperimentsError when unreadable

}  // namespace r1::experiments
