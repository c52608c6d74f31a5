#include "core/types.h"

#include <algorithm>
#include <array>

namespace para {
namespace {

constexpr std::array<std::string_view, 14> kCommonFields = {
    "id",   "timestamp", "type",  "appid",   "parentid", "creatorid", "updated",
    "name", "tags",      "votes", "version", "stored",   "indexed",   "cached"};

constexpr std::array<std::string_view, 6> kLockedCommonFields = {"id",    "timestamp", "type",
                                                                 "appid", "parentid",  "creatorid"};

constexpr DeclaredField kAppFields[] = {
    {"secret", true, true},
    {"settings", true, true},
    {"credentials", true, true},
    {"datatypes", true, false},
    {"validationConstraints", true, false},
    {"resourcePermissions", true, false},
    {"sharingIndex", true, false},
    {"sharingTable", true, false},
    {"active", false, false},
    {"readOnly", false, false},
    {"deleteOn", false, false},
    {"tokenValiditySec", false, false},
};

constexpr DeclaredField kThingFields[] = {
    {"serviceBroker", true, false},
    {"deviceState", false, false},
    {"deviceMetadata", true, true},
    {"deviceShadow", true, false},
};

constexpr DeclaredField kUserFields[] = {
    {"identifier", false, false},    {"groups", true, false},
    {"active", false, false},        {"email", false, false},
    {"currency", false, false},      {"picture", false, false},
    {"twoFA", false, false},         {"tokenSecret", true, true},
    {"twoFAkey", true, true},        {"twoFAbackupKeyHash", true, true},
    {"idpIdToken", true, true},      {"idpAccessToken", true, true},
    {"idpRefreshToken", true, true},
};

constexpr DeclaredField kTagFields[] = {{"tag", false, false}, {"count", false, false}};
constexpr DeclaredField kAddressFields[] = {{"address", false, false},
                                            {"country", false, false},
                                            {"latlng", false, false},
                                            {"phone", false, false}};
constexpr DeclaredField kTranslationFields[] = {{"locale", false, false},
                                                {"value", false, false},
                                                {"thekey", false, false},
                                                {"approved", false, false}};
constexpr DeclaredField kVoteFields[] = {
    {"value", false, false}, {"expiresAfter", false, false}, {"lockedAfter", false, false}};
constexpr DeclaredField kLinkerFields[] = {{"id1", true, false},       {"id2", true, false},
                                           {"type1", true, false},     {"type2", true, false},
                                           {"metadata", false, false}, {"nstd", false, false}};
constexpr DeclaredField kWebhookFields[] = {
    {"targetUrl", false, false},      {"secret", false, true},        {"typeFilter", false, false},
    {"urlEncoded", false, false},     {"create", false, false},       {"update", false, false},
    {"delete", false, false},         {"createAll", false, false},    {"updateAll", false, false},
    {"deleteAll", false, false},      {"customEvents", false, false}, {"active", false, false},
    {"tooManyFailures", false, false}};

constexpr TypeSchema kCoreTypes[] = {
    {"address", kAddressFields},
    {"app", kAppFields},
    {"linker", kLinkerFields},
    {"sysprop", {}},
    {"tag", kTagFields},
    {"thing", kThingFields},
    {"translation", kTranslationFields},
    {"user", kUserFields},
    {"vote", kVoteFields},
    {"webhook", kWebhookFields},
};

}  // namespace

const DeclaredField* TypeSchema::find(std::string_view field) const {
  for (const auto& f : fields) {
    if (f.name == field) return &f;
  }
  return nullptr;
}

std::span<const TypeSchema> core_types() {
  return kCoreTypes;
}

const TypeSchema* find_core_type(std::string_view type) {
  for (const auto& t : kCoreTypes) {
    if (t.type == type) return &t;
  }
  return nullptr;
}

bool is_common_field(std::string_view field) {
  return std::find(kCommonFields.begin(), kCommonFields.end(), field) != kCommonFields.end();
}

bool is_locked_common_field(std::string_view field) {
  return std::find(kLockedCommonFields.begin(), kLockedCommonFields.end(), field) !=
         kLockedCommonFields.end();
}

std::string plural_of(std::string_view singular) {
  std::string word(singular);
  if (word.empty()) return word;
  if (word.ends_with("es") || word.ends_with("ies")) return word;
  if (word.ends_with('s')) return word + "es";
  if (word.ends_with('y')) return word.substr(0, word.size() - 1) + "ies";
  return word + "s";
}

bool is_valid_type_name(std::string_view type) {
  if (type.empty() || type.size() > 64 || type.front() == '_') return false;
  if (type == "search" || type == "utils") return false;
  return std::all_of(type.begin(), type.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
  });
}

}  // namespace para
