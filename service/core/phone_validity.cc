#include "service/core/phone_validity.h"

#include <phonenumbers/phonemetadata.pb.h>
#include <phonenumbers/phonenumberutil.h>
#include <re2/re2.h>

#include <algorithm>
#include <list>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace i18n::phonenumbers {
// Exported by libphonenumber, whose generated metadata.h is not installed: the serialized
// PhoneMetadataCollection that PhoneNumberUtil loads at start.
int metadata_size();
const void* metadata_get();
}  // namespace i18n::phonenumbers

namespace herald::core {
namespace {

using i18n::phonenumbers::PhoneMetadata;
using i18n::phonenumbers::PhoneMetadataCollection;
using i18n::phonenumbers::PhoneNumberDesc;
using i18n::phonenumbers::PhoneNumberUtil;

constexpr std::string_view kNonGeographic = "001";

std::unique_ptr<RE2> compile(const std::string& pattern, bool* ok) {
  RE2::Options options;
  options.set_log_errors(false);
  auto re = std::make_unique<RE2>(pattern, options);
  if (!re->ok()) *ok = false;
  return re;
}

// libphonenumber's IsNumberMatchingDesc: a length outside the listed ones fails before the
// pattern; an empty pattern matches nothing.
struct Desc {
  std::vector<int> lengths;
  std::unique_ptr<RE2> pattern;

  void load(const PhoneNumberDesc& d, bool* ok) {
    lengths.assign(d.possible_length().begin(), d.possible_length().end());
    if (!d.national_number_pattern().empty()) pattern = compile(d.national_number_pattern(), ok);
  }

  bool matches(std::string_view national) const {
    if (!pattern) return false;
    const int length = static_cast<int>(national.size());
    if (!lengths.empty() && std::find(lengths.begin(), lengths.end(), length) == lengths.end()) {
      return false;
    }
    return RE2::FullMatch(national, *pattern);
  }
};

struct Region {
  const PhoneMetadata* metadata = nullptr;
  std::once_flag compiled;
  bool usable = false;
  Desc general;
  std::vector<Desc> types;  // premium rate ... voicemail, then fixed line
  Desc mobile;              // unused when the metadata says mobile and fixed line look alike
  std::unique_ptr<RE2> leading_digits;

  // Compiled on first use: a process meets a handful of the 240 regions.
  void compile_once() {
    std::call_once(compiled, [this] {
      const PhoneMetadata& m = *metadata;
      bool ok = true;
      general.load(m.general_desc(), &ok);
      for (const PhoneNumberDesc* d :
           {&m.premium_rate(), &m.toll_free(), &m.shared_cost(), &m.voip(), &m.personal_number(),
            &m.pager(), &m.uan(), &m.voicemail(), &m.fixed_line()}) {
        types.emplace_back().load(*d, &ok);
      }
      if (!m.same_mobile_and_fixed_line_pattern()) mobile.load(m.mobile(), &ok);
      if (m.has_leading_digits()) leading_digits = compile(m.leading_digits(), &ok);
      usable = ok;
    });
  }

  // Compiled and every pattern accepted by RE2.
  bool ready() {
    compile_once();
    return usable;
  }

  // GetNumberTypeHelper(...) != UNKNOWN.
  bool known_type(std::string_view national) const {
    if (!general.matches(national)) return false;
    for (const Desc& d : types) {
      if (d.matches(national)) return true;
    }
    return mobile.matches(national);
  }

  // RegExp::Consume: the leading-digits pattern matched at the start of the number.
  bool leads(std::string_view national) const {
    return leading_digits->Match(national, 0, national.size(), RE2::ANCHOR_START, nullptr, 0);
  }
};

}  // namespace

struct PhoneValidity::Impl {
  PhoneMetadataCollection collection;
  bool loaded = false;
  std::unordered_map<std::string, std::unique_ptr<Region>> regions;
  // Each calling code's regions in libphonenumber's order; empty for a non-geographic code.
  std::unordered_map<int, std::vector<Region*>> by_code;

  Region* region(std::string_view id) const {
    auto it = regions.find(std::string(id));
    return it == regions.end() ? nullptr : it->second.get();
  }
};

PhoneValidity::PhoneValidity() : impl_(std::make_unique<Impl>()) {
  Impl& s = *impl_;
  if (!s.collection.ParseFromArray(i18n::phonenumbers::metadata_get(),
                                   i18n::phonenumbers::metadata_size())) {
    return;
  }
  for (const PhoneMetadata& m : s.collection.metadata()) {
    if (m.id() == kNonGeographic) continue;
    auto& r = s.regions[m.id()];
    r = std::make_unique<Region>();
    r->metadata = &m;
  }
  const PhoneNumberUtil& util = *PhoneNumberUtil::GetInstance();
  for (const PhoneMetadata& m : s.collection.metadata()) {
    if (s.by_code.contains(m.country_code())) continue;
    std::list<std::string> ids;
    util.GetRegionCodesForCountryCallingCode(m.country_code(), &ids);
    std::vector<Region*> list;
    for (const std::string& id : ids) {
      Region* r = s.region(id);
      if (r == nullptr) {  // "001": a non-geographic code, left to libphonenumber
        list.clear();
        break;
      }
      list.push_back(r);
    }
    s.by_code.emplace(m.country_code(), std::move(list));
  }
  s.loaded = true;
}

PhoneValidity::~PhoneValidity() = default;

const PhoneValidity& PhoneValidity::instance() {
  static const PhoneValidity validity;
  return validity;
}

bool PhoneValidity::loaded() const { return impl_->loaded; }

void PhoneValidity::prepare(std::string_view region) const {
  if (Region* r = impl_->region(region)) r->compile_once();
}

std::optional<bool> PhoneValidity::valid(int country_code, uint64_t national_number,
                                         std::string_view region) const {
  const Impl& s = *impl_;
  if (!s.loaded) return std::nullopt;
  const auto code = s.by_code.find(country_code);
  if (code == s.by_code.end() || code->second.empty()) return std::nullopt;
  const std::string national = std::to_string(national_number);

  // IsValidNumberForRegion(number, region): the region's metadata, if the code is its own.
  Region* asked = s.region(region);
  if (asked != nullptr && asked->metadata->country_code() == country_code) {
    if (!asked->ready()) return std::nullopt;
    if (asked->known_type(national)) return true;
  } else {
    asked = nullptr;
  }
  // IsValidNumber: the number's region, picked among those sharing the calling code by leading
  // digits or else by a known type, then validated there (unless that was just done above).
  const std::vector<Region*>& list = code->second;
  Region* own = nullptr;
  if (list.size() == 1) {
    own = list.front();
    if (!own->ready()) return std::nullopt;
  } else {
    for (Region* r : list) {
      if (!r->ready()) return std::nullopt;
      if (r->leading_digits ? r->leads(national) : r->known_type(national)) {
        own = r;
        break;
      }
    }
  }
  return own != nullptr && own != asked && own->known_type(national);
}

}  // namespace herald::core
