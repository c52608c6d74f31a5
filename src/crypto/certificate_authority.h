// The built-in certificate authority of the `local` IoT broker.
//
// It issues the client certificates devices present to Mosquitto (CN = thing
// name, which Mosquitto turns into the MQTT username and client id), the
// broker's own TLS server certificate, and the CRL through which Mosquitto
// refuses revoked devices. Everything Mosquitto reads is written so that it
// never sees a half-written or invalid file: a bad CRL at SIGHUP makes
// Mosquitto 2.0.11 accept revoked certificates (broker-notes.md, section 3).
//
// Files in the CA directory (created with mode 0700 when missing):
//   ca.key           CA private key, PKCS#8 PEM, EC P-256, mode 0600
//   ca.crt           self-signed CA certificate, PEM
//   revocations.txt  one revoked serial per line (see revoke()), mode 0600
//   crl_number       the last CRL number handed out, decimal
//   ca.lock          flock()ed while a CertificateAuthority has it open
// Every write is atomic: a temporary file in the same directory is written
// and fsync()ed, renamed over the target, and the directory is fsync()ed. A
// crash therefore leaves either the old or the new content, plus at worst a
// stray ".*.tmp-*" file, which is harmless.
//
// Device private keys are generated in memory, returned once and then
// forgotten: they are never written, logged or kept.
//
// Thread-safety: every method may be called concurrently from any thread.
// Signing, revocation and CRL writing are serialised by an internal mutex;
// key generation (0.3 s of CPU for RSA-2048) and CSR checks run outside it.
// Only one CertificateAuthority (in any process) may have a directory open
// at a time, because two would overwrite each other's revocations.
//
// Errors (Result / Status):
//   kInvalidInput  a caller-supplied value is unusable (common name, lifetime,
//                  CSR, serial, SAN entry, CRL validity); nothing changed.
//   kUnavailable   open() only: the directory cannot be used as a CA (unsafe
//                  key permissions, key and certificate do not match, expired
//                  or non-CA certificate, corrupt state file, locked by
//                  another instance). The local broker cannot run until an
//                  operator fixes it; the message says what is wrong.
//   kInternal      an I/O or OpenSSL failure; the message names the file or
//                  the OpenSSL call. Nothing the caller was told succeeded
//                  is lost: state files are replaced atomically.
#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace para::crypto {

enum class KeyType {
  kEcP256,   // default: small, fast, what AWS IoT and Mosquitto prefer
  kRsa2048,  // for devices whose TLS stack has no ECDSA
};

// RFC 5280 CRLReason codes that make sense for a device certificate. There is
// no certificateHold: revocation here is permanent.
enum class RevocationReason {
  kUnspecified = 0,
  kKeyCompromise = 1,
  kAffiliationChanged = 3,
  kSuperseded = 4,
  kCessationOfOperation = 5,  // the Thing was deleted
  kPrivilegeWithdrawn = 9,
};

struct CaOptions {
  using Clock = std::function<std::chrono::system_clock::time_point()>;

  // Subject CN and lifetime of the CA certificate; used only when open()
  // creates the CA. An existing CA keeps what it was created with.
  std::string common_name = "para-cpp IoT CA";
  int validity_days = 7305;  // 20 years
  // Upper bound for any certificate this CA issues. revoke() without a
  // notAfter relies on it to know when the entry may be dropped.
  int max_certificate_days = 3650;
  // Time source; tests move it forward. Empty means the system clock.
  Clock clock;
  // RSA-2048 device keys kept ready in memory, made by a low-priority
  // thread after the first RSA request (crypto/key_pool.h); 0: none.
  std::size_t rsa_key_pool = 0;
};

inline constexpr int kDefaultDeviceCertificateDays = 365;

struct IssuedCertificate {
  std::string certificate_pem;
  // PKCS#8 PEM ("BEGIN PRIVATE KEY"). Empty when the certificate was signed
  // from a CSR: then the key never left the device.
  std::string private_key_pem;
  std::string public_key_pem;  // SubjectPublicKeyInfo PEM ("BEGIN PUBLIC KEY")
  std::string serial_hex;      // lowercase, even length, as revoke() takes it
  std::string certificate_id;  // lowercase hex SHA-256 of the DER certificate
  std::chrono::sys_seconds not_after;
};

