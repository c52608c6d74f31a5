// Pure rules of the Thing object (product.md, "The Thing contract") that do
// not depend on a broker: names, the serviceBroker field, and how the
// device's shadow becomes the Thing's `deviceState`.
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>

#include "core/error.h"
#include "core/json.h"

namespace para::iot {

// The device's name in the broker: "{appid}-{id}". Also its MQTT client id
// and certificate CN.
std::string thing_name(std::string_view appid, std::string_view id);

// A Thing id must make a valid thing name: 1..64 of A-Z a-z 0-9 _ : -, and
// the whole name at most 64 bytes (it is the certificate CN, which X.509
// caps at 64). kInvalidInput otherwise.
Status check_thing_id(std::string_view appid, std::string_view id);

// "local" or "AWS" for any capitalisation of them; kInvalidInput naming the
// accepted values otherwise.
Result<std::string> normalize_broker_name(std::string_view name);

// The Thing's `deviceState` on read: the shadow's reported state with its
// desired state deep-merged over it (a pending key shows the value asked
// for). `shadow` is a GetThingShadow document; {} when it has no state.
json::object device_state(const json::object& shadow);

}  // namespace para::iot
