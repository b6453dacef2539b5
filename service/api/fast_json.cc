#include "service/api/fast_json.h"

#include <google/protobuf/descriptor.h>
#include <simdjson.h>

#include <cstdint>
#include <string>
#include <utility>

namespace herald::api {
namespace {

namespace pb = google::protobuf;
using FD = pb::FieldDescriptor;
using simdjson::dom::element;
using simdjson::dom::element_type;

// Bounds the memory each thread's parser keeps; bigger bodies take protobuf's path.
constexpr size_t kMaxBytes = 256 * 1024;
// Well inside protobuf's own nesting limit, so depth never makes the two paths disagree.
constexpr int kMaxDepth = 32;

// protobuf 3.21 tries the JSON name first, then the proto name.
const FD* find_field(const pb::Descriptor* d, std::string_view key) {
  for (int i = 0; i < d->field_count(); ++i) {
    if (d->field(i)->json_name() == key) return d->field(i);
  }
  for (int i = 0; i < d->field_count(); ++i) {
    if (d->field(i)->name() == key) return d->field(i);
  }
  return nullptr;
}

// Fields whose JSON mapping has special cases (null, base64, "NaN", float rounding, oneofs).
bool handled(const FD* f) {
  if (f->real_containing_oneof() || f->is_map() || f->type() == FD::TYPE_BYTES ||
      f->type() == FD::TYPE_GROUP || f->type() == FD::TYPE_FLOAT) {
    return false;
  }
  const pb::FileDescriptor* file = nullptr;
  if (f->cpp_type() == FD::CPPTYPE_MESSAGE) file = f->message_type()->file();
  if (f->cpp_type() == FD::CPPTYPE_ENUM) file = f->enum_type()->file();
  return file == nullptr || file->package() != "google.protobuf";
}

template <class T>
bool get_int(element v, T* out) {
  if (v.type() == element_type::INT64) {
    int64_t i = v.get_int64().value_unsafe();
    if (!std::in_range<T>(i)) return false;
    *out = static_cast<T>(i);
    return true;
  }
  if (v.type() == element_type::UINT64) {
    uint64_t u = v.get_uint64().value_unsafe();
    if (!std::in_range<T>(u)) return false;
    *out = static_cast<T>(u);
    return true;
  }
  return false;  // 1.0 or 1e2: protobuf accepts whole doubles, its path handles them
}

bool get_double(element v, double* out) {
  switch (v.type()) {
    case element_type::INT64:
      *out = static_cast<double>(v.get_int64().value_unsafe());
      return true;
    case element_type::UINT64:
      *out = static_cast<double>(v.get_uint64().value_unsafe());
      return true;
    case element_type::DOUBLE:
      // Like protobuf, simdjson reads "-0" as an integer (0.0) but "-0.0" as -0.0.
      *out = v.get_double().value_unsafe();
      return true;
    default:
      return false;
  }
}

bool get_enum(element v, const pb::EnumDescriptor* e, int* out) {
  std::string_view name;
  if (v.get(name) != simdjson::SUCCESS) return false;
  for (int i = 0; i < e->value_count(); ++i) {
    if (e->value(i)->name() == name) {
      *out = e->value(i)->number();
      return true;
    }
  }
  return false;  // protobuf also tries numbers-as-strings and case-folded names
}

bool parse_object(pb::Message& m, simdjson::dom::object obj, int depth);

// One value of field f (one element if f is repeated).
bool put(pb::Message& m, const FD* f, element v, int depth) {
  const pb::Reflection* r = m.GetReflection();
  const bool rep = f->is_repeated();
  switch (f->cpp_type()) {
    case FD::CPPTYPE_STRING: {
      // simdjson validates UTF-8 and refuses escaped lone surrogates, as protobuf does.
      std::string_view s;
      if (v.get(s) != simdjson::SUCCESS) return false;
      rep ? r->AddString(&m, f, std::string(s)) : r->SetString(&m, f, std::string(s));
      return true;
    }
    case FD::CPPTYPE_BOOL: {
      bool b = false;
      if (v.get(b) != simdjson::SUCCESS) return false;
      rep ? r->AddBool(&m, f, b) : r->SetBool(&m, f, b);
      return true;
    }
    case FD::CPPTYPE_INT32: {
      int32_t i = 0;
      if (!get_int(v, &i)) return false;
      rep ? r->AddInt32(&m, f, i) : r->SetInt32(&m, f, i);
      return true;
    }
    case FD::CPPTYPE_INT64: {
      int64_t i = 0;
      if (!get_int(v, &i)) return false;
      rep ? r->AddInt64(&m, f, i) : r->SetInt64(&m, f, i);
      return true;
    }
    case FD::CPPTYPE_UINT32: {
      uint32_t u = 0;
      if (!get_int(v, &u)) return false;
      rep ? r->AddUInt32(&m, f, u) : r->SetUInt32(&m, f, u);
      return true;
    }
    case FD::CPPTYPE_UINT64: {
      uint64_t u = 0;
      if (!get_int(v, &u)) return false;
      rep ? r->AddUInt64(&m, f, u) : r->SetUInt64(&m, f, u);
      return true;
    }
    case FD::CPPTYPE_DOUBLE: {
      double d = 0;
      if (!get_double(v, &d)) return false;
      rep ? r->AddDouble(&m, f, d) : r->SetDouble(&m, f, d);
      return true;
    }
    case FD::CPPTYPE_ENUM: {
      int n = 0;
      if (!get_enum(v, f->enum_type(), &n)) return false;
      rep ? r->AddEnumValue(&m, f, n) : r->SetEnumValue(&m, f, n);
      return true;
    }
    case FD::CPPTYPE_MESSAGE: {
      simdjson::dom::object obj;
      if (v.get(obj) != simdjson::SUCCESS) return false;
      return parse_object(rep ? *r->AddMessage(&m, f) : *r->MutableMessage(&m, f), obj, depth + 1);
    }
    case FD::CPPTYPE_FLOAT:
      return false;
  }
  return false;
}

bool parse_field(pb::Message& m, const FD* f, element v, int depth) {
  if (!handled(f)) return false;
  if (v.is_null()) return true;  // protobuf reads null as "absent" for ordinary fields
  if (!f->is_repeated()) return put(m, f, v, depth);
  simdjson::dom::array items;
  if (v.get(items) != simdjson::SUCCESS) return false;
  for (element item : items) {
    if (item.is_null() || !put(m, f, item, depth)) return false;
  }
  return true;
}

bool parse_object(pb::Message& m, simdjson::dom::object obj, int depth) {
  if (depth > kMaxDepth) return false;
  const pb::Descriptor* d = m.GetDescriptor();
  uint64_t seen = 0;  // duplicate keys, by field index; wider messages take protobuf's path
  for (auto [key, value] : obj) {
    const FD* f = find_field(d, key);
    if (f == nullptr || f->index() >= 64) return false;
    const uint64_t bit = uint64_t{1} << f->index();
    if (seen & bit) return false;
    seen |= bit;
    if (!parse_field(m, f, value, depth)) return false;
  }
  return true;
}

// Parses `json` as an object with this thread's parser (valid until its next call).
bool parse_root(std::string_view json, simdjson::dom::object& root) {
  thread_local simdjson::dom::parser parser;
  thread_local std::string padded;
  padded.assign(json);
  padded.append(simdjson::SIMDJSON_PADDING, '\0');
  return parser.parse(padded.data(), json.size(), false).get(root) == simdjson::SUCCESS;
}

}  // namespace

bool fast_parse(std::string_view json, pb::Message& msg) {
  simdjson::dom::object root;
  if (json.size() > kMaxBytes || !parse_root(json, root)) return false;
  msg.Clear();  // protobuf's parser replaces the message; it never merges
  return parse_object(msg, root, 0) && msg.IsInitialized();
}

std::optional<std::vector<JsonMember>> object_members(std::string_view json) {
  simdjson::dom::object root;
  if (!parse_root(json, root)) return std::nullopt;
  std::vector<JsonMember> out;
  for (auto [key, value] : root) {
    simdjson::dom::object inner;
    const bool object = value.get(inner) == simdjson::SUCCESS;
    out.push_back({std::string(key), value.is_null(), object});
    if (!object) continue;
    for (auto [sub, sub_value] : inner) {
      out.push_back({std::string(key) + "." + std::string(sub), sub_value.is_null(), false});
    }
  }
  return out;
}

}  // namespace herald::api
