#pragma once

#include <string>

#include "service/core/config.h"

namespace herald {

void configure_logging(const std::string& level);

// Runs heraldd until SIGTERM/SIGINT; returns the process exit code.
int run_daemon(const core::Config& config, const std::string& ready_file);

}  // namespace herald
