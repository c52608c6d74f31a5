// Device shadows with AWS IoT Device Shadow semantics, as pure functions over
// values: no I/O, no clock (callers pass `now`), no threads.
//
// See ../shared/reference/aws-iot.md sections 4 and 5 for the rules; every
// error message here is AWS's own text, because device SDKs show it.
//
// How the server uses it (local broker), per request on one shadow, with the
// stored value read and written under the same per-shadow lock:
//   update: apply_update(stored, payload, now) -> persist .shadow, then publish
//           .accepted, .documents and .delta (if any) on reply_topic(...);
//           on failure publish error_document(error, now) on .../rejected.
//   get:    parse_get_request(payload) -> get_document(stored, name, now, request)
//   delete: parse_delete_request(payload) -> delete_shadow(stored, name, now,
//           request) -> persist .shadow (a deleted shadow keeps its version)
// The REST side (Thing.deviceState / deviceShadow) uses desired_replacement,
// device_state_view and shadow_view.
//
// Timestamps are integer epoch seconds everywhere. Every JSON text produced
// here is compact and keeps numbers exact (core/json.h); payload key order is
// fixed, so outputs are byte-for-byte deterministic.
//
// Thread-safety: pure functions and value types; no shared state.
// Errors: ShadowError {code, message, client_token} with AWS's HTTP-like codes
// (400, 404, 409, 413, 415, and 500 only for a version counter at its maximum);
// they go into `rejected` payloads and REST errors unchanged. No function
// throws on bad input; only allocation failure can throw. Storage decoding
// reports corruption as a para::Error (kInternal), because it is our data,
// not the client's.
#pragma once

#include <boost/system/result.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.h"
#include "core/json.h"

namespace para::iot {

// ---------------------------------------------------------------- errors ---

// An AWS shadow error. `code` is the HTTP status AWS uses (the `code` member
// of a rejected document); `message` is AWS's exact text. `client_token` is
// the request's token when it could be read and was valid, so the rejection
// can echo it (SDKs match responses by token).
struct ShadowError {
  int code = 500;
  std::string message;
  std::optional<std::string> client_token;
};

// A T or a ShadowError. Calling value() on an error throws std::logic_error
// (a caller bug), like para::Result.
template <class T>
using ShadowResult = boost::system::result<T, ShadowError>;

[[noreturn]] void throw_exception_from_error(const ShadowError& e,
                                             const boost::source_location& loc);

// The exact AWS messages, for callers that build errors themselves and for tests.
inline constexpr std::string_view kMsgUnsupportedEncoding =
    "Unsupported documented encoding; supported encoding is UTF-8";
inline constexpr std::string_view kMsgInvalidJson = "Invalid JSON";
inline constexpr std::string_view kMsgMissingState = "Missing required node: state";
inline constexpr std::string_view kMsgStateNotObject = "State node must be an object";
inline constexpr std::string_view kMsgDesiredNotObject = "Desired node must be an object";
inline constexpr std::string_view kMsgReportedNotObject = "Reported node must be an object";
inline constexpr std::string_view kMsgInvalidVersion = "Invalid version";
inline constexpr std::string_view kMsgInvalidClientToken = "Invalid clientToken";
inline constexpr std::string_view kMsgTooDeep =
    "JSON contains too many levels of nesting; maximum is 6";
inline constexpr std::string_view kMsgVersionConflict = "Version conflict";
inline constexpr std::string_view kMsgTooLarge = "The payload exceeds the maximum size allowed";
inline constexpr std::string_view kMsgInternal = "Internal service failure";
// "State contains an invalid node: '<key>'" and "No shadow exists with name:
// '<name>'" carry a value and are built by the functions below.

// --------------------------------------------------------------- limits ---

// Fixed by the protocol (AWS's messages and SDKs depend on them).
inline constexpr int kMaxStateDepth = 6;  // see apply_update for how levels count
inline constexpr std::size_t kMaxClientTokenBytes = 64;
inline constexpr std::size_t kMaxThingNameBytes = 128;
inline constexpr std::size_t kMaxShadowNameBytes = 64;

struct ShadowLimits {
  // Bytes of compact JSON of desired + reported after the merge (an absent
  // section counts 0, metadata never counts). AWS's default quota is 8 KB;
  // accounts raise it, so it is configurable.
  std::size_t max_state_bytes = 8192;
  // Bytes of the raw request payload (AWS's MQTT/HTTP message limit, 128 KB),
  // checked before parsing so a huge payload costs nothing.
  std::size_t max_payload_bytes = 128 * 1024;
  // false (AWS as its staff describe it): update/delta is published only when
  // the request had a non-null `desired` section. true (Greengrass): after
  // every accepted update whose resulting delta is non-empty.
  bool delta_on_every_update = false;
};

// --------------------------------------------------------------- values ---

// One stored shadow (classic or named; the name is the caller's key).
//
// A default-constructed Shadow is one that never existed: exists() false,
// version 0. A deleted shadow is exists() false with the version it had when
// deleted, so an update after a delete continues counting (AWS does so within
// 48 h; we always do, because SDKs with discardStale drop replies whose
// version went backwards).
//
// Invariants (kept by every function here, checked by shadow_from_storage):
//  * desired()/reported() never contain null values or empty objects outside
//    arrays; an empty object means the section is absent;
//  * desired_metadata()/reported_metadata() mirror them: an object per
//    object, an array of {"timestamp":T} per array (one per element), and
//    {"timestamp":T} per other leaf;
//  * a shadow that does not exist has empty state and metadata.
class Shadow {
 public:
  Shadow() = default;

