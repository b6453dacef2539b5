#pragma once

#include <initializer_list>
#include <string_view>

#include "service/api/services.h"
#include "service/http/types.h"

namespace herald::api {

// The caller, from the Authorization header (401 when absent or invalid).
Result<core::Principal> authenticate(const http::Context& ctx, const Services& services);

// 403 unless the principal has one of `roles`; admin may do everything.
Status require_role(const core::Principal& who, std::initializer_list<core::Role> roles,
                    std::string_view action);

// Staff with one of `roles`, or the customer's own token.
Status require_customer_access(const core::Principal& who, std::string_view customer_id,
                               std::initializer_list<core::Role> roles, std::string_view action);

}  // namespace herald::api
