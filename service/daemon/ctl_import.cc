#include <curl/curl.h>
#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <memory>
#include <vector>

#include "herald/v1/customer.pb.h"
#include "service/api/json.h"
#include "service/daemon/ctl_parts.h"

namespace herald::ctl {
namespace {

struct Upload {
  FILE* file = nullptr;
  long remaining = 0;
  std::string reply;
  CURL* curl = nullptr;
  curl_slist* headers = nullptr;
};

size_t read_part(char* buf, size_t size, size_t n, void* p) {
  auto* up = static_cast<Upload*>(p);
  const size_t want = std::min<size_t>(size * n, static_cast<size_t>(up->remaining));
  const size_t got = want ? std::fread(buf, 1, want, up->file) : 0;
  up->remaining -= static_cast<long>(got);
  return got;
}

size_t keep_reply(char* data, size_t size, size_t n, void* p) {
  static_cast<Upload*>(p)->reply.append(data, size * n);
  return size * n;
}

}  // namespace

std::vector<Part> split_lines(const std::string& path, int jobs) {
  std::unique_ptr<FILE, decltype(&std::fclose)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) return {};
  std::fseek(f.get(), 0, SEEK_END);
  const long size = std::ftell(f.get());
  std::vector<long> cuts{0};
  for (int k = 1; k < jobs; ++k) {
    long at = std::max(cuts.back(), size * k / jobs);
    std::fseek(f.get(), at, SEEK_SET);
    int c;
    while ((c = std::fgetc(f.get())) != EOF && c != '\n') ++at;
    cuts.push_back(std::min(size, at + 1));
  }
  cuts.push_back(size);
  // The number of the first line of each part: count newlines once.
  std::vector<Part> parts;
  std::fseek(f.get(), 0, SEEK_SET);
  std::vector<char> buf(1 << 20);
  long pos = 0;
  uint64_t line = 1;
  for (size_t k = 0; k + 1 < cuts.size(); ++k) {
    while (pos < cuts[k]) {
      const size_t n =
          std::fread(buf.data(), 1, std::min<long>(buf.size(), cuts[k] - pos), f.get());
      if (n == 0) break;
      line += std::count(buf.begin(), buf.begin() + static_cast<long>(n), '\n');
      pos += static_cast<long>(n);
    }
    if (cuts[k + 1] > cuts[k]) parts.push_back(Part{cuts[k], cuts[k + 1] - cuts[k], line});
  }
  if (parts.empty()) parts.push_back(Part{0, 0, 1});
  return parts;
}

int import_parts(const Options& opts, const std::string& path, const std::vector<Part>& parts) {
  std::vector<Upload> uploads(parts.size());
  CURLM* multi = curl_multi_init();
  for (size_t k = 0; k < parts.size(); ++k) {
    Upload& up = uploads[k];
    up.file = std::fopen(path.c_str(), "rb");
    std::fseek(up.file, parts[k].offset, SEEK_SET);
    up.remaining = parts[k].length;
    up.curl = curl_easy_init();
    const std::string url =
        fmt::format("{}/v1/customers:import?firstLine={}", opts.url, parts[k].first_line);
    up.headers = curl_slist_append(up.headers, ("Authorization: Bearer " + opts.key).c_str());
    up.headers = curl_slist_append(up.headers, "Content-Type: application/x-ndjson");
    up.headers = curl_slist_append(up.headers, "Transfer-Encoding: chunked");
    curl_easy_setopt(up.curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(up.curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(up.curl, CURLOPT_POST, 1L);
    curl_easy_setopt(up.curl, CURLOPT_READFUNCTION, read_part);
    curl_easy_setopt(up.curl, CURLOPT_READDATA, &up);
    curl_easy_setopt(up.curl, CURLOPT_WRITEFUNCTION, keep_reply);
    curl_easy_setopt(up.curl, CURLOPT_WRITEDATA, &up);
    curl_easy_setopt(up.curl, CURLOPT_HTTPHEADER, up.headers);
    curl_multi_add_handle(multi, up.curl);
  }
  int running = 0;
  do {
    curl_multi_perform(multi, &running);
    if (running) curl_multi_poll(multi, nullptr, 0, 1000, nullptr);
  } while (running);

  int rc = 0;
  v1::ImportResult total;
  for (auto& up : uploads) {
    long status = 0;
    curl_easy_getinfo(up.curl, CURLINFO_RESPONSE_CODE, &status);
    v1::ImportResult part;
    if (status != 200 || !api::parse_json(up.reply, part).ok()) {
      std::cerr << "heraldctl: import part failed (HTTP " << status << "): " << up.reply << "\n";
      rc = status == 0 ? 2 : 1;
    }
    total.set_accepted(total.accepted() + part.accepted());
    total.set_rejected(total.rejected() + part.rejected());
    total.mutable_errors()->MergeFrom(part.errors());
    total.set_errors_truncated(total.errors_truncated() || part.errors_truncated());
    curl_multi_remove_handle(multi, up.curl);
    curl_easy_cleanup(up.curl);
    curl_slist_free_all(up.headers);
    std::fclose(up.file);
  }
  curl_multi_cleanup(multi);
  std::cout << api::to_json(total) << "\n";
  return rc;
}

}  // namespace herald::ctl
