#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <memory>
#include <string>
#include <vector>

#include "service/redis/resp.h"

namespace herald::redis {
namespace {

using ReaderPtr = std::unique_ptr<redisReader, void (*)(redisReader*)>;

// Every reply a reader made with our reply objects parses out of `wire`; fails the test if the
// reader reports an error.
std::vector<Reply> parse(const std::string& wire) {
  ReaderPtr reader(new_reader(), redisReaderFree);
  EXPECT_EQ(redisReaderFeed(reader.get(), wire.data(), wire.size()), REDIS_OK);
  std::vector<Reply> out;
  for (;;) {
    void* raw = nullptr;
    EXPECT_EQ(redisReaderGetReply(reader.get(), &raw), REDIS_OK) << reader->errstr;
    if (raw == nullptr) break;
    out.push_back(take_reply(raw));
  }
  return out;
}

TEST(RedisReply, EveryKindOfReplyIsBuiltAsOurs) {
  const std::string binary("a\0b\r\nc", 6);
  const auto got = parse("+OK\r\n-ERR wrong type\r\n:-42\r\n$-1\r\n$0\r\n\r\n$6\r\n" + binary +
                         "\r\n*-1\r\n*0\r\n");
  ASSERT_EQ(got.size(), 8u);
  EXPECT_EQ(got[0].type, Reply::Type::kStatus);
  EXPECT_EQ(got[0].str, "OK");
  EXPECT_TRUE(got[1].is_error());
  EXPECT_EQ(got[1].str, "ERR wrong type");
  EXPECT_EQ(got[2].type, Reply::Type::kInteger);
  EXPECT_EQ(got[2].integer, -42);
  EXPECT_TRUE(got[3].is_nil());
  EXPECT_EQ(got[4].type, Reply::Type::kString);
  EXPECT_EQ(got[4].str, "");
  EXPECT_EQ(got[5].str, binary) << "a bulk string keeps its zero bytes and line ends";
  EXPECT_TRUE(got[6].is_nil()) << "a nil array";
  EXPECT_EQ(got[7].type, Reply::Type::kArray);
  EXPECT_TRUE(got[7].elements.empty());
}

// An XREADGROUP-shaped reply: arrays inside arrays, each element in its place.
TEST(RedisReply, NestedArraysKeepTheirOrderAndDepth) {
  const auto got = parse(
      "*1\r\n*2\r\n$6\r\nstream\r\n*2\r\n"
      "*2\r\n$3\r\n1-0\r\n*2\r\n$1\r\nm\r\n$3\r\none\r\n"
      "*2\r\n$3\r\n2-0\r\n*4\r\n$1\r\nm\r\n$3\r\ntwo\r\n$1\r\nm\r\n$-1\r\n"
      ":7\r\n");
  ASSERT_EQ(got.size(), 2u);
  ASSERT_EQ(got[0].elements.size(), 1u);
  const Reply& stream = got[0].elements[0];
  ASSERT_EQ(stream.elements.size(), 2u);
  EXPECT_EQ(stream.elements[0].str, "stream");
  const auto& entries = stream.elements[1].elements;
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].elements[0].str, "1-0");
  EXPECT_EQ(entries[0].elements[1].elements[1].str, "one");
  EXPECT_EQ(entries[1].elements[0].str, "2-0");
  ASSERT_EQ(entries[1].elements[1].elements.size(), 4u);
  EXPECT_EQ(entries[1].elements[1].elements[1].str, "two");
  EXPECT_TRUE(entries[1].elements[1].elements[3].is_nil());
  EXPECT_EQ(got[1].integer, 7) << "the next reply starts after the nested one";
}

// A reply split across reads is finished by the next feed, as a socket delivers it.
TEST(RedisReply, AReplySplitAcrossReadsIsCompletedByTheNext) {
  ReaderPtr reader(new_reader(), redisReaderFree);
  const std::string wire = "*3\r\n$5\r\nhello\r\n:1\r\n$5\r\nworld\r\n";
  const size_t cut = 15;  // inside the array, after "hello"
  ASSERT_EQ(redisReaderFeed(reader.get(), wire.data(), cut), REDIS_OK);
  void* raw = nullptr;
  ASSERT_EQ(redisReaderGetReply(reader.get(), &raw), REDIS_OK);
  EXPECT_EQ(raw, nullptr) << "not whole yet";
  ASSERT_EQ(redisReaderFeed(reader.get(), wire.data() + cut, wire.size() - cut), REDIS_OK);
  ASSERT_EQ(redisReaderGetReply(reader.get(), &raw), REDIS_OK);
  ASSERT_NE(raw, nullptr);
  const Reply r = take_reply(raw);
  ASSERT_EQ(r.elements.size(), 3u);
  EXPECT_EQ(r.elements[0].str, "hello");
  EXPECT_EQ(r.elements[1].integer, 1);
  EXPECT_EQ(r.elements[2].str, "world");
}

// A protocol error in the middle of an array: the reader reports it and frees the reply it was
// building (the array and what it held so far) through our functions.
TEST(RedisReply, AProtocolErrorInsideAnArrayIsReportedNotReturned) {
  ReaderPtr reader(new_reader(), redisReaderFree);
  const std::string wire = "*3\r\n$3\r\nabc\r\n:5\r\n?bad\r\n";
  ASSERT_EQ(redisReaderFeed(reader.get(), wire.data(), wire.size()), REDIS_OK);
  void* raw = nullptr;
  EXPECT_EQ(redisReaderGetReply(reader.get(), &raw), REDIS_ERR);
  EXPECT_EQ(raw, nullptr);
  EXPECT_NE(std::string(reader->errstr).find("Protocol error"), std::string::npos)
      << reader->errstr;
}

}  // namespace
}  // namespace herald::redis
