#include <curl/curl.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <algorithm>
#include <chrono>
#include <sstream>
#include <string>
#include <vector>

#include "channels/mime.h"
#include "channels/smtp.h"

namespace herald::channels {
namespace {

using std::chrono::system_clock;

const system_clock::time_point kNoon = system_clock::from_time_t(1893499200);  // 2030-01-01 12:00

MimeOptions options() {
  MimeOptions o;
  o.from = "alerts@utility.example";
  o.from_name = "Metro Power Alerts";
  o.message_id_domain = "mail.utility.example";
  o.unsubscribe_mailto = "unsubscribe@utility.example";
  return o;
}

v1::OutboundMessage message(const std::string& lang = "en") {
  v1::OutboundMessage m;
  m.set_id("OUT-7:3:EMAIL:42");
  m.set_channel(v1::EMAIL);
  m.set_language(lang);
  return m;
}

v1::MessageContent content() {
  v1::MessageContent c;
  c.set_to("ada.lovelace@example.net");
  c.set_subject("Power outage at 12 Elm St");
  c.set_text("Hello Ada,\nPower is out at 12 Elm St.\nEstimated restoration: 6:00 PM.\n");
  c.set_html("<p>Hello Ada,</p>\n<p>Power is out at <b>12 Elm St</b>.</p>\n");
  c.set_unsubscribe_url("https://herald.example/v1/customers/C-1/email-unsubscribe?token=hct1.x");
  return c;
}

std::vector<std::string> lines(const std::string& data) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t crlf; (crlf = data.find("\r\n", start)) != std::string::npos; start = crlf + 2) {
    out.push_back(data.substr(start, crlf - start));
  }
  out.push_back(data.substr(start));
  return out;
}

// The value of one header, folding undone; "" when absent.
std::string header(const std::string& data, const std::string& name) {
  const std::string head = data.substr(0, data.find("\r\n\r\n"));
  const auto ls = lines(head);
  for (size_t i = 0; i < ls.size(); ++i) {
    if (ls[i].rfind(name + ": ", 0) != 0) continue;
    std::string value = ls[i].substr(name.size() + 2);
    while (i + 1 < ls.size() && (ls[i + 1][0] == ' ' || ls[i + 1][0] == '\t')) value += ls[++i];
    return value;
  }
  return "";
}

std::string decode_qp(const std::string& qp) {
  std::string out;
  for (size_t i = 0; i < qp.size(); ++i) {
    if (qp[i] != '=') {
      out += qp[i];
    } else if (qp.compare(i + 1, 2, "\r\n") == 0) {
      i += 2;
    } else {
      out += static_cast<char>(std::stoi(qp.substr(i + 1, 2), nullptr, 16));
      i += 2;
    }
  }
  return out;
}

// Joins the RFC 2047 B words of a header value back into UTF-8.
std::string decode_words(const std::string& value) {
  std::string out;
  size_t pos = 0;
  while ((pos = value.find("=?UTF-8?B?", pos)) != std::string::npos) {
    const size_t start = pos + 10;
    const size_t end = value.find("?=", start);
    const std::string b64 = value.substr(start, end - start);
    std::string bytes(b64.size(), '\0');
    int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(bytes.data()),
                            reinterpret_cast<const unsigned char*>(b64.data()),
                            static_cast<int>(b64.size()));
    n -= static_cast<int>(std::count(b64.end() - 2, b64.end(), '='));
    out += bytes.substr(0, static_cast<size_t>(n));
    pos = end + 2;
  }
  return out;
}

// The decoded body of the part with this content type.
std::string part(const std::string& data, const std::string& type) {
  const size_t at = data.find("Content-Type: " + type);
  if (at == std::string::npos) return "";
  const size_t body = data.find("\r\n\r\n", at) + 4;
  const size_t end = data.find("\r\n--=_herald_", body);
  return decode_qp(data.substr(body, end - body));
}

TEST(Mime, CarriesEveryHeaderAReceiverAndAProviderUse) {
  const auto m = build_mime(message(), content(), options(), kNoon);
  ASSERT_TRUE(m.ok()) << m.problem;
  const std::string& d = m.data;
  EXPECT_EQ(header(d, "From"), R"("Metro Power Alerts" <alerts@utility.example>)");
  EXPECT_EQ(header(d, "To"), "ada.lovelace@example.net");
  EXPECT_EQ(header(d, "Subject"), "Power outage at 12 Elm St");
  EXPECT_EQ(header(d, "Date"), "Tue, 01 Jan 2030 12:00:00 +0000");
  EXPECT_EQ(header(d, "Message-ID"), "<OUT-7.3.EMAIL.42@mail.utility.example>");
  EXPECT_EQ(m.message_id, header(d, "Message-ID"));
  EXPECT_EQ(header(d, "MIME-Version"), "1.0");
  EXPECT_EQ(header(d, "Content-Language"), "en");
  EXPECT_EQ(header(d, "List-Unsubscribe"),
            "<mailto:unsubscribe@utility.example?subject=unsubscribe>, "
            "<https://herald.example/v1/customers/C-1/email-unsubscribe?token=hct1.x>");
  EXPECT_EQ(header(d, "List-Unsubscribe-Post"), "List-Unsubscribe=One-Click");
  EXPECT_EQ(header(d, "X-SMTPAPI"), R"({"unique_args":{"herald_message_id":"OUT-7:3:EMAIL:42"}})");
  EXPECT_NE(header(d, "Content-Type").find("multipart/alternative; boundary=\"=_herald_"),
            std::string::npos);
}

