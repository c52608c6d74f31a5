#include "core/config.h"

#include <gtest/gtest.h>

namespace para {
namespace {

TEST(Config, DefaultsAreParas) {
  auto c = Config::load("", "none", {});
  ASSERT_TRUE(c);
  EXPECT_EQ(c->port, 8080);
  EXPECT_EQ(c->app_name, "para");
  EXPECT_EQ(c->request_expires_after, 900);
  EXPECT_EQ(c->max_items_per_page, 30);
  EXPECT_EQ(c->max_page_limit, 256);
  EXPECT_EQ(c->max_pages, 1000);
  EXPECT_EQ(c->max_entity_size_bytes, 1048576);
  EXPECT_EQ(c->worker_id, 1);
  EXPECT_EQ(c->data_dir, "./data");
  EXPECT_TRUE(c->warnings.empty());
}

TEST(Config, FileThenEnvironment) {
  const char* file = R"(# comment
para.port = 9000
para.app_name: "my app"   // trailing comment
para {
  max_items_per_page = 50
  sqlite {
    synchronous = normal
  }
}
para.print_version = off
)";
  auto c = Config::load(file, "application.conf", {{"para_port", "9100"}});
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->port, 9100) << "environment overrides the file";
  EXPECT_EQ(c->app_name, "my app");
  EXPECT_EQ(c->max_items_per_page, 50);
  EXPECT_EQ(c->sqlite_synchronous, "normal");
  EXPECT_FALSE(c->print_version);
}

TEST(Config, DottedKeysMapToUnderscoredVariables) {
  auto c = Config::load("", "f",
                        {{"para_sqlite_synchronous", "normal"},
                         {"para_http_idle_timeout", "5"},
                         {"para_root_secret_override", "s3cret"}});
  ASSERT_TRUE(c);
  EXPECT_EQ(c->sqlite_synchronous, "normal");
  EXPECT_EQ(c->http_idle_timeout_sec, 5);
  EXPECT_EQ(c->root_secret_override, "s3cret");
}

TEST(Config, UnknownKeysAreReportedNotFatal) {
  auto c = Config::load("para.no_such_key = 1\nother.key = 2\n", "app.conf",
                        {{"para_also_unknown", "x"}, {"PATH", "/bin"}});
  ASSERT_TRUE(c);
  ASSERT_EQ(c->warnings.size(), 3u);
  EXPECT_EQ(c->warnings[0], "app.conf:1: unknown key 'para.no_such_key' is ignored.");
  EXPECT_NE(c->warnings[2].find("para_also_unknown"), std::string::npos);
}

TEST(Config, BadValuesFailWithTheirSource) {
  auto bad_int = Config::load("\npara.port = eighty\n", "app.conf", {});
  ASSERT_FALSE(bad_int);
  EXPECT_EQ(bad_int.error().message, "app.conf:2: para.port must be an integer, got \"eighty\".");
  auto range = Config::load("", "f", {{"para_worker_id", "40"}});
  ASSERT_FALSE(range);
  EXPECT_NE(range.error().message.find("environment para_worker_id"), std::string::npos);
  EXPECT_NE(range.error().message.find("between 0 and 31"), std::string::npos);
  EXPECT_FALSE(Config::load("para.print_version = maybe", "f", {}));
  EXPECT_FALSE(Config::load("para.sqlite.synchronous = off", "f", {}));
  EXPECT_FALSE(Config::load("para.sqlite.mmap_mb = -1", "f", {}));
  auto mmap_off = Config::load("para.sqlite.mmap_mb = 0", "f", {});
  ASSERT_TRUE(mmap_off);
  EXPECT_EQ(mmap_off->sqlite_mmap_mb, 0);
  EXPECT_EQ(Config::load("", "f", {}).value().iot_shadow_workers, 0) << "automatic";
  EXPECT_EQ(Config::load("para.iot.shadow.workers = 3", "f", {}).value().iot_shadow_workers, 3);
  EXPECT_FALSE(Config::load("para.iot.shadow.workers = -1", "f", {}));
}

TEST(Config, MalformedFilesFail) {
  EXPECT_FALSE(Config::load("para.port", "f", {}));
  EXPECT_FALSE(Config::load("para {\nport = 1\n", "f", {}));
  EXPECT_FALSE(Config::load("}\n", "f", {}));
  EXPECT_FALSE(Config::load("para.app_name = \"unterminated\n", "f", {}));
  EXPECT_FALSE(Config::load("= 5", "f", {}));
}

TEST(Config, EveryKeyIsDocumented) {
  auto keys = config_keys();
  EXPECT_GT(keys.size(), 15u);
  for (const auto& k : keys) {
    EXPECT_FALSE(k.help.empty()) << k.key;
  }
}

}  // namespace
}  // namespace para