// The broker's TLS server certificate, as Mosquitto's certfile/keyfile.
struct ServerCertificateRequest {
  std::filesystem::path certificate_path;
  std::filesystem::path key_path;         // written with mode 0600
  std::vector<std::string> dns_names;     // e.g. "localhost", "iot.example.com"
  std::vector<std::string> ip_addresses;  // e.g. "127.0.0.1", "::1"
  KeyType key_type = KeyType::kEcP256;
  int lifetime_days = 365;
  // An existing certificate is replaced once it expires within this window.
  std::chrono::seconds renew_before = std::chrono::days(30);
};

// What check_crl() found out about a CRL file.
struct CrlCheck {
  bool needs_refresh = true;
  std::string reason;  // why it needs a refresh (for the log); empty if not
  std::optional<std::chrono::sys_seconds> next_update;  // if the file is ours
};

class CertificateAuthority {
 public:
  // Opens the CA stored in `directory`, creating it on first use: directory
  // (0700), EC P-256 key (0600, created with that mode), self-signed CA
  // certificate (CA:TRUE pathlen 0 critical, keyUsage keyCertSign+cRLSign
  // critical, SKI) with subject CN=options.common_name.
  // If a crash left ca.key without ca.crt, a new certificate is made for the
  // existing key.
  // Fails with kInvalidInput for unusable options; kUnavailable if ca.key is
  // readable or writable by group or others, ca.crt exists without ca.key,
  // key and certificate do not match, the certificate is not a CA or has
  // expired, revocations.txt or crl_number is corrupt, or another instance
  // holds the directory; kInternal on I/O failure.
  // Idempotent: opening an existing CA changes none of its files.
  static Result<std::unique_ptr<CertificateAuthority>> open(const std::filesystem::path& directory,
                                                            CaOptions options = {});

  ~CertificateAuthority();
  CertificateAuthority(const CertificateAuthority&) = delete;
  CertificateAuthority& operator=(const CertificateAuthority&) = delete;

  // A new key pair of `key_type` and a client certificate for it: subject
  // CN=common_name only, basicConstraints CA:FALSE, keyUsage digitalSignature
  // (+keyEncipherment for RSA), extendedKeyUsage clientAuth, SKI, AKI,
  // 128-bit random serial, notBefore one hour ago (clock skew), notAfter
  // now + lifetime_days (but never past the CA's own notAfter).
  // Fails with kInvalidInput if common_name is not 1-64 characters of
  // [A-Za-z0-9:_-] (MQTT wildcards and '/' would break topic ACLs, and '.' is
  // kept for the server's own broker user), or lifetime_days is not within
  // 1..max_certificate_days; kInternal on OpenSSL failure.
  // Not idempotent: every call makes a new key, serial and certificate.
  Result<IssuedCertificate> issue_device_certificate(
      std::string_view common_name, KeyType key_type = KeyType::kEcP256,
      int lifetime_days = kDefaultDeviceCertificateDays);

  // A client certificate, as issue_device_certificate() makes it, for the
  // public key of a PEM PKCS#10 request; private_key_pem is empty. Only the
  // key is taken from the CSR: its subject and requested extensions are
  // ignored, so a device cannot choose its identity or ask for CA rights.
  // Fails with kInvalidInput, saying why, if the CSR is not PEM, is larger
  // than 64 KiB, its self-signature does not verify, or its key is not RSA
  // 2048..4096 bits or EC P-256/P-384; same common name and lifetime rules
  // as above; kInternal on OpenSSL failure.
  // Not idempotent: every call makes a new serial and certificate.
  Result<IssuedCertificate> sign_device_csr(std::string_view csr_pem, std::string_view common_name,
                                            int lifetime_days = kDefaultDeviceCertificateDays);

