#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "herald/v1/message.pb.h"

namespace herald::channels {

struct MimeOptions {
  std::string from;                // the sender address (smtp.from)
  std::string from_name;           // display name, any UTF-8; empty: the bare address
  std::string message_id_domain;   // right-hand side of Message-ID
  std::string unsubscribe_mailto;  // address for the mailto: List-Unsubscribe entry; empty: none
};

// A message ready for SMTP DATA: CRLF line ends, no line over 998 characters.
struct MimeMessage {
  std::string message_id;  // "<OUT-1.3.EMAIL.42@example.com>"
  std::string data;        // headers, blank line, body
  std::string problem;     // why nothing could be built (no contact detail in it); empty: built
  bool ok() const { return problem.empty(); }
};

// multipart/alternative (text/plain, then text/html; quoted-printable UTF-8) with the headers
// of docs/architecture.md "Email (SMTP)". Fails when the recipient cannot be put in a header.
MimeMessage build_mime(const v1::OutboundMessage& msg, const v1::MessageContent& content,
                       const MimeOptions& options, std::chrono::system_clock::time_point now);

// "<id@domain>", with every character outside RFC 5322 atext turned into one '.'.
std::string mime_message_id(std::string_view id, std::string_view domain);

// RFC 2045 quoted-printable: line breaks become CRLF, encoded lines stay within 76 characters.
std::string quoted_printable(std::string_view text);

// "Subject: value\r\n", folded, with RFC 2047 encoded words when the value is not plain ASCII.
std::string unstructured_header(std::string_view name, std::string_view value);

// RFC 5322 date in UTC: "Tue, 01 Jan 2030 18:00:00 +0000".
std::string rfc5322_date(std::chrono::system_clock::time_point t);

// An address usable in a header and in MAIL FROM / RCPT TO: printable ASCII, one '@', no
// spaces, brackets or commas.
bool plain_address(std::string_view address);

}  // namespace herald::channels
