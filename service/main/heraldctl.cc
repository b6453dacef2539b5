#include <CLI/CLI.hpp>

#include "service/daemon/ctl.h"

int main(int argc, char** argv) {
  CLI::App app{"heraldctl: command-line client for heraldd"};
  app.require_subcommand(1);
  herald::ctl::Options opts;
  app.add_option("--url", opts.url, "heraldd base URL (env HERALD_URL)")->envname("HERALD_URL");
  app.add_option("--key", opts.key, "API key (env HERALD_API_KEY)")->envname("HERALD_API_KEY");

  auto* key = app.add_subcommand("key", "API keys")->require_subcommand(1);
  std::string role;
  auto* key_new = key->add_subcommand("new", "print a new API key and its config line");
  key_new->add_option("--role", role, "admin|operator|agent|analyst")->required();

  auto* token = app.add_subcommand("token", "customer-scoped tokens")->require_subcommand(1);
  std::string customer;
  auto* token_new = token->add_subcommand("new", "mint a token through heraldd (admin key)");
  token_new->add_option("customer", customer, "customer id")->required();

  std::string file;
  auto* import = app.add_subcommand("import", "bulk-load customers from an NDJSON file");
  import->add_option("file", file, "NDJSON file, one customer per line ('-' for stdin)")
      ->required();
  // Four uploads keep heraldd's two I/O threads and Redis busy: while one upload's batch is
  // stored, the others' are parsed (docs/architecture.md, "Bulk import").
  int jobs = 4;
  import->add_option("--jobs", jobs, "parallel uploads (default 4)")->check(CLI::Range(1, 64));

  auto* get = app.add_subcommand("customer", "read a customer")->require_subcommand(1);
  auto* get_one = get->add_subcommand("get", "print one customer as JSON");
  get_one->add_option("customer", customer, "customer id")->required();

  CLI11_PARSE(app, argc, argv);
  if (*key_new) return herald::ctl::key_new(role);
  if (*token_new) return herald::ctl::token_new(opts, customer);
  if (*import) return herald::ctl::import_file(opts, file, jobs);
  if (*get_one) return herald::ctl::customer_get(opts, customer);
  return 2;
}
