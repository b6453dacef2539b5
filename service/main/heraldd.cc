#include <curl/curl.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <thread>

#include "service/api/services.h"
#include "service/core/config.h"
#include "service/daemon/daemon.h"
#include "service/http/server.h"

int main(int argc, char** argv) {
  CLI::App app{"heraldd: proactive outage and customer notifications"};
  std::string config_path;
  std::string ready_file;
  app.add_option("--config", config_path, "YAML configuration file (see config/)");
  app.add_option("--ready-file", ready_file, "write host:port here once listening");
  CLI11_PARSE(app, argc, argv);

  herald::core::Config config;
  try {
    config = herald::core::load_config(config_path);
  } catch (const herald::core::ConfigError& e) {
    std::fprintf(stderr, "heraldd: configuration error: %s\n", e.what());
    return 2;
  }
  curl_global_init(CURL_GLOBAL_DEFAULT);
  herald::configure_logging(config.log_level);
  int rc = herald::run_daemon(config, ready_file);
  curl_global_cleanup();
  return rc;
}