  bool exists() const { return exists_; }
  // Version of the last accepted update (0: never updated). Kept on delete.
  std::int64_t version() const { return version_; }
  const json::object& desired() const { return desired_; }
  const json::object& reported() const { return reported_; }
  const json::object& desired_metadata() const { return desired_metadata_; }
  const json::object& reported_metadata() const { return reported_metadata_; }

  // Semantic equality (object key order is ignored, numbers compare as
  // Boost.JSON does). Compare to_storage_json() output for byte equality.
  friend bool operator==(const Shadow&, const Shadow&) = default;

 private:
  friend struct ShadowAccess;  // the engine in shadow.cpp

  json::object desired_;
  json::object reported_;
  json::object desired_metadata_;
  json::object reported_metadata_;
  std::int64_t version_ = 0;
  bool exists_ = false;
};

// Compact storage JSON of `shadow`, e.g.
//   {"version":3,"exists":true,"state":{"desired":{..},"reported":{..}},
//    "metadata":{"desired":{..},"reported":{..}}}
// with empty sections left out. Exact: shadow_from_storage gives back an
// equal Shadow, and writing that again gives the same bytes.
std::string to_storage_json(const Shadow& shadow);

// Reads to_storage_json output. Errors: kInternal ("Corrupt shadow record:
// ...") when the text is not such a record: bad JSON, unknown keys, wrong
// types, negative version, metadata that does not mirror the state, empty
// objects or nulls in the state, or state on a shadow that does not exist.
Result<Shadow> shadow_from_storage(std::string_view text);

// --------------------------------------------------------------- update ---

struct UpdateOutcome {
  Shadow shadow;          // the new value; persist it before publishing
  std::string accepted;   // update/accepted payload, also the REST UpdateThingShadow body
  std::string documents;  // update/documents payload
  std::optional<std::string> delta;  // update/delta payload, when one is due
};

// Applies an UpdateThingShadow request payload (MQTT `.../update` or REST
// body) to `current`, following aws-iot.md 4.2 in order. On failure nothing
// changes and the error says why; the first failing rule wins:
//   413 kMsgTooLarge          payload longer than limits.max_payload_bytes
//   415 kMsgUnsupportedEncoding  payload is not valid UTF-8
//   400 kMsgTooDeep           brackets nested more than 32 deep anywhere in
//                             the payload (checked before parsing, so
//                             pathological nesting costs nothing)
//   400 kMsgInvalidJson       not JSON, or not a JSON object
//   400 kMsgMissingState      no `state` member
//   400 kMsgStateNotObject    `state` neither an object nor null
//   400 kMsgDesiredNotObject / kMsgReportedNotObject: section neither object nor null
//   400 "State contains an invalid node: '<key>'"  any other key in `state`
//                             (including `delta`), key shown raw
//   400 kMsgInvalidVersion    `version` present, not null, and not an integer
//                             in [0, 2^63-1] (so 1.0, "1" and -1 are invalid)
//   400 kMsgInvalidClientToken  `clientToken` present, not null, and not a
//                             string of at most 64 bytes
//   400 kMsgTooDeep           a section nests too deep: the section object is
//                             level 1 and each non-empty object or array
//                             below it one more; a non-empty one at level 7
//                             fails. desired.a.b.c.d.e.f = 1 passes (e is the
//                             level-6 object holding leaf f); .g = 1 below f fails
//   400 kMsgInvalidJson       an array anywhere in a section has a null element
//                             (AWS documents the rule, not its text; this is
//                             its generic one)
//   409 kMsgVersionConflict   `version` given and != current.version(); a
//                             shadow that does not exist has version 0 or the
//                             version it was deleted with
//   413 kMsgTooLarge          merged desired + reported exceed limits.max_state_bytes
//   500 kMsgInternal          current.version() is already 2^63-1
// `version: null` and `clientToken: null` count as absent. Other top-level
// members are ignored.
//
// Merge: `state: null` clears both sections; a section `null` clears that
// section; otherwise a `null` value deletes its key, an object merged onto an
// object recurses, and any other value (scalar, array, or an object replacing
// a non-object) replaces; objects left empty are dropped (so `"desired":{}`
// changes nothing, and `{}` replacing a scalar removes the key). Every leaf
// written gets metadata {"timestamp":now} (arrays one per element); removed
// keys lose theirs; untouched leaves keep theirs. Every accepted update, also
// `state: null` and `{"state":{}}`, makes version() one higher and exists() true.
//
// Payloads (key order as shown, clientToken only when the request had one):
//   accepted:  {"state":<request state as sent, nulls included>,
//               "metadata":<request state with every leaf, null or array
//               element replaced by {"timestamp":now}>,
//               "version":V,"timestamp":now,"clientToken":..}
//   documents: {"previous":{"state":..,"metadata":..,"version":V-1} or null
//               when the shadow did not exist before, "current":{..,"version":V},
//               "timestamp":now,"clientToken":..}
//   delta:     {"state":<whole delta>,"metadata":<desired metadata of the
//               delta's leaves>,"version":V,"timestamp":now,"clientToken":..}
//              when due (see ShadowLimits::delta_on_every_update) and the
//              delta is not empty.
ShadowResult<UpdateOutcome> apply_update(const Shadow& current, std::string_view payload,
                                         std::int64_t now, const ShadowLimits& limits = {});

// The delta of aws-iot.md 4.3: desired keys whose value differs from
// reported, recursing where both are objects (keeping the path to the root);
// arrays and mismatched types are taken whole from desired; numbers compare
// by value (1 == 1.0), also inside arrays. Empty when nothing differs.
json::object compute_delta(const json::object& desired, const json::object& reported);

// -------------------------------------------------------- get and delete ---

// The parsed payload of a get or delete request.
struct ShadowRequest {
  std::optional<std::string> client_token;
  std::optional<std::int64_t> version;  // delete only; get ignores it
};

// Parses a `.../get` payload: empty (or only whitespace) or a JSON object.
// `clientToken` is read and validated; `version` (the SDK sends its last seen
// one) and all other members are ignored. Errors: 415 kMsgUnsupportedEncoding,
// 413 kMsgTooLarge (over 128 KB), 400 kMsgTooDeep, 400 kMsgInvalidJson (not
// JSON or not an object), 400 kMsgInvalidClientToken.
ShadowResult<ShadowRequest> parse_get_request(std::string_view payload);

// Like parse_get_request for `.../delete`, but `version` is kept for the
// optimistic check in delete_shadow: 400 kMsgInvalidVersion when present, not
// null and not an integer in [0, 2^63-1].
ShadowResult<ShadowRequest> parse_delete_request(std::string_view payload);

// The name AWS puts in "No shadow exists with name: '<name>'": the shadow
// name of a named shadow, the thing name of the classic one.
std::string_view shadow_display_name(std::string_view thing_name, std::string_view shadow_name);

// 404 "No shadow exists with name: '<name>'", echoing `client_token`.
ShadowError shadow_not_found(std::string_view name, std::optional<std::string> client_token);

// The get/accepted document (= REST GetThingShadow body):
//   {"state":{"desired":..,"reported":..,"delta":..},
//    "metadata":{"desired":..,"reported":..},"version":V,"timestamp":now,"clientToken":..}
// where desired, reported and delta appear only when non-empty (a cleared
// shadow gives "state":{} and "metadata":{}), and clientToken only when the
// request had one. Errors: shadow_not_found(name, token) when !exists().
ShadowResult<std::string> get_document(const Shadow& shadow, std::string_view name,
                                       std::int64_t now, const ShadowRequest& request = {});

struct DeleteOutcome {
  Shadow shadow;         // exists() false, same version; persist it
  std::string accepted;  // {"version":V,"timestamp":now,"clientToken":..}, V unchanged
};

// Deletes the shadow. Errors: shadow_not_found(name, token) when !exists();
// 409 kMsgVersionConflict when request.version is set and differs.
// Not idempotent by design (AWS answers 404 to a second delete).
ShadowResult<DeleteOutcome> delete_shadow(const Shadow& current, std::string_view name,
                                          std::int64_t now, const ShadowRequest& request = {});

// A rejected document: {"code":N,"message":"..","timestamp":now,"clientToken":..}.
std::string error_document(int code, std::string_view message, std::int64_t now,
                           const std::optional<std::string>& client_token);
std::string error_document(const ShadowError& error, std::int64_t now);

// -------------------------------------------------- REST (Thing) helpers ---

// An update request payload that, applied to a shadow whose desired is
// `current_desired`, makes desired equal `new_desired` exactly (same JSON
// kinds and values). Keys missing from new_desired are sent as null
// (recursively inside objects both sides have), values already equal are not
// sent (their metadata keeps its timestamp), and an empty new_desired clears
// the section with "desired":null. new_desired is taken as stored would be:
// null values and (recursively) empty objects mean "absent". `version`, when
// given, is added for the optimistic check (a 409 then means: re-read and
// retry). The result may still be rejected by apply_update (depth, size,
// null in an array) with AWS's message.
std::string desired_replacement(const json::object& current_desired,
                                const json::object& new_desired,
                                std::optional<std::int64_t> version = std::nullopt);

// The Thing's `deviceState` on read: reported with desired deep-merged over it
// (objects on both sides merge, anything else from desired wins). {} when the
// shadow does not exist.
json::object device_state_view(const Shadow& shadow);

// The Thing's read-only `deviceShadow`:
//   {"state":{"desired":{..},"reported":{..},"delta":{..}},
//    "metadata":{"desired":{..},"reported":{..}},"version":V,"timestamp":now}
// with all three state sections and both metadata sections always present
// (possibly {}), so API clients need no existence checks. null when the
// shadow does not exist.
json::value shadow_view(const Shadow& shadow, std::int64_t now);

// --------------------------------------------------------------- topics ---

enum class ShadowOperation { kGet, kUpdate, kDelete };

// Every topic the service publishes on.
enum class ShadowReply {
  kGetAccepted,
  kGetRejected,
  kUpdateAccepted,
  kUpdateRejected,
  kUpdateDelta,
  kUpdateDocuments,
  kDeleteAccepted,
  kDeleteRejected,
};

// "get", "update" or "delete".
std::string_view operation_name(ShadowOperation op);
ShadowReply accepted_reply(ShadowOperation op);
ShadowReply rejected_reply(ShadowOperation op);

struct ShadowTopic {
  std::string thing_name;
  std::string shadow_name;  // empty: the classic shadow
  ShadowOperation operation = ShadowOperation::kGet;

