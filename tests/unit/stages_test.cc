#include "service/events/stages.h"

#include <gtest/gtest.h>

#include <optional>

namespace herald::events {
namespace {

using v1::Stage;

struct Case {
  v1::EventKind kind;
  std::optional<Stage> from;
  Stage to;
};

TEST(Stages, EveryTransitionOfTheDesignTableIsAllowed) {
  const Case allowed[] = {
      {v1::OUTAGE, std::nullopt, v1::DETECTED},
      {v1::OUTAGE, v1::DETECTED, v1::UPDATED},
      {v1::OUTAGE, v1::DETECTED, v1::RESTORED},
      {v1::OUTAGE, v1::DETECTED, v1::CANCELLED},
      {v1::OUTAGE, v1::UPDATED, v1::UPDATED},
      {v1::OUTAGE, v1::UPDATED, v1::RESTORED},
      {v1::OUTAGE, v1::UPDATED, v1::CANCELLED},
      {v1::PLANNED_MAINTENANCE, std::nullopt, v1::SCHEDULED},
      {v1::PLANNED_MAINTENANCE, v1::SCHEDULED, v1::SCHEDULED},
      {v1::PLANNED_MAINTENANCE, v1::SCHEDULED, v1::REMINDER},
      {v1::PLANNED_MAINTENANCE, v1::SCHEDULED, v1::STARTED},
      {v1::PLANNED_MAINTENANCE, v1::SCHEDULED, v1::CANCELLED},
      {v1::PLANNED_MAINTENANCE, v1::REMINDER, v1::STARTED},
      {v1::PLANNED_MAINTENANCE, v1::REMINDER, v1::CANCELLED},
      {v1::PLANNED_MAINTENANCE, v1::STARTED, v1::COMPLETED},
      {v1::BOIL_WATER_ADVISORY, std::nullopt, v1::ISSUED},
      {v1::BOIL_WATER_ADVISORY, v1::ISSUED, v1::UPDATED},
      {v1::BOIL_WATER_ADVISORY, v1::ISSUED, v1::LIFTED},
      {v1::BOIL_WATER_ADVISORY, v1::UPDATED, v1::UPDATED},
      {v1::BOIL_WATER_ADVISORY, v1::UPDATED, v1::LIFTED},
  };
  for (const auto& c : allowed) {
    EXPECT_TRUE(check_transition(c.kind, c.from, c.to).ok())
        << v1::EventKind_Name(c.kind) << " " << (c.from ? v1::Stage_Name(*c.from) : "(new)")
        << " -> " << v1::Stage_Name(c.to);
  }
}

// Every pair not in the table is refused: 20 allowed out of all kind x from x to combinations.
TEST(Stages, EverythingElseIsAConflictNamingTheCurrentStage) {
  int allowed = 0;
  for (auto kind : {v1::OUTAGE, v1::PLANNED_MAINTENANCE, v1::BOIL_WATER_ADVISORY}) {
    for (int from = v1::DETECTED; from <= v1::LIFTED; ++from) {
      for (int to = v1::STAGE_UNSPECIFIED; to <= v1::LIFTED; ++to) {
        auto ok = check_transition(kind, static_cast<Stage>(from), static_cast<Stage>(to));
        if (ok.ok()) {
          ++allowed;
          continue;
        }
        EXPECT_EQ(ok.error().code, ErrorCode::kConflict);
        EXPECT_EQ(ok.error().field, "stage");
        EXPECT_NE(ok.error().message.find("at stage " + v1::Stage_Name(static_cast<Stage>(from))),
                  std::string::npos)
            << ok.error().message;
      }
    }
  }
  EXPECT_EQ(allowed, 17);  // the table's transitions from an existing stage
}

TEST(Stages, UpdatedAfterRestoredSaysRestored) {
  auto ok = check_transition(v1::OUTAGE, v1::RESTORED, v1::UPDATED);
  ASSERT_FALSE(ok.ok());
  EXPECT_EQ(ok.error().code, ErrorCode::kConflict);
  EXPECT_NE(ok.error().message.find("RESTORED"), std::string::npos);
  EXPECT_NE(ok.error().message.find("UPDATED cannot follow"), std::string::npos);
}

TEST(Stages, ANewEventMustStartAtItsKindsFirstStage) {
  EXPECT_EQ(first_stage(v1::OUTAGE), v1::DETECTED);
  EXPECT_EQ(first_stage(v1::PLANNED_MAINTENANCE), v1::SCHEDULED);
  EXPECT_EQ(first_stage(v1::BOIL_WATER_ADVISORY), v1::ISSUED);
  auto ok = check_transition(v1::OUTAGE, std::nullopt, v1::RESTORED);
  ASSERT_FALSE(ok.ok());
  EXPECT_EQ(ok.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(ok.error().field, "stage");
  EXPECT_NE(ok.error().message.find("starts at DETECTED"), std::string::npos);
  EXPECT_FALSE(check_transition(v1::EVENT_KIND_UNSPECIFIED, std::nullopt, v1::DETECTED).ok());
}

TEST(Stages, TerminalStagesEndTheEvent) {
  for (auto s : {v1::RESTORED, v1::COMPLETED, v1::LIFTED, v1::CANCELLED}) {
    EXPECT_TRUE(is_terminal(s));
    EXPECT_FALSE(is_active(s));
  }
  for (auto s : {v1::DETECTED, v1::UPDATED, v1::SCHEDULED, v1::REMINDER, v1::STARTED, v1::ISSUED}) {
    EXPECT_FALSE(is_terminal(s));
    EXPECT_TRUE(is_active(s));
  }
  EXPECT_FALSE(is_active(v1::STAGE_UNSPECIFIED));
  EXPECT_TRUE(next_stages(v1::OUTAGE, v1::CANCELLED).empty());
}

TEST(Stages, EmergencyIsTheSeverityOrABoilWaterAdvisoryBeingIssued) {
  v1::Event e;
  e.set_kind(v1::OUTAGE);
  e.set_stage(v1::DETECTED);
  e.set_severity(v1::ADVISORY);
  EXPECT_FALSE(is_emergency(e));
  e.set_severity(v1::EMERGENCY);
  EXPECT_TRUE(is_emergency(e));
  e.set_kind(v1::BOIL_WATER_ADVISORY);
  e.set_severity(v1::ADVISORY);
  e.set_stage(v1::ISSUED);
  EXPECT_TRUE(is_emergency(e));
  e.set_stage(v1::LIFTED);
  EXPECT_FALSE(is_emergency(e));
}

}  // namespace
}  // namespace herald::events
