#include "templates/catalog.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <kainjow/mustache.hpp>
#include <sstream>
#include <stdexcept>
#include <unordered_map>
#include <vector>

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

bool blank(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

// Templates wrap lines for readability; one-line parts are sent with single spaces only. Words
// are copied whole.
std::string collapse_whitespace(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  const char* p = s.data();
  const char* const end = p + s.size();
  while (p != end) {
    while (p != end && blank(*p)) ++p;
    const char* word = p;
    while (p != end && !blank(*p)) ++p;
    if (word == p) break;
    if (!out.empty()) out.push_back(' ');
    out.append(word, p);
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

// A customer's own values, which differ from one message of a revision to the next; the
// shared ones are the rest (docs/architecture.md, "Rendering: a stencil per template and
// shared values").
constexpr std::array<const char*, 4> kOwnNames = {"first_name", "premises", "manage_link",
                                                  "callback_line"};
std::array<const std::string*, 4> own_values(const Vars& v) {
  return {&v.first_name, &v.premises, &v.manage_link, &v.callback_line};
}
std::array<const std::string*, 5> shared_values(const Vars& v) {
  return {&v.etr_local, &v.window_start_local, &v.window_end_local, &v.cause, &v.event_ref};
}
constexpr std::array<const char*, 5> kSharedNames = {"etr_local", "window_start_local",
                                                     "window_end_local", "cause", "event_ref"};

// An own value while a stencil renders: kMarkStart, its letter ('A' + index), then kMarkRaw,
// which the stencil templates' escape turns into kMarkEscaped.
constexpr char kMarkStart = '\x1e';
constexpr char kMarkRaw = '\x1f';
constexpr char kMarkEscaped = '\x1d';
constexpr std::string_view kMarkBytes = "\x1d\x1e\x1f";

// Whether `s` holds a marker byte: one comparison a byte, where find_first_of(kMarkBytes) would
// search the three markers for each.
bool has_mark(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) { return c >= '\x1d' && c <= '\x1f'; });
}

// Whether `s` is only spaces and tabs (or empty).
bool only_spaces_and_tabs(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c == ' ' || c == '\t'; });
}

// Empty strings stay unset so that {{#var}} sections skip and {{^var}} sections show. With
// `markers`, each own value that is set stands as its marker.
mustache::data to_data(const Vars& v, bool markers) {
  mustache::data d{mustache::data::type::object};
  const auto shared = shared_values(v);
  for (size_t k = 0; k < shared.size(); ++k) {
    if (!shared[k]->empty()) d.set(kSharedNames[k], *shared[k]);
  }
  if (!v.event_ref.empty()) d.set("event_ref_spoken", spoken(v.event_ref));
  const auto own = own_values(v);
  for (size_t k = 0; k < own.size(); ++k) {
    if (own[k]->empty()) continue;
    d.set(kOwnNames[k],
          markers ? std::string{kMarkStart, static_cast<char>('A' + k), kMarkRaw} : *own[k]);
  }
  return d;
}

// A template rendered with markers for the own values, the markers cut out: `text` with
// `slots` where own values go. Not usable if the rendering held a stray marker byte.
struct Stencil {
  struct Slot {
    size_t at;
    size_t own;
    bool escaped;
  };
  std::string text;
  std::vector<Slot> slots;
  bool usable = true;
};

Stencil cut(std::string_view rendered) {
  Stencil s;
  s.text.reserve(rendered.size());
  size_t from = 0;
  for (size_t at; (at = rendered.find_first_of(kMarkBytes, from)) != std::string_view::npos;) {
    s.text.append(rendered.substr(from, at - from));
    const bool marker = rendered[at] == kMarkStart && at + 2 < rendered.size() &&
                        rendered[at + 1] >= 'A' &&
                        rendered[at + 1] < static_cast<char>('A' + kOwnNames.size()) &&
                        (rendered[at + 2] == kMarkRaw || rendered[at + 2] == kMarkEscaped);
    if (!marker) {
      s.usable = false;
      return s;
    }
    s.slots.push_back({s.text.size(), static_cast<size_t>(rendered[at + 1] - 'A'),
                       rendered[at + 2] == kMarkEscaped});
    from = at + 3;
  }
  s.text.append(rendered.substr(from));
  return s;
}

// kainjow's html_escape, appended to `out` run by run rather than character by character.
void append_html_escaped(std::string& out, std::string_view s) {
  constexpr std::string_view kSpecial = "&<>\"'";
  size_t from = 0;
  for (size_t at; (at = s.find_first_of(kSpecial, from)) != std::string_view::npos;) {
    out.append(s.substr(from, at - from));
    switch (s[at]) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += "&apos;";
        break;
    }
    from = at + 1;
  }
  out.append(s.substr(from));
}

// The stencil's text with the own values of `v` in their slots (HTML-escaped where the
// template escapes them, in an HTML part).
std::string fill(const Stencil& s, const Vars& v, bool html) {
  const auto own = own_values(v);
  std::string out;
  out.reserve(s.text.size() + 256);
  size_t from = 0;
  for (const auto& slot : s.slots) {
    out.append(s.text, from, slot.at - from);
    if (html && slot.escaped) {
      append_html_escaped(out, *own[slot.own]);
    } else {
      out += *own[slot.own];
    }
    from = slot.at;
  }
  out.append(s.text, from);
  return out;
}

// Stencils of this thread, by catalog serial, template (its entry) and Prepared::key_.
constexpr size_t kMaxStencils = 1024;
thread_local std::unordered_map<std::string, Stencil> stencils;
std::atomic<uint64_t> catalogs_loaded{0};

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

}  // namespace