  friend bool operator==(const ShadowTopic&, const ShadowTopic&) = default;
};

// AWS's name rules: 1..128 (thing) or 1..64 (shadow) bytes of [A-Za-z0-9:_-].
// This excludes '/', '+', '#', '$', '.' and control bytes, so a valid name
// can never be confused with a topic level, a wildcard or the server's own
// MQTT user name (which contains a '.').
bool is_valid_thing_name(std::string_view name);
bool is_valid_shadow_name(std::string_view name);

// Recognises a shadow request topic:
//   $aws/things/<thing>/shadow/<get|update|delete>
//   $aws/things/<thing>/shadow/name/<shadow>/<get|update|delete>
// nullopt for anything else: reply topics (…/update/accepted), extra or
// missing levels, invalid names, other operations. Case-sensitive.
std::optional<ShadowTopic> parse_shadow_topic(std::string_view topic);

// "$aws/things/<thing>/shadow[/name/<shadow>]/<op>". The names must be valid
// (callers take them from parse_shadow_topic or their own registry).
std::string request_topic(std::string_view thing_name, std::string_view shadow_name,
                          ShadowOperation op);
// The same prefix with the reply suffix, e.g. ".../update/accepted".
std::string reply_topic(std::string_view thing_name, std::string_view shadow_name,
                        ShadowReply reply);

}  // namespace para::iot
