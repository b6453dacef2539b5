#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace herald::journey {

// Lower case with the accents of Latin letters removed ("QUEJA", "Reclamación" -> "queja",
// "reclamacion"); other characters stay. UTF-8 in, UTF-8 out.
std::string fold(std::string_view text);

// Complaint keywords in any language, matched as whole words or phrases after folding.
class KeywordMatcher {
 public:
  explicit KeywordMatcher(const std::vector<std::string>& keywords);
  // The first keyword (as configured) found in `text`, if any.
  std::optional<std::string> match(std::string_view text) const;

 private:
  std::vector<std::pair<std::string, std::string>> folded_;  // folded, as configured
};

extern const std::vector<std::string> kDefaultKeywordsEn;
extern const std::vector<std::string> kDefaultKeywordsEs;

}  // namespace herald::journey
