#include <gtest/gtest.h>

#include <array>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <unistd.h>

#include "templates/catalog.h"

namespace herald::templates {
namespace {

namespace fs = std::filesystem;

constexpr std::array kKinds = {v1::OUTAGE, v1::PLANNED_MAINTENANCE, v1::BOIL_WATER_ADVISORY};

// The longest data we expect in practice: SMS budgets are checked against this.
Vars worst_en() {
  return Vars{.first_name = "Alexandrina",
              .premises = "1250 Riverside Dr and 48 Oak Ave",
              .etr_local = "11:30 PM",
              .window_start_local = "Sat Nov 22, 9:00 AM",
              .window_end_local = "Sat Nov 22, 5:00 PM",
              .cause = "a fallen tree on a power line",
              .event_ref = "OUT-2211-0042",
              .manage_link = "https://alerts.example-utility.com/p/8f3KqZ2xWv9TnB4yLm7RcD5h",
              .callback_line = "Reply CALL for a callback."};
}

// Accented street names make Spanish SMS UCS-2: 134 UTF-16 units for two segments.
Vars worst_es() {
  return Vars{.first_name = "María José",
              .premises = "1250 Calle del Río y 48 Av. Colón",
              .etr_local = "23:30",
              .window_start_local = "sáb 22 nov, 09:00",
              .window_end_local = "17:00",  // same day: the caller gives the time only
              .cause = "caída de un árbol sobre la línea",
              .event_ref = "OUT-2211-0042",
              .manage_link = "https://alerts.example-utility.com/p/8f3KqZ2xWv9TnB4yLm7RcD5h",
              .callback_line = "Responda CALL y le llamamos."};
}

// What the caller knows early on: no ETR, window, cause, name or callback offer.
Vars sparse(Vars v) {
  v.first_name.clear();
  v.etr_local.clear();
  v.window_start_local.clear();
  v.window_end_local.clear();
  v.cause.clear();
  v.callback_line.clear();
  return v;
}

const Catalog& catalog() {
  static const Catalog c = Catalog::load(HERALD_SOURCE_DIR "/templates");
  return c;
}

std::string sms(v1::EventKind kind, v1::Stage stage, std::string_view lang, const Vars& v) {
  return catalog().render(kind, stage, Part::kSmsText, lang, v).value();
}

TEST(Templates, EveryKindStagePartAndLanguageLoads) {
  // 12 kind x stage pairs, 5 parts, 2 languages, plus every notice file in both languages.
  size_t notices = 0;
  for (const auto& f : std::filesystem::directory_iterator(HERALD_SOURCE_DIR "/templates/en/notice")) {
    notices += f.path().extension() == ".mustache";
  }
  EXPECT_GT(notices, 0u);
  EXPECT_EQ(catalog().size(), 12u * 5u * 2u + notices * 2u);
}

TEST(Templates, EverySmsFitsTwoSegmentsWithWorstCaseData) {
  for (const auto lang : languages()) {
    const Vars full = lang == "es" ? worst_es() : worst_en();
    for (const Vars& v : {full, sparse(full)}) {
      for (const auto kind : kKinds) {
        for (const auto stage : stages_of(kind)) {
          const std::string text = sms(kind, stage, lang, v);
          const SmsInfo info = sms_info(text);
          SCOPED_TRACE(template_path(kind, stage, Part::kSmsText, lang) + ": " + text + " (" +
                       std::to_string(info.units) + " units)");
          EXPECT_LE(info.segments, 2);
          if (lang == "en") {
            EXPECT_TRUE(info.gsm7);
          }
          EXPECT_NE(text.find(v.event_ref), std::string::npos);
          EXPECT_NE(text.find(v.premises), std::string::npos);
          EXPECT_EQ(text.find('\n'), std::string::npos);
          EXPECT_EQ(text.find("  "), std::string::npos);
          EXPECT_EQ(text.find("{{"), std::string::npos);
        }
      }
    }
  }
}

TEST(Templates, EveryPartRendersInBothLanguages) {
  for (const auto lang : languages()) {
    const Vars v = lang == "es" ? worst_es() : worst_en();
    for (const auto kind : kKinds) {
      for (const auto stage : stages_of(kind)) {
        SCOPED_TRACE(template_path(kind, stage, Part::kSmsText, lang));
        const auto r = catalog().render_all(kind, stage, lang, v);
        ASSERT_TRUE(r.has_value());
        EXPECT_NE(r->subject.find(v.premises), std::string::npos);
        EXPECT_EQ(r->subject.find('\n'), std::string::npos);
        EXPECT_NE(r->text.find(v.manage_link), std::string::npos);
        EXPECT_NE(r->text.find(v.first_name), std::string::npos);
        EXPECT_NE(r->html.find("href=\"" + v.manage_link + "\""), std::string::npos);
        EXPECT_NE(r->html.find("<html lang=\"" + std::string(lang) + "\">"), std::string::npos);
        EXPECT_EQ(r->voice.find("http"), std::string::npos);
        EXPECT_NE(r->voice.find("O U T, 2 2 1 1, 0 0 4 2"), std::string::npos);
        for (const auto* part : {&r->sms, &r->subject, &r->text, &r->html, &r->voice}) {
          EXPECT_EQ(part->find("{{"), std::string::npos) << *part;
        }
      }
    }
  }
}

TEST(Templates, OutageSmsShowsEtrWhenKnownAndPromisesOneWhenNot) {
  const Vars v = worst_en();
  EXPECT_NE(sms(v1::OUTAGE, v1::DETECTED, "en", v).find("Estimated restoration: 11:30 PM."),
            std::string::npos);
  const std::string unknown = sms(v1::OUTAGE, v1::DETECTED, "en", sparse(v));
  EXPECT_EQ(unknown.find("Estimated restoration:"), std::string::npos);
  EXPECT_NE(unknown.find("estimated restoration time soon"), std::string::npos);
  EXPECT_NE(sms(v1::OUTAGE, v1::DETECTED, "es", worst_es()).find("23:30"), std::string::npos);
}

TEST(Templates, MaintenanceSmsShowsTheWindow) {
  const std::string text = sms(v1::PLANNED_MAINTENANCE, v1::SCHEDULED, "en", worst_en());
  EXPECT_NE(text.find("from Sat Nov 22, 9:00 AM to Sat Nov 22, 5:00 PM"), std::string::npos);
}

TEST(Templates, CallbackLineOnlyWhenOffered) {
  EXPECT_NE(sms(v1::OUTAGE, v1::UPDATED, "en", worst_en()).find("Reply CALL for a callback."),
            std::string::npos);
  EXPECT_EQ(sms(v1::OUTAGE, v1::UPDATED, "en", sparse(worst_en())).find("CALL"),
            std::string::npos);
  EXPECT_NE(sms(v1::BOIL_WATER_ADVISORY, v1::UPDATED, "es", worst_es()).find("Responda CALL"),
            std::string::npos);
  const auto email = catalog().render(v1::OUTAGE, v1::DETECTED, Part::kEmailText, "es",
                                      sparse(worst_es()));
  EXPECT_EQ(email->find("CALL"), std::string::npos);
}

TEST(Templates, FirstMessageCarriesOptOutAndRestorationAsksStillOut) {
  EXPECT_NE(sms(v1::OUTAGE, v1::DETECTED, "en", worst_en()).find("Reply STOP to opt out."),
            std::string::npos);
  EXPECT_NE(sms(v1::OUTAGE, v1::DETECTED, "es", worst_es()).find("Responda STOP"),
            std::string::npos);
  EXPECT_NE(sms(v1::OUTAGE, v1::RESTORED, "en", worst_en()).find("Still out? Reply OUT."),
            std::string::npos);
  EXPECT_NE(sms(v1::OUTAGE, v1::RESTORED, "es", worst_es()).find("Responda OUT"),
            std::string::npos);
}

TEST(Templates, HtmlEscapesVariablesAndTextKeepsThemVerbatim) {
  Vars v = worst_en();
  v.cause = "<script>alert(1)</script> & storms";
  const auto html = catalog().render(v1::OUTAGE, v1::DETECTED, Part::kEmailHtml, "en", v);
  EXPECT_EQ(html->find("<script>"), std::string::npos);
  EXPECT_NE(html->find("&lt;script&gt;alert(1)&lt;/script&gt; &amp; storms"), std::string::npos);
  const auto text = catalog().render(v1::OUTAGE, v1::DETECTED, Part::kEmailText, "en", v);
  EXPECT_NE(text->find("Cause: <script>alert(1)</script> & storms."), std::string::npos);
  const auto voice = catalog().render(v1::OUTAGE, v1::DETECTED, Part::kVoiceScript, "en", v);
  EXPECT_EQ(voice->find("&amp;"), std::string::npos);
}

TEST(Templates, UnknownLanguageFallsBackToEnglish) {
  EXPECT_EQ(sms(v1::OUTAGE, v1::RESTORED, "fr", worst_en()),
            sms(v1::OUTAGE, v1::RESTORED, "en", worst_en()));
}

TEST(Templates, StageOfAnotherKindHasNoTemplate) {
  EXPECT_FALSE(catalog().render(v1::OUTAGE, v1::LIFTED, Part::kSmsText, "en", worst_en()));
  EXPECT_FALSE(catalog().render_all(v1::BOIL_WATER_ADVISORY, v1::DETECTED, "en", worst_en()));
}

constexpr std::array kParts = {Part::kSmsText, Part::kEmailSubject, Part::kEmailText,
                               Part::kEmailHtml, Part::kVoiceScript};

// Vars for the i-th message of a long run: every combination of own values set and unset, with
// names and addresses that differ from one message to the next (so a stencil reused from an
// earlier message must not carry its values), HTML's special characters, accents and line
// breaks; the shared values cycle more slowly, so each stencil is met several times.
Vars varied(int i) {
  static const std::array<const char*, 5> names = {"Ana", "O'Brien & Sons", "<b>Luis</b>",
                                                   "Zoë \"Z\"", "Ñuñez"};
  Vars v = (i / 16) % 2 ? worst_es() : worst_en();
  const int own = i % 16;
  v.first_name = own & 1 ? std::string(names[i % names.size()]) + std::to_string(i) : "";
  v.premises = own & 2 ? std::to_string(i) + " Elm St & 3 <Oak> Ave\nUnit 2" : "";
  v.manage_link = own & 4 ? "https://u.example/p/c" + std::to_string(i) + "?token=a&b=\"1\"" : "";
  if (!(own & 8)) v.callback_line.clear();
  const int shared = (i / 32) % 4;
  if (shared == 1) v = sparse(std::move(v));
  if (shared == 2) v.cause = "tree on <line> & \"pole\" 'B'";
  if (shared == 3) v.etr_local.clear();
  return v;
}

TEST(Templates, StencilsRenderWhatKainjowRendersFromEveryValue) {
  int compared = 0;
  for (const auto kind : kKinds) {
    for (const auto stage : stages_of(kind)) {
      for (const auto part : kParts) {
        for (int i = 0; i < 160; ++i) {
          const Vars v = varied(i);
          const std::string_view lang = (i / 16) % 2 ? "es" : "en";
          const auto direct = catalog().render_direct(kind, stage, part, lang, v);
          ASSERT_TRUE(direct) << template_path(kind, stage, part, lang);
          EXPECT_EQ(catalog().render(kind, stage, part, lang, v), direct)
              << template_path(kind, stage, part, lang) << " message " << i;
          ++compared;
        }
      }
    }
  }
  EXPECT_EQ(compared, 12 * 5 * 160);
}

TEST(Templates, ValuesAStencilCannotStandInForRenderDirectly) {
  for (const std::string odd : {"  ", "\t",
                                "Ann\x1e"
                                "A\x1f",
                                "\x1d"}) {
    Vars v = worst_en();
    v.first_name = odd;
    v.premises = odd;
    for (const auto part : kParts) {
      EXPECT_EQ(catalog().render(v1::OUTAGE, v1::DETECTED, part, "en", v),
                catalog().render_direct(v1::OUTAGE, v1::DETECTED, part, "en", v));
    }
    v = worst_en();
    v.cause = odd;
    EXPECT_EQ(catalog().render(v1::OUTAGE, v1::DETECTED, Part::kEmailHtml, "en", v),
              catalog().render_direct(v1::OUTAGE, v1::DETECTED, Part::kEmailHtml, "en", v));
  }
}

class BrokenCatalog : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("herald-templates-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::copy(HERALD_SOURCE_DIR "/templates", dir_, fs::copy_options::recursive);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string load_error() {
    try {
      Catalog::load(dir_.string());
    } catch (const std::runtime_error& e) {
      return e.what();
    }
    return "loaded";
  }

