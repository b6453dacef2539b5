#include "service/api/access.h"

#include <fmt/format.h>

namespace herald::api {

Result<core::Principal> authenticate(const http::Context& ctx, const Services& services) {
  return services.auth.authenticate(ctx.header(bhttp::field::authorization),
                                    services.now_ms() / 1000);
}

Status require_role(const core::Principal& who, std::initializer_list<core::Role> roles,
                    std::string_view action) {
  if (who.role == core::Role::kAdmin) return ok_status();
  for (auto r : roles) {
    if (who.role == r) return ok_status();
  }
  return make_error(ErrorCode::kPermissionDenied,
                    fmt::format("role '{}' may not {}", core::role_name(who.role), action));
}

Status require_customer_access(const core::Principal& who, std::string_view customer_id,
                               std::initializer_list<core::Role> roles, std::string_view action) {
  if (who.role == core::Role::kCustomer) {
    if (who.customer_id == customer_id) return ok_status();
    return make_error(ErrorCode::kPermissionDenied,
                      "a customer token reaches only its own customer");
  }
  return require_role(who, roles, action);
}

}  // namespace herald::api
