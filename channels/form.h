#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace herald::channels {

// RFC 3986 percent-encoding: unreserved characters (A-Z a-z 0-9 - . _ ~) kept, every other
// byte as %XX (upper-case hex). For query values and path segments.
std::string percent_encode(std::string_view text);

// application/x-www-form-urlencoded: name=value pairs joined by '&', space as '+', everything
// else outside the unreserved set percent-encoded. Pairs with an empty value are left out.
using FormFields = std::vector<std::pair<std::string_view, std::string_view>>;
std::string form_encode(const FormFields& fields);

// XML character data and attribute values: & < > " ' escaped; control characters other than
// tab, newline and carriage return dropped (XML 1.0 cannot carry them).
std::string xml_escape(std::string_view text);

// The values of a JSON object's top-level members, for reading a provider's reply without a
// schema: strings unescaped, numbers as written, true/false/null as words. Nested objects and
// arrays are skipped. nullopt when `json` is not an object or the member is absent.
std::optional<std::string> json_member(std::string_view json, std::string_view name);

// `text` with every run of 7 or more digits (optionally after '+', spaces or dashes inside)
// replaced by "[number]", so a provider's message can be logged without a phone number.
std::string redact_numbers(std::string_view text);

}  // namespace herald::channels