  // Makes sure request.certificate_path and request.key_path hold a server
  // certificate (EKU serverAuth, SAN = exactly the given names and
  // addresses, CN = the first of them, or "para-cpp broker" if that is over
  // 64 characters) and its key, signed by this CA.
  // Re-issues both when either file is missing or unreadable, they do not
  // match, the certificate is not from this CA, expires within
  // renew_before, its SAN set differs (order and DNS case do not matter),
  // or the key file is accessible by group or others. The key is written
  // before the certificate; signal Mosquitto (SIGHUP) only after success.
  // Returns true if it wrote new files, false if the existing ones are fine.
  // Fails with kInvalidInput for an empty SAN list, a malformed DNS name or
  // IP address, a lifetime outside 1..max_certificate_days or not longer than
  // renew_before; kInternal on I/O or OpenSSL failure (the old files may
  // then remain, never a half-written one).
  // Idempotent: a second call with the same request returns false.
  Result<bool> ensure_server_certificate(const ServerCertificateRequest& request);

  // Durably records that the certificate with this serial is revoked, before
  // returning. The whole of revocations.txt is rewritten atomically ("serial
  // revoked_at expires reason" per line), dropping entries that expired more
  // than a day ago, so the file stays as small as the CRL.
  // `not_after` is the certificate's notAfter (IssuedCertificate::not_after):
  // the entry is dropped a day after it. Without it the entry is kept for
  // max_certificate_days from now (or until the CA expires).
  // Takes effect for Mosquitto only after write_crl() and a SIGHUP.
  // Returns OK without writing if the serial is already recorded (the first
  // reason and date are kept) or the certificate expired over a day ago.
  // Fails with kInvalidInput if serial_hex is not 1-40 hex digits or is
  // zero; kInternal on I/O failure (then nothing is recorded).
  // Idempotent.
  Status revoke(std::string_view serial_hex, RevocationReason reason,
                std::optional<std::chrono::sys_seconds> not_after = std::nullopt);

  // revoke() for a certificate PEM issued by this CA, taking serial and
  // notAfter from it. Fails with kInvalidInput if it is not a PEM
  // certificate signed by this CA. Idempotent.
  Status revoke_certificate(std::string_view certificate_pem, RevocationReason reason);

  // Writes a CRL (v2, signed by the CA key with SHA-256, thisUpdate now,
  // nextUpdate now + validity, increasing crlNumber, AKI) listing every
  // recorded revocation whose certificate has not been expired for over a
  // day, with revocation date and reason. It is written to a temporary file
  // next to `path`, read back and verified (parses, signature verifies with
  // the CA key, issuer, number, dates and entries as generated), and only
  // then renamed over `path`; the directory is then fsync()ed. If anything
  // fails, `path` is left as it was: Mosquitto keeps a good CRL.
  // The crlNumber is persisted before the file is written, so numbers never
  // repeat, even after a crash (gaps are allowed).
  // Fails with kInvalidInput if validity is not positive; kInternal on I/O or
  // OpenSSL failure or failed validation.
  // Not idempotent: each call writes a new CRL with a higher number.
  Status write_crl(const std::filesystem::path& path, std::chrono::seconds validity);

  // Whether the CRL at `path` should be regenerated with write_crl(): it is
  // missing, unreadable, not a CRL signed by this CA, its nextUpdate is
  // missing or within `margin` from now, or it lacks a revocation recorded
  // since (e.g. a crash between revoke() and write_crl()). Call it from a
  // timer and at start-up; an expired CRL locks every device out.
  // Never fails: anything that is not a good current CRL needs a refresh.
  CrlCheck check_crl(const std::filesystem::path& path, std::chrono::seconds margin) const;

  // The CA certificate, as devices and Mosquitto's cafile need it.
  const std::string& ca_certificate_pem() const;
  const std::filesystem::path& ca_certificate_path() const;
  const std::filesystem::path& directory() const;

 private:
  struct State;
  explicit CertificateAuthority(std::unique_ptr<State> state);

  std::unique_ptr<State> state_;
};

}  // namespace para::crypto