TEST(Mime, TextThenHtmlBothDecodeToTheTemplates) {
  const auto m = build_mime(message(), content(), options(), kNoon);
  const size_t plain = m.data.find("Content-Type: text/plain; charset=UTF-8");
  const size_t html = m.data.find("Content-Type: text/html; charset=UTF-8");
  ASSERT_NE(plain, std::string::npos);
  ASSERT_NE(html, std::string::npos);
  EXPECT_LT(plain, html) << "text/plain must come first: clients show the last part they can";
  EXPECT_EQ(part(m.data, "text/plain"), "Hello Ada,\r\nPower is out at 12 Elm St.\r\n"
                                        "Estimated restoration: 6:00 PM.\r\n");
  EXPECT_EQ(part(m.data, "text/html"),
            "<p>Hello Ada,</p>\r\n<p>Power is out at <b>12 Elm St</b>.</p>\r\n");
  const std::string type = header(m.data, "Content-Type");
  const size_t quote = type.find('"');
  const std::string boundary = type.substr(quote + 1, type.rfind('"') - quote - 1);
  EXPECT_TRUE(m.data.ends_with("\r\n--" + boundary + "--\r\n")) << "closing boundary";
}

TEST(Mime, SpanishTextIsEncodedAndSurvivesTheRoundTrip) {
  auto c = content();
  c.set_subject("Corte de electricidad en Calle Señora Núñez — restauración estimada 18:00");
  c.set_text("Hola Begoña,\nEl suministro eléctrico está interrumpido. ¿Preguntas? Llámenos.\n");
  c.set_html("<p>Hola Begoña, el suministro está interrumpido.</p>");
  const auto m = build_mime(message("es"), c, options(), kNoon);
  const std::string subject = header(m.data, "Subject");
  EXPECT_EQ(subject.rfind("=?UTF-8?B?", 0), 0u) << subject;
  EXPECT_EQ(decode_words(subject), c.subject());
  EXPECT_NE(m.data.find("Hola Bego=C3=B1a"), std::string::npos) << "quoted-printable UTF-8";
  EXPECT_EQ(part(m.data, "text/plain"),
            "Hola Begoña,\r\nEl suministro eléctrico está interrumpido. ¿Preguntas? Llámenos.\r\n");
  EXPECT_EQ(part(m.data, "text/html"), c.html());
  EXPECT_EQ(header(m.data, "Content-Language"), "es");
  for (unsigned char ch : m.data) {
    ASSERT_LT(ch, 0x80) << "the message itself is 7-bit";
  }
}

TEST(Mime, EveryLineEndsInCrlfAndStaysShort) {
  auto c = content();
  std::string long_line;
  for (int i = 0; i < 300; ++i) long_line += "señal ";
  c.set_text(long_line + "\n" + std::string(2000, 'x') + "\n");
  c.set_html("<p>" + long_line + "</p>");
  std::string long_subject;
  for (int i = 0; i < 40; ++i) long_subject += "Outage update ";
  c.set_subject(long_subject);
  const auto m = build_mime(message(), c, options(), kNoon);
  EXPECT_EQ(m.data.find('\n'), m.data.find("\r\n") + 1);
  for (size_t i = 0; i < m.data.size(); ++i) {
    if (m.data[i] == '\n') {
      ASSERT_EQ(m.data[i - 1], '\r') << "bare LF at " << i;
    }
    if (m.data[i] == '\r') {
      ASSERT_EQ(m.data[i + 1], '\n') << "bare CR at " << i;
    }
  }
  for (const auto& l : lines(m.data)) {
    EXPECT_LE(l.size(), 998u);
    EXPECT_LE(l.size(), 78u) << l;  // headers fold and quoted-printable wraps at 76
  }
  EXPECT_EQ(part(m.data, "text/plain"), long_line + "\r\n" + std::string(2000, 'x') + "\r\n");
  EXPECT_EQ(header(m.data, "Subject"), long_subject) << "folding adds no characters";
}

TEST(Mime, QuotedPrintableEncodesWhatMustBeAndNothingElse) {
  EXPECT_EQ(quoted_printable("a=b"), "a=3Db");
  EXPECT_EQ(quoted_printable("trailing space \nnext"), "trailing space=20\r\nnext");
  EXPECT_EQ(quoted_printable("tab\t"), "tab=09");
  EXPECT_EQ(quoted_printable("ñ"), "=C3=B1");
  EXPECT_EQ(quoted_printable("crlf\r\nkept"), "crlf\r\nkept");
  const std::string wrapped = quoted_printable(std::string(100, 'a'));
  EXPECT_EQ(wrapped, std::string(75, 'a') + "=\r\n" + std::string(25, 'a'));
  // An escape is never split by a soft break.
  const std::string escapes = quoted_printable(std::string(74, 'a') + "ñ");
  EXPECT_EQ(escapes, std::string(74, 'a') + "=\r\n=C3=B1");
}

