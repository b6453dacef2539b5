#pragma once

#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>

#include "herald/v1/common.pb.h"
#include "herald/v1/event.pb.h"
#include "templates/sms.h"

namespace kainjow::mustache {
template <typename StringType>
class basic_mustache;
template <typename StringType>
class basic_data;
}

namespace herald::templates {

enum class Part { kSmsText, kEmailSubject, kEmailText, kEmailHtml, kVoiceScript };

// Already localised strings prepared by the caller; an empty string means "not known".
struct Vars {
  std::string first_name;
  std::string premises;            // "12 Elm St" or "12 Elm St and 3 Oak Ave"
  std::string etr_local;           // "6:00 PM" / "18:00"
  std::string window_start_local;  // "Sat Nov 22, 9:00 AM"
  std::string window_end_local;    // "1:00 PM" when on the same day as the start
  std::string cause;
  std::string event_ref;
  std::string manage_link;
  std::string callback_line;  // SMS wording: "Reply CALL for a callback."; empty unless offered
};

// Vars as the renderer reads them, prepared once for every part of a message (an email's
// subject, text and HTML). Refers to `vars`, which must outlive it.
class Prepared {
 public:
  explicit Prepared(const Vars& vars);
  explicit Prepared(Vars&&) = delete;
  Prepared(Prepared&&) noexcept;
  ~Prepared();

 private:
  friend class Catalog;
  const kainjow::mustache::basic_data<std::string>& data() const;  // built on first use

  const Vars* vars_;
  std::string key_;      // the shared values and which own values are set (docs/architecture.md)
  bool stencil_ = true;  // false: a value a stencil cannot stand in for; render directly
  mutable std::unique_ptr<kainjow::mustache::basic_data<std::string>> data_;
};

// Variables of a one-off notice, by name; empty values are unset (as with Vars).
using NoticeVars = std::map<std::string, std::string, std::less<>>;

// The stages an event kind goes through, in order; empty for an unknown kind.
std::span<const v1::Stage> stages_of(v1::EventKind kind);

// Every supported language; the first is the fallback for any other.
std::span<const std::string_view> languages();

// The template file for one part, relative to the catalog directory,
// e.g. "en/outage/detected.sms.mustache"; empty when the kind has no such stage.
std::string template_path(v1::EventKind kind, v1::Stage stage, Part part, std::string_view lang);

// Immutable once loaded: render from any number of threads.
class Catalog {
 public:
  struct Rendered {
    std::string sms;
    SmsInfo sms_info;
    std::string subject, text, html, voice;
  };

  // Loads and compiles every kind x stage x part x language under dir; throws
  // std::runtime_error naming the first missing or broken file (a start-up check).
  static Catalog load(const std::string& dir);

  Catalog(Catalog&&) noexcept;
  Catalog& operator=(Catalog&&) noexcept;
  ~Catalog();

  // nullopt when the kind has no such stage. HTML escapes variables; the other parts do not.
  // SMS, subject and voice come out on one line, whitespace collapsed.
  std::optional<std::string> render(v1::EventKind kind, v1::Stage stage, Part part,
                                    std::string_view lang, const Vars& vars) const;
  std::optional<std::string> render(v1::EventKind kind, v1::Stage stage, Part part,
                                    std::string_view lang, const Prepared& vars) const;
  std::optional<Rendered> render_all(v1::EventKind kind, v1::Stage stage, std::string_view lang,
                                     const Vars& vars) const;
  // render() with kainjow from the whole set of values, never from a stencil: what a stencil
  // must reproduce byte for byte.
  std::optional<std::string> render_direct(v1::EventKind kind, v1::Stage stage, Part part,
                                           std::string_view lang, const Vars& vars) const;

  // A one-off notice part, <lang>/notice/<name>.<part>.mustache (the same escaping and
  // one-line rules as above); nullopt when there is no such notice part.
  std::optional<std::string> render_notice(std::string_view name, Part part,
                                           std::string_view lang, const NoticeVars& vars) const;

  size_t size() const { return templates_.size(); }

  struct Entry;  // one file compiled (catalog.cc)

 private:
  using Template = kainjow::mustache::basic_mustache<std::string>;
  Catalog() = default;
  // One number for a kind x stage x part x language (an unknown language as the fallback).
  static uint64_t code(v1::EventKind kind, v1::Stage stage, Part part, std::string_view lang);
  const Entry* find(v1::EventKind kind, v1::Stage stage, Part part, std::string_view lang) const;
  std::map<std::string, std::unique_ptr<Entry>, std::less<>> templates_;  // by file
  std::unordered_map<uint64_t, const Entry*> by_code_;  // the event templates, by code()
  uint64_t serial_ = 0;  // tells this catalog's stencils from another's (docs/architecture.md)
};

}  // namespace herald::templates