  fs::path dir_;
};

TEST_F(BrokenCatalog, MissingFileIsNamed) {
  fs::remove(dir_ / "es/boil_water_advisory/lifted.voice.mustache");
  const std::string error = load_error();
  EXPECT_NE(error.find("es/boil_water_advisory/lifted.voice.mustache"), std::string::npos)
      << error;
}

// kainjow drops a line that holds a section tag and renders to spaces and tabs only; a name of
// spaces must not come out of a stencil as a line the direct rendering drops. The same value
// escaped and raw in one HTML part; and a catalog loaded later never reuses the first's
// stencils.
TEST_F(BrokenCatalog, StencilsKeepKainjowsLineRulesAndEachCatalogItsOwn) {
  Vars v = worst_en();
  const Catalog before = Catalog::load(dir_.string());
  const auto old_text = before.render(v1::OUTAGE, v1::UPDATED, Part::kEmailText, "en", v);
  std::ofstream(dir_ / "en/outage/updated.email_text.mustache")
      << "Hello\n{{#first_name}}  {{first_name}}{{/first_name}}\nBye\n";
  std::ofstream(dir_ / "en/outage/updated.email_html.mustache")
      << "<p>{{first_name}} / {{{first_name}}}</p>\n";
  const Catalog after = Catalog::load(dir_.string());
  EXPECT_EQ(after.render(v1::OUTAGE, v1::UPDATED, Part::kEmailText, "en", v),
            "Hello\n  Alexandrina\nBye\n");
  EXPECT_EQ(before.render(v1::OUTAGE, v1::UPDATED, Part::kEmailText, "en", v), old_text);
  v.first_name = "  ";
  EXPECT_EQ(after.render(v1::OUTAGE, v1::UPDATED, Part::kEmailText, "en", v), "Hello\nBye\n");
  v.first_name = "<Al & Bo>";
  EXPECT_EQ(after.render(v1::OUTAGE, v1::UPDATED, Part::kEmailHtml, "en", v),
            "<p>&lt;Al &amp; Bo&gt; / <Al & Bo></p>\n");
}

TEST_F(BrokenCatalog, UnclosedSectionIsNamed) {
  std::ofstream(dir_ / "en/outage/updated.sms.mustache") << "Out {{#etr_local}}ETR {{etr_local}}";
  const std::string error = load_error();
  EXPECT_NE(error.find("en/outage/updated.sms.mustache"), std::string::npos) << error;
  EXPECT_NE(error.find("Unclosed section"), std::string::npos) << error;
}

}  // namespace
}  // namespace herald::templates
