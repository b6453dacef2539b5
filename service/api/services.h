#pragma once

#include <cstdint>
#include <functional>

#include "service/common/metrics.h"
#include "service/core/auth.h"
#include "service/core/config.h"
#include "service/core/crypto.h"
#include "service/events/event_store.h"
#include "service/http/router.h"
#include "service/redis/pool.h"
#include "service/store/customer_store.h"

namespace herald::api {

// What the handlers work with; owned by main (or a test), outliving the server.
struct Services {
  const core::Config& config;
  redis::Pool& redis;
  store::CustomerStore& customers;
  const core::Authenticator& auth;
  const core::TokenSigner& tokens;
  Metrics& metrics;
  std::function<int64_t()> now_ms;  // injectable clock, milliseconds since the epoch
  events::EventStore& events;
};

void add_health_routes(http::Router& router, Services& services);
void add_customer_routes(http::Router& router, Services& services);
void add_import_routes(http::Router& router, Services& services);
void add_event_routes(http::Router& router, Services& services);

inline void add_all_routes(http::Router& router, Services& services) {
  add_health_routes(router, services);
  add_customer_routes(router, services);
  add_import_routes(router, services);
  add_event_routes(router, services);
}

}  // namespace herald::api
