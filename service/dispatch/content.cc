#include "service/dispatch/content.h"

#include <lz4.h>

#include <cstdint>
#include <string>

#include "service/common/error.h"

namespace herald::dispatch {
namespace {

constexpr size_t kSizeBytes = 4;
// The largest content a sealed message may claim to decompress to: far above any template's
// output, and a bound on what a forged size could make a sender allocate.
constexpr uint32_t kMaxContentBytes = 1u << 20;

}  // namespace

void seal_content(const v1::MessageContent& content, const core::Sealer& sealer,
                  v1::OutboundMessage& msg) {
  const std::string plain = content.SerializeAsString();
  if (plain.size() < kCompressFrom || plain.size() > kMaxContentBytes) {
    msg.set_sealed_content(sealer.seal(plain, msg.id()));
    return;
  }
  const int size = static_cast<int>(plain.size());
  std::string packed(kSizeBytes + static_cast<size_t>(LZ4_compressBound(size)), '\0');
  for (size_t k = 0; k < kSizeBytes; ++k) {
    packed[k] = static_cast<char>((plain.size() >> (8 * k)) & 0xff);
  }
  const int written = LZ4_compress_default(plain.data(), packed.data() + kSizeBytes, size,
                                           static_cast<int>(packed.size() - kSizeBytes));
  if (written <= 0) {  // cannot happen with a compressBound buffer; sealed whole all the same
    msg.set_sealed_content(sealer.seal(plain, msg.id()));
    return;
  }
  packed.resize(kSizeBytes + static_cast<size_t>(written));
  msg.set_sealed_lz4_content(sealer.seal(packed, msg.id()));
}

Result<v1::MessageContent> open_content(const core::Sealer& sealer, const v1::OutboundMessage& m) {
  const bool packed = !m.sealed_lz4_content().empty();
  auto opened = sealer.open(packed ? m.sealed_lz4_content() : m.sealed_content(), m.id());
  if (!opened.ok()) return make_error(ErrorCode::kInvalidArgument, "unsealable");
  v1::MessageContent content;
  if (!packed) {
    if (!content.ParseFromString(*opened)) {
      return make_error(ErrorCode::kInvalidArgument, "bad_content");
    }
    return content;
  }
  const std::string& in = *opened;
  if (in.size() < kSizeBytes) return make_error(ErrorCode::kInvalidArgument, "bad_content");
  uint32_t size = 0;
  for (size_t k = 0; k < kSizeBytes; ++k) {
    size |= static_cast<uint32_t>(static_cast<unsigned char>(in[k])) << (8 * k);
  }
  if (size > kMaxContentBytes) return make_error(ErrorCode::kInvalidArgument, "bad_content");
  std::string plain(size, '\0');
  const int got =
      LZ4_decompress_safe(in.data() + kSizeBytes, plain.data(),
                          static_cast<int>(in.size() - kSizeBytes), static_cast<int>(size));
  if (got < 0 || static_cast<uint32_t>(got) != size || !content.ParseFromString(plain)) {
    return make_error(ErrorCode::kInvalidArgument, "bad_content");
  }
  return content;
}

}  // namespace herald::dispatch