TEST(Mime, MessageIdIsMadeSafe) {
  EXPECT_EQ(mime_message_id("OUT-1:2:EMAIL:9", "example.com"), "<OUT-1.2.EMAIL.9@example.com>");
  EXPECT_EQ(mime_message_id("a b<c>@d", "x.org"), "<a.b.c.d@x.org>");
  EXPECT_EQ(mime_message_id("::", "x.org"), "<message@x.org>");
}

TEST(Mime, NonAsciiDisplayNameIsEncoded) {
  auto o = options();
  o.from_name = "Compañía Eléctrica";
  const auto m = build_mime(message(), content(), o, kNoon);
  const std::string from = header(m.data, "From");
  EXPECT_EQ(decode_words(from), "Compañía Eléctrica");
  EXPECT_NE(from.find(" <alerts@utility.example>"), std::string::npos) << from;
  o.from_name = R"(The "Power" Co)";
  EXPECT_EQ(header(build_mime(message(), content(), o, kNoon).data, "From"),
            R"("The \"Power\" Co" <alerts@utility.example>)");
}

TEST(Mime, WithoutUnsubscribeUrlNoOneClickHeader) {
  auto c = content();
  c.clear_unsubscribe_url();
  auto o = options();
  const auto m = build_mime(message(), c, o, kNoon);
  EXPECT_EQ(header(m.data, "List-Unsubscribe"),
            "<mailto:unsubscribe@utility.example?subject=unsubscribe>");
  EXPECT_EQ(header(m.data, "List-Unsubscribe-Post"), "");
  o.unsubscribe_mailto.clear();
  EXPECT_EQ(header(build_mime(message(), c, o, kNoon).data, "List-Unsubscribe"), "");
}

TEST(Mime, AnAddressThatWouldInjectHeadersIsRefused) {
  auto c = content();
  for (const char* bad : {"a@b.c\r\nBcc: x@y.z", "no-at-sign", "a b@c.d", "<a@b.c>", ""}) {
    c.set_to(bad);
    const auto m = build_mime(message(), c, options(), kNoon);
    EXPECT_FALSE(m.ok()) << bad;
    EXPECT_EQ(m.problem.find('@'), std::string::npos) << "no address in the reason";
  }
}

TEST(SmtpResult, MapsRepliesToRetryOrPermanent) {
  using S = SendResult::Status;
  using F = SendResult::Failure;
  EXPECT_EQ(smtp_result(CURLE_OK, 250, "").status, S::kSent);
  for (long code : {421L, 450L, 451L, 452L}) {
    auto r = smtp_result(CURLE_SEND_ERROR, code, "RCPT failed: " + std::to_string(code));
    EXPECT_EQ(r.status, S::kRetry) << code;
    EXPECT_EQ(r.error_code, std::to_string(code));
  }
  for (long code : {550L, 551L, 553L}) {
    auto r = smtp_result(CURLE_SEND_ERROR, code, "RCPT failed: " + std::to_string(code));
    EXPECT_EQ(r.status, S::kPermanent) << code;
    EXPECT_EQ(r.failure, F::kInvalidContact) << code;
    EXPECT_EQ(r.error_code, std::to_string(code));
  }
  auto sender = smtp_result(CURLE_SEND_ERROR, 553, "MAIL failed: 553");
  EXPECT_EQ(sender.failure, F::kRejected) << "a refused sender says nothing of the recipient";
  auto content = smtp_result(CURLE_WEIRD_SERVER_REPLY, 554, "");
  EXPECT_EQ(content.status, S::kPermanent);
  EXPECT_EQ(content.failure, F::kRejected);
  auto greeting = smtp_result(CURLE_WEIRD_SERVER_REPLY, 554,
                              "Got unexpected smtp-server response: 554");
  EXPECT_EQ(greeting.status, S::kRetry);
  EXPECT_EQ(smtp_result(CURLE_OPERATION_TIMEDOUT, 0, "Operation timed out").error_code, "timeout");
  EXPECT_EQ(smtp_result(CURLE_COULDNT_CONNECT, 0, "Failed to connect").status, S::kRetry);
  auto login = smtp_result(CURLE_LOGIN_DENIED, 535, "Authentication failed: 535");
  EXPECT_EQ(login.status, S::kRetry);
  EXPECT_GT(login.retry_after.count(), 0);
  auto named = smtp_result(CURLE_SEND_ERROR, 550, "RCPT failed: 550 <ada@example.net> unknown");
  EXPECT_EQ(named.detail.find("ada@"), std::string::npos) << named.detail;
}

}  // namespace
}  // namespace herald::channels