struct Catalog::Entry {
  std::unique_ptr<Template> direct;   // renders the values
  std::unique_ptr<Template> stencil;  // renders markers: an escaped one ends in kMarkEscaped
  bool html = false;
  bool one_line = false;
};

namespace {

// A rendered part as sent: one-line parts with their whitespace collapsed.
std::string finished(const Catalog::Entry& entry, std::string out) {
  if (entry.one_line) return collapse_whitespace(out);
  return out;
}

std::unique_ptr<Catalog::Entry> compile(const std::string& path, Part part) {
  auto entry = std::make_unique<Catalog::Entry>();
  const std::string text = read_file(path);
  entry->html = part == Part::kEmailHtml;
  entry->one_line = one_line(part);
  entry->direct = std::make_unique<mustache::mustache>(text);
  if (!entry->direct->is_valid()) {
    throw std::runtime_error(
        fmt::format("template broken: {}: {}", path, entry->direct->error_message()));
  }
  if (!entry->html) entry->direct->set_custom_escape([](const std::string& s) { return s; });
  entry->stencil = std::make_unique<mustache::mustache>(text);
  entry->stencil->set_custom_escape([html = entry->html](const std::string& s) {
    if (s.size() == 3 && s[0] == kMarkStart && s[2] == kMarkRaw) {
      return std::string{s[0], s[1], kMarkEscaped};
    }
    return html ? mustache::html_escape(s) : s;
  });
  return entry;
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

size_t language_index(std::string_view lang) {
  for (size_t k = 0; k < kLanguages.size(); ++k) {
    if (kLanguages[k] == lang) return k;
  }
  return 0;
}

std::string_view pick_language(std::string_view lang) { return kLanguages[language_index(lang)]; }

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
  catalog.serial_ = ++catalogs_loaded;
  for (const auto lang : kLanguages) {
    for (const auto kind : kKinds) {
      for (const auto stage : stages_of(kind)) {
        for (const auto part : kParts) {
          const std::string rel = template_path(kind, stage, part, lang);
          const std::string path = dir + "/" + rel;
          auto entry = compile(path, part);
          catalog.by_code_.emplace(code(kind, stage, part, lang), entry.get());
          catalog.templates_.emplace(rel, std::move(entry));
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
  return finished(*it->second, render_text(*it->second->direct, d));
}

Prepared::Prepared(const Vars& vars) : vars_(&vars) {
  const auto shared = shared_values(vars);
  size_t size = 1;
  for (const std::string* value : shared) size += value->size() + 1;
  key_.reserve(size);
  // Values cannot hold kMarkRaw here (it sends them to the direct path): it separates them.
  for (const std::string* value : shared) {
    if (has_mark(*value)) stencil_ = false;
    key_ += *value;
    key_ += kMarkRaw;
  }
  const auto own = own_values(vars);
  char set = 0x40;
  for (size_t k = 0; k < own.size(); ++k) {
    const std::string& value = *own[k];
    if (value.empty()) continue;
    set = static_cast<char>(set | 1 << k);
    // kainjow drops a line holding a section tag that renders to spaces and tabs only; a
    // marker is neither.
    if (has_mark(value) || only_spaces_and_tabs(value)) {
      stencil_ = false;
    }
  }
  key_ += set;
}
Prepared::Prepared(Prepared&&) noexcept = default;
Prepared::~Prepared() = default;

const mustache::data& Prepared::data() const {
  if (!data_) data_ = std::make_unique<mustache::data>(to_data(*vars_, false));
  return *data_;
}

uint64_t Catalog::code(v1::EventKind kind, v1::Stage stage, Part part, std::string_view lang) {
  return static_cast<uint64_t>(language_index(lang)) << 56 |
         static_cast<uint64_t>(static_cast<uint8_t>(part)) << 48 |
         static_cast<uint64_t>(static_cast<uint16_t>(kind)) << 32 | static_cast<uint32_t>(stage);
}

const Catalog::Entry* Catalog::find(v1::EventKind kind, v1::Stage stage, Part part,
                                    std::string_view lang) const {
  const auto it = by_code_.find(code(kind, stage, part, lang));
  return it == by_code_.end() ? nullptr : it->second;
}

std::optional<std::string> Catalog::render(v1::EventKind kind, v1::Stage stage, Part part,
                                           std::string_view lang, const Vars& vars) const {
  return render(kind, stage, part, lang, Prepared(vars));
}

std::optional<std::string> Catalog::render(v1::EventKind kind, v1::Stage stage, Part part,
                                           std::string_view lang, const Prepared& vars) const {
  const Entry* entry = find(kind, stage, part, lang);
  if (!entry) return std::nullopt;
  // Safe to share across threads: without partials or lambdas rendering only reads the template.
  if (vars.stencil_) {
    std::string key;
    key.reserve(sizeof serial_ + sizeof entry + vars.key_.size());
    key.append(reinterpret_cast<const char*>(&serial_), sizeof serial_);
    key.append(reinterpret_cast<const char*>(&entry), sizeof entry);
    key += vars.key_;
    auto it = stencils.find(key);
    if (it == stencils.end()) {
      if (stencils.size() >= kMaxStencils) stencils.clear();
      const std::string marked = render_text(*entry->stencil, to_data(*vars.vars_, true));
      it = stencils.emplace(std::move(key), cut(marked)).first;
    }
    if (it->second.usable) return finished(*entry, fill(it->second, *vars.vars_, entry->html));
  }
  return finished(*entry, render_text(*entry->direct, vars.data()));
}

std::optional<std::string> Catalog::render_direct(v1::EventKind kind, v1::Stage stage, Part part,
                                                  std::string_view lang, const Vars& vars) const {
  const Entry* entry = find(kind, stage, part, lang);
  if (!entry) return std::nullopt;
  return finished(*entry, render_text(*entry->direct, to_data(vars, false)));
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
