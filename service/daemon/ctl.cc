#include "service/daemon/ctl.h"

#include <curl/curl.h>

#include <cstdio>
#include <iostream>
#include <memory>

#include "service/core/auth.h"
#include "service/daemon/ctl_parts.h"

namespace herald::ctl {
namespace {

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
struct FileCloser {
  void operator()(FILE* f) const {
    if (f != stdin) std::fclose(f);
  }
};

size_t collect(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

size_t read_file(char* buf, size_t size, size_t n, void* file) {
  return std::fread(buf, size, n, static_cast<FILE*>(file));
}

// One request; prints the body; 0 on 2xx.
int call(const Options& opts, const char* method, const std::string& path, FILE* upload,
         const char* content_type) {
  std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
  std::unique_ptr<curl_slist, SlistDeleter> headers;
  auto add_header = [&headers](const std::string& h) {
    headers.reset(curl_slist_append(headers.release(), h.c_str()));
  };
  if (!opts.key.empty()) add_header("Authorization: Bearer " + opts.key);
  if (content_type) add_header(std::string("Content-Type: ") + content_type);
  std::string body;
  const std::string url = opts.url + path;
  curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_CUSTOMREQUEST, method);
  curl_easy_setopt(curl.get(), CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, &body);
  if (upload) {
    add_header("Transfer-Encoding: chunked");
    curl_easy_setopt(curl.get(), CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(curl.get(), CURLOPT_READFUNCTION, read_file);
    curl_easy_setopt(curl.get(), CURLOPT_READDATA, upload);
  }
  curl_easy_setopt(curl.get(), CURLOPT_HTTPHEADER, headers.get());
  CURLcode rc = curl_easy_perform(curl.get());
  if (rc != CURLE_OK) {
    std::cerr << "heraldctl: " << url << ": " << curl_easy_strerror(rc) << "\n";
    return 2;
  }
  long status = 0;
  curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &status);
  std::cout << body << (body.empty() || body.back() == '\n' ? "" : "\n");
  return status >= 200 && status < 300 ? 0 : 1;
}

}  // namespace

int key_new(const std::string& role) {
  auto parsed = core::parse_role(role);
  if (!parsed) {
    std::cerr << "heraldctl: unknown role '" << role << "' (admin|operator|agent|analyst)\n";
    return 2;
  }
  auto [key, line] = core::new_api_key(*parsed);
  std::cout << "key:  " << key << "\nline: " << line << "\n";
  std::cerr << "Give the key to its holder; put only the line in auth.keys or HERALD_AUTH_KEYS.\n";
  return 0;
}

int token_new(const Options& opts, const std::string& customer_id) {
  return call(opts, "POST", "/v1/customers/" + customer_id + "/token", nullptr, nullptr);
}

int customer_get(const Options& opts, const std::string& customer_id) {
  return call(opts, "GET", "/v1/customers/" + customer_id, nullptr, nullptr);
}

int import_file(const Options& opts, const std::string& path, int jobs) {
  if (path == "-") {
    std::unique_ptr<FILE, FileCloser> in(stdin);
    return call(opts, "POST", "/v1/customers:import", in.get(), "application/x-ndjson");
  }
  auto parts = split_lines(path, std::max(jobs, 1));
  if (parts.empty()) {
    std::cerr << "heraldctl: cannot read " << path << "\n";
    return 2;
  }
  return import_parts(opts, path, parts);
}

}  // namespace herald::ctl
