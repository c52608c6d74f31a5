// Hashes, MACs, encodings and randomness over OpenSSL.
//
// Byte strings travel as std::string (raw bytes, not text).
// Thread-safety: every function is reentrant.
// Errors: only the decoders can fail (kInvalidInput on malformed input);
// random_bytes aborts the process if the system RNG fails, because no caller
// can do anything safe without randomness; the hashes and MACs abort likewise
// if OpenSSL itself fails (out of memory, no default provider).
#pragma once

#include <string>
#include <string_view>

#include "core/error.h"

namespace para::crypto {

// SHA-256 of `data`: 32 raw bytes / 64 lowercase hex digits.
std::string sha256(std::string_view data);
std::string sha256_hex(std::string_view data);

// HMAC-SHA256(key, data): 32 raw bytes.
std::string hmac_sha256(std::string_view key, std::string_view data);

std::string hex_encode(std::string_view bytes);  // lowercase

// Standard base64 with padding (RFC 4648 section 4). Decoding is strict:
// no whitespace, no characters of the other alphabet, padding exactly as
// the variant requires, and zero unused bits in the last character (so each
// byte string has exactly one accepted encoding).
std::string base64_encode(std::string_view bytes);
Result<std::string> base64_decode(std::string_view text);

// URL-safe base64 without padding (RFC 4648 section 5; JWT). Decoding is
// as strict, and '=' is rejected.
std::string base64url_encode(std::string_view bytes);
Result<std::string> base64url_decode(std::string_view text);

// `n` bytes from the operating system's CSPRNG.
std::string random_bytes(std::size_t n);

}  // namespace para::crypto
