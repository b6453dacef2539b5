#pragma once

#include "herald/v1/message.pb.h"
#include "service/common/result.h"
#include "service/core/crypto.h"

namespace herald::dispatch {

// Content of this many bytes or more (a rendered email: subject, text and HTML) is compressed
// before it is sealed; shorter content (SMS, voice scripts, most notices) is sealed as it is.
inline constexpr size_t kCompressFrom = 1024;

// Seals a message's content into its dispatch entry, under the message id as associated data:
// into sealed_content as it is, or, from kCompressFrom bytes, LZ4-compressed into
// sealed_lz4_content (its size before compression first, 4 bytes little-endian). Sealed bytes
// do not compress, so the compression has to come before the seal; an email's text and HTML
// repeat each other and shrink to about half, which is that much less for Redis to store,
// write to its AOF and copy in each rewrite.
void seal_content(const v1::MessageContent& content, const core::Sealer& sealer,
                  v1::OutboundMessage& msg);

// The message's content, from either field. kInvalidArgument "unsealable" when it does not
// open (tampered, another key, another message's), "bad_content" when what opened does not
// decompress or parse.
Result<v1::MessageContent> open_content(const core::Sealer& sealer, const v1::OutboundMessage& m);

}  // namespace herald::dispatch
