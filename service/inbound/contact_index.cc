#include "service/inbound/contact_index.h"

#include "service/core/crypto.h"
#include "service/store/keys.h"
#include "service/store/scripts.h"

namespace herald::inbound {
namespace {

// ARGV: groups of five (customer id, cid key, phone key|'', phone field|'', email hash|'').
// The invalid:email check costs nothing while no address ever bounced; a mark without the
// bounced address's hash (set by someone else) is left alone.
const store::Script& stored_script() {
  static const store::Script script(R"lua(
local any_invalid = redis.call('SCARD', 'invalid:email') > 0
for i = 1, #ARGV, 5 do
  local id, cidkey, phkey, ph, em = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4]
  if phkey ~= '' then redis.call('HSET', phkey, ph, id) end
  if any_invalid then
    local n = redis.call('HGET', cidkey, id)
    local bad = n and redis.call('HGET', 'iv:email', n)
    if bad and bad ~= em then
      redis.call('SREM', 'invalid:email', n)
      redis.call('HDEL', 'iv:email', n)
    end
  end
end
return 0)lua");
  return script;
}

const store::Script& erased_script() {
  static const store::Script script(R"lua(
if redis.call('HGET', ARGV[1], ARGV[2]) == ARGV[3] then redis.call('HDEL', ARGV[1], ARGV[2]) end
return 0)lua");
  return script;
}

Status check(const Result<redis::Reply>& r) {
  if (!r.ok()) return r.error();
  return ok_status();
}

}  // namespace

Result<ContactIndex> ContactIndex::from_pii_key(std::string_view key_text) {
  auto raw = core::decode_key(key_text, "HERALD_PII_KEY");
  if (!raw.ok()) return std::move(raw).take_error();
  return ContactIndex(core::hmac_sha256(*raw, "herald contact index v1"));
}

std::string ContactIndex::hash(std::string_view contact) const {
  return core::to_hex(mac_.mac(contact));
}

ContactIndex::Slot ContactIndex::phone_slot(std::string_view phone) const {
  const std::string mac = mac_.mac(phone);
  return Slot{"ph:{" + core::to_hex(std::string_view(mac).substr(0, 2)) + "}", mac.substr(2, 12)};
}

awaitable<Status> ContactIndex::stored(redis::Pool& pool,
                                       std::span<const v1::Customer> customers) const {
  std::vector<std::string> args;
  args.reserve(customers.size() * 5);
  for (const auto& c : customers) {
    Slot ph = c.phone().empty() ? Slot{} : phone_slot(c.phone());
    args.push_back(c.id());
    args.push_back(store::customer_id_key(c.id()));
    args.push_back(std::move(ph.key));
    args.push_back(std::move(ph.field));
    args.push_back(c.email().empty() ? std::string() : hash(c.email()));
  }
  if (args.empty()) co_return ok_status();
  co_return check(co_await stored_script().run(pool, std::move(args)));
}

awaitable<Status> ContactIndex::erased(redis::Pool& pool, const v1::Customer& customer) const {
  if (customer.phone().empty()) co_return ok_status();
  Slot ph = phone_slot(customer.phone());
  co_return check(co_await erased_script().run(
      pool, redis::cmd(std::move(ph.key), std::move(ph.field), customer.id())));
}

}  // namespace herald::inbound
