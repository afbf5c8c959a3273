// Registration of every subcommand, and the mapping from library exceptions to exit codes.
#pragma once

#include <exception>
#include <string>

#include "cli/cli_common.h"

namespace r1::cli {

void register_all_commands(CLI::App& app, Context& ctx);
// 2 for the libraries' bad-input errors (config, data, files), 1 for anything else.
int exit_code_for(const std::exception& e);
// CLI11's message, or "unknown command 'x'" when the first word is not a subcommand.
std::string parse_error_message(CLI::App& app, int argc, char** argv, const CLI::ParseError& e);

}  // namespace r1::cli
