#include "service/journey/keywords.h"

#include <cctype>

namespace herald::journey {
namespace {

bool is_word(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }

}  // namespace

std::string fold(std::string_view text) {
  // What U+00C0..U+00FF (UTF-8 C3 80..C3 BF) fold to.
  static constexpr std::string_view kMap =
      "aaaaaaaceeeeiiii"
      "dnooooo*ouuuuyps"
      "aaaaaaaceeeeiiii"
      "dnooooo/ouuuuypy";
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == 0xC3 && i + 1 < text.size()) {
      const auto next = static_cast<unsigned char>(text[i + 1]);
      if (next >= 0x80 && next <= 0xBF) {
        out += kMap[next - 0x80];
        ++i;
        continue;
      }
    }
    out += static_cast<char>(std::tolower(c));
  }
  return out;
}

KeywordMatcher::KeywordMatcher(const std::vector<std::string>& keywords) {
  for (const auto& k : keywords) {
    std::string f = fold(k);
    if (!f.empty()) folded_.emplace_back(std::move(f), k);
  }
}

std::optional<std::string> KeywordMatcher::match(std::string_view text) const {
  const std::string t = fold(text);
  for (const auto& [k, original] : folded_) {
    for (size_t at = t.find(k); at != std::string::npos; at = t.find(k, at + 1)) {
      const bool starts = at == 0 || !is_word(t[at - 1]);
      const size_t end = at + k.size();
      const bool ends = end == t.size() || !is_word(t[end]);
      if (starts && ends) return original;
    }
  }
  return std::nullopt;
}

const std::vector<std::string> kDefaultKeywordsEn = {
    "complaint", "complain",   "unacceptable", "terrible", "worst",  "ridiculous",
    "outrageous", "disgusting", "useless",     "refund",   "compensation", "lawyer",
    "angry",      "fed up",     "not good enough"};

const std::vector<std::string> kDefaultKeywordsEs = {
    "queja",      "quejarme",  "reclamo",  "reclamación", "inaceptable", "pésimo",
    "pésima",     "vergüenza", "indignante", "terrible",  "abogado",     "denuncia",
    "harto",      "harta",     "indemnización"};

}  // namespace herald::journey
