#include "tests/support/http_client.h"

#include <curl/curl.h>
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <strings.h>

#include <cctype>
#include <cmath>
#include <mutex>

namespace herald::testing {
namespace {

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

size_t collect_body(char* data, size_t size, size_t n, void* out) {
  static_cast<HttpResponse*>(out)->body.append(data, size * n);
  return size * n;
}

size_t collect_header(char* data, size_t size, size_t n, void* out) {
  std::string_view line(data, size * n);
  auto colon = line.find(':');
  if (colon != std::string_view::npos) {
    std::string name(line.substr(0, colon));
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
      value.remove_prefix(1);
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n')) value.remove_suffix(1);
    static_cast<HttpResponse*>(out)->headers[name] = std::string(value);
  } else if (line.starts_with("HTTP/")) {
    static_cast<HttpResponse*>(out)->headers.clear();  // a 100 Continue came before the answer
  }
  return size * n;
}

std::string format_value(const google::protobuf::Value& v) {
  using google::protobuf::Value;
  switch (v.kind_case()) {
    case Value::kStringValue:
      return v.string_value();
    case Value::kBoolValue:
      return v.bool_value() ? "true" : "false";
    case Value::kNumberValue: {
      double d = v.number_value();
      if (std::floor(d) == d && std::fabs(d) < 1e15)
        return std::to_string(static_cast<long long>(d));
      return std::to_string(d);
    }
    case Value::kNullValue:
      return "null";
    default: {
      std::string out;
      (void)google::protobuf::util::MessageToJsonString(v, &out);
      return out;
    }
  }
}

}  // namespace

std::string HttpResponse::header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? std::string() : it->second;
}

struct HttpClient::Impl {
  std::string base_url;
  std::chrono::milliseconds timeout;
  std::unique_ptr<CURL, CurlDeleter> curl;
};

HttpClient::HttpClient(std::string base_url, std::chrono::milliseconds timeout)
    : impl_(std::make_unique<Impl>()) {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  impl_->base_url = std::move(base_url);
  impl_->timeout = timeout;
  impl_->curl.reset(curl_easy_init());
}

HttpClient::~HttpClient() = default;

HttpResponse HttpClient::request(std::string_view method, std::string_view path,
                                 std::string_view body, const Headers& headers) {
  CURL* curl = impl_->curl.get();
  curl_easy_reset(curl);  // keeps the live connection
  HttpResponse res;
  std::unique_ptr<curl_slist, SlistDeleter> list;
  auto add = [&list](const std::string& h) {
    list.reset(curl_slist_append(list.release(), h.c_str()));
  };
  bool has_type = false;
  for (const auto& [name, value] : headers) {
    add(name + ": " + value);
    if (strcasecmp(name.c_str(), "content-type") == 0) has_type = true;
  }
  if (!has_type) add("Content-Type:");  // stops curl adding its form-urlencoded default
  add("Expect:");

  const std::string url = impl_->base_url + std::string(path);
  const std::string verb(method);
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(impl_->timeout.count()));
  if (verb == "HEAD") {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, verb.c_str());
  }
  if (!body.empty() || verb == "POST" || verb == "PUT" || verb == "PATCH") {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
  }
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list.get());
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &res);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, collect_header);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &res);
  CURLcode rc = curl_easy_perform(curl);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &res.status);
  if (rc != CURLE_OK) res.transport_error = curl_easy_strerror(rc);
  return res;
}

Headers bearer(std::string_view credential, std::string_view content_type) {
  Headers h = {{"Authorization", "Bearer " + std::string(credential)}};
  if (!content_type.empty()) h.emplace_back("Content-Type", std::string(content_type));
  return h;
}

std::optional<std::string> json_at(std::string_view body, std::string_view path) {
  google::protobuf::Value root;
  if (!google::protobuf::util::JsonStringToMessage(
           google::protobuf::StringPiece(body.data(), body.size()), &root)
           .ok()) {
    return std::nullopt;
  }
  const google::protobuf::Value* v = &root;
  while (!path.empty()) {
    auto dot = path.find('.');
    std::string_view seg = path.substr(0, dot);
    path = dot == std::string_view::npos ? std::string_view{} : path.substr(dot + 1);
    auto bracket = seg.find('[');
    std::string name(seg.substr(0, bracket));
    if (!name.empty()) {
      if (!v->has_struct_value()) return std::nullopt;
      auto it = v->struct_value().fields().find(name);
      if (it == v->struct_value().fields().end()) return std::nullopt;
      v = &it->second;
    }
    while (bracket != std::string_view::npos) {
      auto close = seg.find(']', bracket);
      int index = std::stoi(std::string(seg.substr(bracket + 1, close - bracket - 1)));
      if (!v->has_list_value() || index >= v->list_value().values_size()) return std::nullopt;
      v = &v->list_value().values(index);
      bracket = seg.find('[', close);
    }
  }
  return format_value(*v);
}

}  // namespace herald::testing
