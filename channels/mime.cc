#include "channels/mime.h"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <ctime>
#include <functional>
#include <vector>

#include "service/common/json_string.h"

namespace herald::channels {
namespace {

constexpr size_t kFoldAt = 78;        // RFC 5322's recommended line length
constexpr size_t kQpLine = 75;        // quoted-printable: 76 with the soft break's '='
constexpr size_t kWordBytes = 39;     // bytes per encoded word: 52 base64 characters
constexpr size_t kLongestWord = 70;   // a longer run of non-spaces could not be folded
constexpr size_t kMaxUrl = 900;       // keeps the List-Unsubscribe line under 998

bool is_atext(unsigned char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  constexpr std::string_view kSpecials = "!#$%&'*+-/=?^_`{|}~";
  return kSpecials.find(static_cast<char>(c)) != std::string_view::npos;
}

bool is_printable_ascii(std::string_view s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

// A value safe inside <...> on one header line: printable ASCII without spaces or brackets.
bool plain_token(std::string_view s) {
  if (s.empty()) return false;
  for (unsigned char c : s) {
    if (c <= 0x20 || c > 0x7e || c == '<' || c == '>') return false;
  }
  return true;
}

std::string base64(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

// RFC 2047 B encoded words, never splitting a UTF-8 sequence between two words.
std::vector<std::string> encoded_words(std::string_view utf8) {
  std::vector<std::string> words;
  while (!utf8.empty()) {
    size_t cut = std::min(kWordBytes, utf8.size());
    while (cut < utf8.size() && cut > 1 && (static_cast<unsigned char>(utf8[cut]) & 0xC0) == 0x80) {
      --cut;
    }
    words.push_back("=?UTF-8?B?" + base64(utf8.substr(0, cut)) + "?=");
    utf8.remove_prefix(cut);
  }
  return words;
}

std::string join_folded(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words) {
    if (!out.empty()) out += "\r\n ";
    out += w;
  }
  return out;
}

// Folds "Name: value" at spaces so lines stay near 78 characters; every word is short.
std::string fold_at_spaces(std::string line) {
  std::string out;
  size_t line_start = 0;
  size_t last_space = std::string::npos;
  for (size_t i = 0; i < line.size(); ++i) {
    if (line[i] == ' ' && i > line_start) last_space = i;
    if (i - line_start >= kFoldAt && last_space != std::string::npos && last_space > line_start) {
      out += line.substr(line_start, last_space - line_start) + "\r\n";
      line_start = last_space;  // the space becomes the continuation's leading white space
      last_space = std::string::npos;
    }
  }
  out += line.substr(line_start);
  return out;
}

bool needs_encoding(std::string_view value) {
  if (!is_printable_ascii(value)) return true;
  size_t run = 0;
  for (char c : value) {
    run = c == ' ' ? 0 : run + 1;
    if (run > kLongestWord) return true;
  }
  // "=?" could be read as the start of an encoded word.
  return value.find("=?") != std::string_view::npos;
}

// Subject and display names come from templates and config: line breaks become spaces.
std::string one_line(std::string_view value) {
  std::string out(value);
  for (char& c : out) {
    if (c == '\r' || c == '\n' || c == '\t') c = ' ';
  }
  return out;
}

std::string display_name(std::string_view name) {
  const std::string flat = one_line(name);
  if (needs_encoding(flat)) return join_folded(encoded_words(flat));
  std::string quoted = "\"";
  for (char c : flat) {
    if (c == '"' || c == '\\') quoted += '\\';
    quoted += c;
  }
  return quoted + "\"";
}

std::string from_header(const MimeOptions& o) {
  if (o.from_name.empty()) return "From: " + o.from + "\r\n";
  return "From: " + display_name(o.from_name) + " <" + o.from + ">\r\n";
}

// Language tags are letters, digits and hyphens ("es", "en-US"); anything else is left out.
bool plain_language(std::string_view tag) {
  if (tag.empty() || tag.size() > 35) return false;
  for (unsigned char c : tag) {
    if (!(std::isalnum(c) || c == '-')) return false;
  }
  return true;
}

std::string list_unsubscribe(const MimeOptions& o, std::string_view url) {
  std::vector<std::string> entries;
  if (!o.unsubscribe_mailto.empty()) {
    entries.push_back("<mailto:" + o.unsubscribe_mailto + "?subject=unsubscribe>");
  }
  if (!url.empty()) entries.push_back("<" + std::string(url) + ">");
  if (entries.empty()) return {};
  std::string out = "List-Unsubscribe: ";
  for (size_t i = 0; i < entries.size(); ++i) out += (i ? ",\r\n " : "") + entries[i];
  return out + "\r\n";
}

bool web_url(std::string_view url) {
  return (url.starts_with("https://") || url.starts_with("http://")) && url.size() <= kMaxUrl &&
         plain_token(url);
}

std::string boundary_for(std::string_view id) {
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016zx", std::hash<std::string_view>{}(id));
  // "=_" never occurs in quoted-printable output, so no part can contain the boundary.
  return std::string("=_herald_") + hex;
}

void append_part(std::string& out, std::string_view boundary, std::string_view type,
                 std::string_view text) {
  out += "--";
  out += boundary;
  out += "\r\nContent-Type: ";
  out += type;
  out += "; charset=UTF-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n";
  out += quoted_printable(text);
  out += "\r\n";
}

}  // namespace

bool plain_address(std::string_view address) {
  const size_t at = address.find('@');
  if (at == std::string_view::npos || at == 0 || at + 1 == address.size() ||
      address.find('@', at + 1) != std::string_view::npos || address.size() > 254) {
    return false;
  }
  for (unsigned char c : address) {
    if (c <= 0x20 || c > 0x7e || c == '<' || c == '>' || c == ',' || c == ';' || c == '"' ||
        c == '(' || c == ')' || c == '\\') {
      return false;
    }
  }
  return true;
}

std::string mime_message_id(std::string_view id, std::string_view domain) {
  std::string left;
  for (unsigned char c : id) {
    if (is_atext(c)) {
      left += static_cast<char>(c);
    } else if (!left.empty() && left.back() != '.') {
      left += '.';
    }
  }
  while (!left.empty() && left.back() == '.') left.pop_back();
  if (left.empty()) left = "message";
  return "<" + left + "@" + std::string(domain) + ">";
}

std::string quoted_printable(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  size_t line = 0;
  auto emit = [&](const char* token, size_t n) {
    if (line + n > kQpLine) {
      out += "=\r\n";
      line = 0;
    }
    out.append(token, n);
    line += n;
  };
  for (size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') continue;
    if (c == '\n') {
      out += "\r\n";
      line = 0;
      continue;
    }
    const bool at_line_end = i + 1 == text.size() || text[i + 1] == '\n' ||
                             (text[i + 1] == '\r' && i + 2 < text.size() && text[i + 2] == '\n');
    const bool literal =
        (c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !at_line_end);
    if (literal) {
      const char ch = static_cast<char>(c);
      emit(&ch, 1);
    } else {
      const char escaped[3] = {'=', kHex[c >> 4], kHex[c & 0xF]};
      emit(escaped, 3);
    }
  }
  return out;
}

std::string unstructured_header(std::string_view name, std::string_view value) {
  const std::string flat = one_line(value);
  const std::string head = std::string(name) + ": ";
  if (needs_encoding(flat)) return head + join_folded(encoded_words(flat)) + "\r\n";
  return fold_at_spaces(head + flat) + "\r\n";
}

std::string rfc5322_date(std::chrono::system_clock::time_point t) {
  static constexpr std::array<const char*, 7> kDays = {"Sun", "Mon", "Tue", "Wed",
                                                       "Thu", "Fri", "Sat"};
  static constexpr std::array<const char*, 12> kMonths = {
      "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d +0000", kDays[tm.tm_wday],
                tm.tm_mday, kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                tm.tm_sec);
  return buf;
}

MimeMessage build_mime(const v1::OutboundMessage& msg, const v1::MessageContent& content,
                       const MimeOptions& options, std::chrono::system_clock::time_point now) {
  MimeMessage m;
  if (!plain_address(content.to())) {
    m.problem = "the recipient address cannot be used in a mail header";
    return m;
  }
  m.message_id = mime_message_id(msg.id(), options.message_id_domain);
  const std::string boundary = boundary_for(msg.id());
  const bool web_unsubscribe = web_url(content.unsubscribe_url());

  std::string& d = m.data;
  d.reserve(1024 + 2 * (content.text().size() + content.html().size()));
  d += from_header(options);
  d += "To: " + content.to() + "\r\n";
  d += unstructured_header("Subject", content.subject());
  d += "Date: " + rfc5322_date(now) + "\r\n";
  d += "Message-ID: " + m.message_id + "\r\n";
  d += "MIME-Version: 1.0\r\n";
  if (plain_language(msg.language())) d += "Content-Language: " + msg.language() + "\r\n";
  d += list_unsubscribe(options, web_unsubscribe ? content.unsubscribe_url() : "");
  if (web_unsubscribe) d += "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n";
  std::string smtpapi = R"({"unique_args":{"herald_message_id":)";
  herald::append_json_string(smtpapi, msg.id());
  d += "X-SMTPAPI: " + smtpapi + "}}\r\n";

  if (content.html().empty()) {
    d += "Content-Type: text/plain; charset=UTF-8\r\n";
    d += "Content-Transfer-Encoding: quoted-printable\r\n\r\n";
    d += quoted_printable(content.text());
    d += "\r\n";
    return m;
  }
  d += "Content-Type: multipart/alternative; boundary=\"" + boundary + "\"\r\n\r\n";
  append_part(d, boundary, "text/plain", content.text());
  append_part(d, boundary, "text/html", content.html());
  d += "--" + boundary + "--\r\n";
  return m;
}

}  // namespace herald::channels
