#pragma once

// One customer as scripts/gen_customers.py writes them, for the per-customer benchmarks.
namespace herald::bench {

inline constexpr const char* kSampleCustomerLine =
    R"({"id":"C-0000001","name":"Helen Chapman","phone":"+15519107100",)"
    R"("email":"helen.chapman+1@example.org","language":"en","timeZone":"America/New_York",)"
    R"("premises":[{"id":"P-00000010","address":"496 Cherry Pl","feeder":"F-0161",)"
    R"("transformer":"T-000001","zip":"10009","location":{"lat":40.734682,"lon":-73.984429}}],)"
    R"("preferences":{"channels":{"OUTAGE":["EMAIL","SMS"],"PLANNED_MAINTENANCE":["SMS"],)"
    R"("BOIL_WATER_ADVISORY":["EMAIL"]},"cadence":"EVERY_UPDATE",)"
    R"("quietHours":{"start":"21:00","end":"07:00"},"maxPerDay":9}})";

}  // namespace herald::bench
