#include "templates/catalog.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <kainjow/mustache.hpp>
#include <sstream>
#include <stdexcept>

namespace herald::templates {
namespace {

namespace mustache = kainjow::mustache;

constexpr std::array kOutageStages = {v1::DETECTED, v1::UPDATED, v1::RESTORED, v1::CANCELLED};
constexpr std::array kMaintenanceStages = {v1::SCHEDULED, v1::REMINDER, v1::STARTED,
                                           v1::COMPLETED, v1::CANCELLED};
constexpr std::array kAdvisoryStages = {v1::ISSUED, v1::UPDATED, v1::LIFTED};
constexpr std::array kKinds = {v1::OUTAGE, v1::PLANNED_MAINTENANCE, v1::BOIL_WATER_ADVISORY};
constexpr std::array kParts = {Part::kSmsText, Part::kEmailSubject, Part::kEmailText,
                               Part::kEmailHtml, Part::kVoiceScript};
constexpr std::array<std::string_view, 2> kLanguages = {"en", "es"};

std::string_view kind_dir(v1::EventKind kind) {
  switch (kind) {
    case v1::OUTAGE: return "outage";
    case v1::PLANNED_MAINTENANCE: return "planned_maintenance";
    case v1::BOIL_WATER_ADVISORY: return "boil_water_advisory";
    default: return {};
  }
}

std::string_view part_suffix(Part part) {
  switch (part) {
    case Part::kSmsText: return "sms";
    case Part::kEmailSubject: return "email_subject";
    case Part::kEmailText: return "email_text";
    case Part::kEmailHtml: return "email_html";
    case Part::kVoiceScript: return "voice";
  }
  return {};
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return s;
}

bool one_line(Part part) {
  return part == Part::kSmsText || part == Part::kEmailSubject || part == Part::kVoiceScript;
}

// Templates wrap lines for readability; one-line parts are sent with single spaces only.
std::string collapse_whitespace(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  bool pending_space = false;
  for (const char c : s) {
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out.push_back(' ');
    pending_space = false;
    out.push_back(c);
  }
  return out;
}

// Text-to-speech reads "OUT-2211-0042" as words and numbers; character by character is what
// a customer can repeat to an agent: "O U T, 2 2 1 1, 0 0 4 2".
std::string spoken(std::string_view ref) {
  std::string out;
  for (const char c : ref) {
    if (std::isalnum(static_cast<unsigned char>(c))) {
      if (!out.empty() && out.back() != ' ') out.push_back(' ');
      out.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
    } else if (!out.empty() && out.back() != ',') {
      out.push_back(',');
    }
  }
  while (!out.empty() && out.back() == ',') out.pop_back();
  return out;
}

// Empty strings stay unset so that {{#var}} sections skip and {{^var}} sections show.
mustache::data to_data(const Vars& v) {
  mustache::data d{mustache::data::type::object};
  const std::pair<const char*, const std::string*> fields[] = {
      {"first_name", &v.first_name},
      {"premises", &v.premises},
      {"etr_local", &v.etr_local},
      {"window_start_local", &v.window_start_local},
      {"window_end_local", &v.window_end_local},
      {"cause", &v.cause},
      {"event_ref", &v.event_ref},
      {"manage_link", &v.manage_link},
      {"callback_line", &v.callback_line},
  };
  for (const auto& [name, value] : fields) {
    if (!value->empty()) d.set(name, *value);
  }
  if (!v.event_ref.empty()) d.set("event_ref_spoken", spoken(v.event_ref));
  return d;
}

// The template's text for `d`, appended piece by piece to one string (render only reads a
// template without partials or lambdas, whatever its signature): kainjow's render(data)
// goes through an ostringstream built per call, a quarter of an email's compose time.
std::string render_text(mustache::mustache& tmpl, const mustache::data& d) {
  std::string out;
  out.reserve(1024);
  tmpl.render(d, [&out](const std::string& piece) { out += piece; });
  return out;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(fmt::format("template missing: {}", path));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string notice_path(std::string_view lang, std::string_view name, Part part) {
  return fmt::format("{}/notice/{}.{}.mustache", lang, name, part_suffix(part));
}

std::unique_ptr<kainjow::mustache::mustache> compile(const std::string& path, Part part) {
  auto tmpl = std::make_unique<kainjow::mustache::mustache>(read_file(path));
  if (!tmpl->is_valid()) {
    throw std::runtime_error(fmt::format("template broken: {}: {}", path, tmpl->error_message()));
  }
  if (part != Part::kEmailHtml) tmpl->set_custom_escape([](const std::string& s) { return s; });
  return tmpl;
}

// Notices are whatever files <fallback language>/notice/ holds; every other language must have
// the same files, so that no customer gets a notice in the wrong language.
std::vector<std::pair<std::string, Part>> notice_files(const std::string& dir) {
  std::vector<std::pair<std::string, Part>> out;
  const auto root = std::filesystem::path(dir) / std::string(kLanguages.front()) / "notice";
  if (!std::filesystem::is_directory(root)) return out;
  for (const auto& entry : std::filesystem::directory_iterator(root)) {
    const std::string file = entry.path().filename().string();
    for (const auto part : kParts) {
      const std::string suffix = fmt::format(".{}.mustache", part_suffix(part));
      if (file.size() > suffix.size() && file.ends_with(suffix)) {
        out.emplace_back(file.substr(0, file.size() - suffix.size()), part);
      }
    }
  }
  return out;
}

std::string_view pick_language(std::string_view lang) {
  for (const auto l : kLanguages) {
    if (l == lang) return l;
  }
  return kLanguages.front();
}

}  // namespace

std::span<const v1::Stage> stages_of(v1::EventKind kind) {
  switch (kind) {
    case v1::OUTAGE: return kOutageStages;
    case v1::PLANNED_MAINTENANCE: return kMaintenanceStages;
    case v1::BOIL_WATER_ADVISORY: return kAdvisoryStages;
    default: return {};
  }
}

std::span<const std::string_view> languages() { return kLanguages; }

std::string template_path(v1::EventKind kind, v1::Stage stage, Part part, std::string_view lang) {
  const auto stages = stages_of(kind);
  if (std::find(stages.begin(), stages.end(), stage) == stages.end()) return {};
  return fmt::format("{}/{}/{}.{}.mustache", lang, kind_dir(kind),
                     lower(v1::Stage_Name(stage)), part_suffix(part));
}

Catalog::Catalog(Catalog&&) noexcept = default;
Catalog& Catalog::operator=(Catalog&&) noexcept = default;
Catalog::~Catalog() = default;

Catalog Catalog::load(const std::string& dir) {
  Catalog catalog;
  for (const auto lang : kLanguages) {
    for (const auto kind : kKinds) {
      for (const auto stage : stages_of(kind)) {
        for (const auto part : kParts) {
          const std::string rel = template_path(kind, stage, part, lang);
          const std::string path = dir + "/" + rel;
          catalog.templates_.emplace(rel, compile(path, part));
        }
      }
    }
  }
  for (const auto& [name, part] : notice_files(dir)) {
    for (const auto lang : kLanguages) {
      const std::string rel = notice_path(lang, name, part);
      catalog.templates_.emplace(rel, compile(dir + "/" + rel, part));
    }
  }
  return catalog;
}

std::optional<std::string> Catalog::render_notice(std::string_view name, Part part,
                                                  std::string_view lang,
                                                  const NoticeVars& vars) const {
  const auto it = templates_.find(notice_path(pick_language(lang), name, part));
  if (it == templates_.end()) return std::nullopt;
  mustache::data d{mustache::data::type::object};
  for (const auto& [key, value] : vars) {
    if (!value.empty()) d.set(key, value);
  }
  std::string out = render_text(*it->second, d);
  if (one_line(part)) return collapse_whitespace(out);
  return out;
}

Prepared::Prepared(const Vars& vars) : data_(std::make_unique<mustache::data>(to_data(vars))) {}
Prepared::Prepared(Prepared&&) noexcept = default;
Prepared::~Prepared() = default;

std::optional<std::string> Catalog::render(v1::EventKind kind, v1::Stage stage, Part part,
                                           std::string_view lang, const Vars& vars) const {
  return render(kind, stage, part, lang, Prepared(vars));
}

std::optional<std::string> Catalog::render(v1::EventKind kind, v1::Stage stage, Part part,
                                           std::string_view lang, const Prepared& vars) const {
  const std::string rel = template_path(kind, stage, part, pick_language(lang));
  const auto it = templates_.find(rel);
  if (it == templates_.end()) return std::nullopt;
  // Safe to share across threads: without partials or lambdas rendering only reads the template.
  std::string out = render_text(*it->second, *vars.data_);
  if (one_line(part)) return collapse_whitespace(out);
  return out;
}

std::optional<Catalog::Rendered> Catalog::render_all(v1::EventKind kind, v1::Stage stage,
                                                     std::string_view lang,
                                                     const Vars& vars) const {
  const Prepared prepared(vars);
  auto sms = render(kind, stage, Part::kSmsText, lang, prepared);
  if (!sms) return std::nullopt;
  Rendered r;
  r.sms = std::move(*sms);
  r.sms_info = sms_info(r.sms);
  r.subject = *render(kind, stage, Part::kEmailSubject, lang, prepared);
  r.text = *render(kind, stage, Part::kEmailText, lang, prepared);
  r.html = *render(kind, stage, Part::kEmailHtml, lang, prepared);
  r.voice = *render(kind, stage, Part::kVoiceScript, lang, prepared);
  return r;
}

}  // namespace herald::templates
