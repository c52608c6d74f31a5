#include "crypto/certificate_authority.h"

#include "crypto/key_pool.h"

#include <fcntl.h>
#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/buffer.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <system_error>
#include <utility>

#include "crypto/digest.h"

namespace para::crypto {
namespace {

namespace fs = std::filesystem;
using std::chrono::days;
using std::chrono::seconds;
using std::chrono::sys_seconds;

// Revocation entries stay listed this long after the certificate expired, so
// a verifier whose clock lags still sees them.
constexpr seconds kExpiredEntryGrace = days(1);
// Issued certificates start this far in the past: a device or broker clock a
// little behind ours must not see them as not yet valid.
constexpr seconds kBackdate = std::chrono::hours(1);
constexpr std::size_t kMaxPemInput = 64 * 1024;
constexpr std::size_t kMaxSmallFile = 1024 * 1024;
// 100k entries take about 5 MB; far beyond what anyone should run.
constexpr std::size_t kMaxStateFile = 256 * 1024 * 1024;
constexpr std::size_t kMaxCommonName = 64;  // RFC 5280 ub-common-name

// ---------------------------------------------------------------------------
// RAII for OpenSSL objects and file descriptors.

template <auto Free>
struct OsslFree {
  template <class T>
  void operator()(T* p) const {
    Free(p);
  }
};
using PkeyPtr = KeyPtr;  // the key pool's owner of an EVP_PKEY
using X509Ptr = std::unique_ptr<X509, OsslFree<X509_free>>;
using CrlPtr = std::unique_ptr<X509_CRL, OsslFree<X509_CRL_free>>;
using ReqPtr = std::unique_ptr<X509_REQ, OsslFree<X509_REQ_free>>;
using BioPtr = std::unique_ptr<BIO, OsslFree<BIO_free>>;
using BnPtr = std::unique_ptr<BIGNUM, OsslFree<BN_free>>;
using AsnIntPtr = std::unique_ptr<ASN1_INTEGER, OsslFree<ASN1_INTEGER_free>>;
using AsnEnumPtr = std::unique_ptr<ASN1_ENUMERATED, OsslFree<ASN1_ENUMERATED_free>>;
using AsnTimePtr = std::unique_ptr<ASN1_TIME, OsslFree<ASN1_TIME_free>>;
using Ia5Ptr = std::unique_ptr<ASN1_IA5STRING, OsslFree<ASN1_IA5STRING_free>>;
using OctetPtr = std::unique_ptr<ASN1_OCTET_STRING, OsslFree<ASN1_OCTET_STRING_free>>;
using ExtPtr = std::unique_ptr<X509_EXTENSION, OsslFree<X509_EXTENSION_free>>;
using NamePtr = std::unique_ptr<X509_NAME, OsslFree<X509_NAME_free>>;
using RevokedPtr = std::unique_ptr<X509_REVOKED, OsslFree<X509_REVOKED_free>>;
using GenNamePtr = std::unique_ptr<GENERAL_NAME, OsslFree<GENERAL_NAME_free>>;
using GenNamesPtr = std::unique_ptr<GENERAL_NAMES, OsslFree<GENERAL_NAMES_free>>;

void free_openssl_string(char* s) {
  OPENSSL_free(s);
}
using OsslString = std::unique_ptr<char, OsslFree<free_openssl_string>>;

class UniqueFd {
 public:
  explicit UniqueFd(int fd = -1) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  ~UniqueFd() { reset(); }
  int get() const { return fd_; }
  // close() reports write-back errors on some file systems, so writers check it.
  bool close() { return ::close(std::exchange(fd_, -1)) == 0; }

 private:
  void reset() {
    if (fd_ >= 0) ::close(std::exchange(fd_, -1));
  }
  int fd_;
};

// Key material passing through std::string is wiped when it goes out of scope.
class Wiped {
 public:
  explicit Wiped(std::string& s) : s_(s) {}
  ~Wiped() { OPENSSL_cleanse(s_.data(), s_.size()); }
  Wiped(const Wiped&) = delete;
  Wiped& operator=(const Wiped&) = delete;

 private:
  std::string& s_;
};

// ---------------------------------------------------------------------------
// Errors.

// Drains OpenSSL's per-thread error queue so a stale entry never shows up in
// an unrelated later message.
std::string take_openssl_reason() {
  unsigned long code = ERR_peek_last_error();
  std::string reason;
  if (code != 0) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof buf);
    reason = buf;
  }
  ERR_clear_error();
  return reason;
}

Error openssl_error(std::string_view what) {
  std::string msg = "OpenSSL failed: " + std::string(what);
  if (std::string reason = take_openssl_reason(); !reason.empty()) msg += ": " + reason;
  return internal_error(std::move(msg));
}

Error io_error(std::string_view what, const fs::path& path, int err) {
  return internal_error(std::string(what) + " " + path.string() + ": " +
                        std::system_category().message(err));
}

// ---------------------------------------------------------------------------
// Time.

sys_seconds to_sys_seconds(const std::tm& tm) {
  auto date = std::chrono::year(tm.tm_year + 1900) / (tm.tm_mon + 1) / tm.tm_mday;
  return sys_seconds(std::chrono::sys_days(date)) + std::chrono::hours(tm.tm_hour) +
         std::chrono::minutes(tm.tm_min) + seconds(tm.tm_sec);
}

std::optional<sys_seconds> from_asn1(const ASN1_TIME* t) {
  std::tm tm{};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return std::nullopt;
  return to_sys_seconds(tm);
}

Result<AsnTimePtr> to_asn1(sys_seconds t) {
  AsnTimePtr out(ASN1_TIME_set(nullptr, static_cast<std::time_t>(t.time_since_epoch().count())));
  if (!out) return openssl_error("ASN1_TIME_set");
  return out;
}

std::string iso8601(sys_seconds t) {
  std::time_t tt = t.time_since_epoch().count();
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// ---------------------------------------------------------------------------
// Files: atomic replacement (temp file, fsync, rename, fsync directory).

fs::path parent_of(const fs::path& path) {
  fs::path parent = path.parent_path();
  return parent.empty() ? fs::path(".") : parent;
}

Status fsync_directory(const fs::path& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) return io_error("cannot open directory", dir, errno);
  if (::fsync(fd.get()) != 0) return io_error("cannot fsync directory", dir, errno);
  return {};
}

Status write_all(int fd, std::string_view data, const fs::path& path) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return io_error("cannot write", path, errno);
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

// A fully written and fsync()ed temporary file next to its target, removed
// unless commit() renames it into place.
class PendingFile {
 public:
  static Result<PendingFile> write(const fs::path& target, std::string_view data, mode_t mode) {
    PendingFile file(target);
    // The mode is given at creation, so a key file is never readable by
    // others, not even for an instant.
    UniqueFd fd(::open(file.temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode));
    if (fd.get() < 0) {
      Error e = io_error("cannot create", file.temp_, errno);
      file.temp_.clear();
      return e;
    }
    if (auto st = write_all(fd.get(), data, file.temp_); !st) return st.error();
    if (::fsync(fd.get()) != 0) return io_error("cannot fsync", file.temp_, errno);
    if (!fd.close()) return io_error("cannot close", file.temp_, errno);
    return file;
  }

  PendingFile(PendingFile&& other) noexcept
      : target_(std::move(other.target_)), temp_(std::exchange(other.temp_, {})) {}
  PendingFile& operator=(PendingFile&&) = delete;
  ~PendingFile() {
    if (!temp_.empty()) ::unlink(temp_.c_str());
  }

  const fs::path& temp_path() const { return temp_; }

  Status commit() {
    if (::rename(temp_.c_str(), target_.c_str()) != 0) {
      return io_error("cannot rename " + temp_.string() + " to", target_, errno);
    }
    temp_.clear();
    return fsync_directory(parent_of(target_));
  }

 private:
  explicit PendingFile(const fs::path& target)
      : target_(target),
        temp_(parent_of(target) /
              ("." + target.filename().string() + ".tmp-" + hex_encode(random_bytes(6)))) {}

  fs::path target_;
  fs::path temp_;
};

Status write_file_atomically(const fs::path& target, std::string_view data, mode_t mode) {
  auto pending = PendingFile::write(target, data, mode);
  if (!pending) return pending.error();
  return pending->commit();
}

struct FileContent {
  std::string data;
  mode_t mode = 0;
};

// kNotFound if the file does not exist; kInternal for any other failure.
Result<FileContent> read_file(const fs::path& path, std::size_t limit) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    if (errno == ENOENT) return not_found(path.string() + " does not exist");
    return io_error("cannot open", path, errno);
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return io_error("cannot stat", path, errno);
  if (!S_ISREG(st.st_mode)) return internal_error(path.string() + " is not a regular file");
  FileContent out;
  out.mode = st.st_mode & 07777;
  char buf[16384];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return io_error("cannot read", path, errno);
    if (n == 0) break;
    out.data.append(buf, static_cast<std::size_t>(n));
    if (out.data.size() > limit) {
      return internal_error(path.string() + " is larger than " + std::to_string(limit) + " bytes");
    }
  }
  return out;
}

bool file_exists(const fs::path& path) {
  std::error_code ec;
  return fs::exists(path, ec);
}

std::string octal_mode(mode_t mode) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

// ---------------------------------------------------------------------------
// PEM and DER.

// Encrypted PEM blocks would make OpenSSL's default callback prompt on the
// terminal; nothing here is ever encrypted, so any passphrase request fails.
int refuse_passphrase(char*, int, int, void*) {
  return -1;
}

BioPtr read_bio(std::string_view data) {
  return BioPtr(BIO_new_mem_buf(data.empty() ? "" : data.data(), static_cast<int>(data.size())));
}

template <class WriteFn>
Result<std::string> write_pem(WriteFn&& write, std::string_view what) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || write(bio.get()) != 1) return openssl_error(what);
  BUF_MEM* mem = nullptr;
  BIO_get_mem_ptr(bio.get(), &mem);
  return std::string(mem->data, mem->length);
}

Result<std::string> certificate_pem(X509* cert) {
  return write_pem([cert](BIO* b) { return PEM_write_bio_X509(b, cert); }, "PEM_write_bio_X509");
}

Result<std::string> private_key_pem(EVP_PKEY* key) {
  return write_pem(
      [key](BIO* b) {
        return PEM_write_bio_PKCS8PrivateKey(b, key, nullptr, nullptr, 0, nullptr, nullptr);
      },
      "PEM_write_bio_PKCS8PrivateKey");
}

Result<std::string> public_key_pem(EVP_PKEY* key) {
  return write_pem([key](BIO* b) { return PEM_write_bio_PUBKEY(b, key); }, "PEM_write_bio_PUBKEY");
}

Result<std::string> crl_pem(X509_CRL* crl) {
  return write_pem([crl](BIO* b) { return PEM_write_bio_X509_CRL(b, crl); },
                   "PEM_write_bio_X509_CRL");
}

X509Ptr parse_certificate(std::string_view pem) {
  BioPtr bio = read_bio(pem);
  X509Ptr cert(bio ? PEM_read_bio_X509(bio.get(), nullptr, refuse_passphrase, nullptr) : nullptr);
  if (!cert) ERR_clear_error();
  return cert;
}

PkeyPtr parse_private_key(std::string_view pem) {
  BioPtr bio = read_bio(pem);
  PkeyPtr key(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, refuse_passphrase, nullptr)
                  : nullptr);
  if (!key) ERR_clear_error();
  return key;
}

CrlPtr parse_crl(std::string_view pem) {
  BioPtr bio = read_bio(pem);
  CrlPtr crl(bio ? PEM_read_bio_X509_CRL(bio.get(), nullptr, refuse_passphrase, nullptr) : nullptr);
  if (!crl) ERR_clear_error();
  return crl;
}

Result<std::string> certificate_der(X509* cert) {
  int len = i2d_X509(cert, nullptr);
  if (len <= 0) return openssl_error("i2d_X509");
  std::string der(static_cast<std::size_t>(len), '\0');
  auto* out = reinterpret_cast<unsigned char*>(der.data());
  if (i2d_X509(cert, &out) != len) return openssl_error("i2d_X509");
  return der;
}

// ---------------------------------------------------------------------------
// Serial numbers: lowercase hex, even length, no leading zero byte.

std::string lowercase(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

Result<std::string> bn_hex(const BIGNUM* bn) {
  OsslString hex(BN_bn2hex(bn));
  if (!hex) return openssl_error("BN_bn2hex");
  return lowercase(hex.get());
}

Result<std::string> serial_hex(const ASN1_INTEGER* serial) {
  BnPtr bn(ASN1_INTEGER_to_BN(serial, nullptr));
  if (!bn) return openssl_error("ASN1_INTEGER_to_BN");
  return bn_hex(bn.get());
}

Result<BnPtr> parse_serial(std::string_view text) {
  bool hex =
      !text.empty() && text.size() <= 40 &&
      std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isxdigit(c); });
  if (!hex) return invalid_input("serial must be 1 to 40 hexadecimal digits");
  BIGNUM* raw = nullptr;
  if (BN_hex2bn(&raw, std::string(text).c_str()) == 0) return openssl_error("BN_hex2bn");
  BnPtr bn(raw);
  if (BN_is_zero(bn.get())) return invalid_input("serial must not be zero");
  return bn;
}

Result<std::string> normalize_serial(std::string_view text) {
  auto bn = parse_serial(text);
  if (!bn) return bn.error();
  return bn_hex(bn->get());
}

// RFC 5280 4.1.2.2: positive, at most 20 octets. 128 random bits make
// collisions and guessing irrelevant without a database of issued serials.
Result<AsnIntPtr> random_serial() {
  BnPtr bn;
  do {
    std::string bytes = random_bytes(16);
    bn.reset(BN_bin2bn(reinterpret_cast<const unsigned char*>(bytes.data()),
                       static_cast<int>(bytes.size()), nullptr));
    if (!bn) return openssl_error("BN_bin2bn");
  } while (BN_is_zero(bn.get()));
  AsnIntPtr serial(BN_to_ASN1_INTEGER(bn.get(), nullptr));
  if (!serial) return openssl_error("BN_to_ASN1_INTEGER");
  return serial;
}

// ---------------------------------------------------------------------------
// Input checks.

Status check_device_name(std::string_view cn) {
  if (cn.empty() || cn.size() > kMaxCommonName) {
    return invalid_input("common name must be 1 to 64 characters long, got " +
                         std::to_string(cn.size()));
  }
  auto allowed = [](unsigned char c) {
    return std::isalnum(c) || c == ':' || c == '_' || c == '-';
  };
  if (!std::all_of(cn.begin(), cn.end(), allowed)) {
    return invalid_input("common name may contain only letters, digits, ':', '_' and '-'");
  }
  return {};
}

Status check_lifetime(int lifetime_days, int max_days) {
  if (lifetime_days < 1 || lifetime_days > max_days) {
    return invalid_input("certificate lifetime must be 1 to " + std::to_string(max_days) +
                         " days, got " + std::to_string(lifetime_days));
  }
  return {};
}

Status check_options(const CaOptions& options) {
  const std::string& cn = options.common_name;
  bool printable = std::none_of(cn.begin(), cn.end(), [](unsigned char c) { return c < 0x20; });
  if (cn.empty() || cn.size() > kMaxCommonName || !printable) {
    return invalid_input("CA common name must be 1 to 64 printable characters");
  }
  if (options.validity_days < 1 || options.validity_days > 36500) {
    return invalid_input("CA validity must be 1 to 36500 days");
  }
  if (options.max_certificate_days < 1) {
    return invalid_input("maximum certificate lifetime must be at least 1 day");
  }
  return {};
}

bool is_known_reason(RevocationReason reason) {
  switch (reason) {
    case RevocationReason::kUnspecified:
    case RevocationReason::kKeyCompromise:
    case RevocationReason::kAffiliationChanged:
    case RevocationReason::kSuperseded:
    case RevocationReason::kCessationOfOperation:
    case RevocationReason::kPrivilegeWithdrawn:
      return true;
  }
  return false;
}

Status check_csr_key(EVP_PKEY* key) {
  if (EVP_PKEY_is_a(key, "RSA")) {
    int bits = EVP_PKEY_get_bits(key);
    if (bits < 2048 || bits > 4096) {
      return invalid_input("csr RSA key has " + std::to_string(bits) +
                           " bits; 2048 to 4096 are accepted");
    }
    return {};
  }
  if (EVP_PKEY_is_a(key, "EC")) {
    char group[80] = {};
    std::size_t len = 0;
    if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                       &len) != 1) {
      ERR_clear_error();
      return invalid_input("csr EC key has explicit curve parameters; use a named curve");
    }
    int nid = OBJ_txt2nid(group);
    if (nid != NID_X9_62_prime256v1 && nid != NID_secp384r1) {
      return invalid_input("csr EC key uses curve " + std::string(group) +
                           "; only P-256 and P-384 are accepted");
    }
    return {};
  }
  return invalid_input("csr key type " + std::string(EVP_PKEY_get0_type_name(key)) +
                       " is not accepted; use EC P-256/P-384 or RSA 2048-4096");
}

// The CSR's public key once its proof of possession (self-signature) checks.
Result<PkeyPtr> csr_public_key(std::string_view csr_pem) {
  if (csr_pem.size() > kMaxPemInput) return invalid_input("csr is larger than 64 KiB");
  BioPtr bio = read_bio(csr_pem);
  ReqPtr req(bio ? PEM_read_bio_X509_REQ(bio.get(), nullptr, refuse_passphrase, nullptr) : nullptr);
  if (!req) {
    ERR_clear_error();
    return invalid_input("csr is not a PEM certificate signing request");
  }
  EVP_PKEY* key = X509_REQ_get0_pubkey(req.get());
  if (key == nullptr) {
    ERR_clear_error();
    return invalid_input("csr public key cannot be decoded");
  }
  // Key checks first: they are cheap and bound the cost of the signature check.
  if (auto st = check_csr_key(key); !st) return st.error();
  if (X509_REQ_verify(req.get(), key) != 1) {
    ERR_clear_error();
    return invalid_input("csr signature does not verify with the key it contains");
  }
  if (EVP_PKEY_up_ref(key) != 1) return openssl_error("EVP_PKEY_up_ref");
  return PkeyPtr(key);
}

// ---------------------------------------------------------------------------
// Subject alternative names of the server certificate.

bool is_dns_name(std::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  std::size_t start = 0;
  while (start <= name.size()) {
    std::size_t end = std::min(name.find('.', start), name.size());
    std::string_view label = name.substr(start, end - start);
    auto ok = [](unsigned char c) { return std::isalnum(c) || c == '-'; };
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-' ||
        !std::all_of(label.begin(), label.end(), ok)) {
      return false;
    }
    start = end + 1;
  }
  return true;
}

std::string canonical_ip(const ASN1_OCTET_STRING* ip) {
  return "IP:" +
         hex_encode(std::string_view(reinterpret_cast<const char*>(ASN1_STRING_get0_data(ip)),
                                     static_cast<std::size_t>(ASN1_STRING_length(ip))));
}

struct SanList {
  GenNamesPtr names;
  std::set<std::string> canonical;  // "DNS:<lowercase>" / "IP:<hex bytes>"
  std::string first;                // as given, for the CN
};

Status add_general_name(GENERAL_NAMES* names, int type, void* value) {
  GenNamePtr name(GENERAL_NAME_new());
  if (!name) return openssl_error("GENERAL_NAME_new");
  GENERAL_NAME_set0_value(name.get(), type, value);
  if (sk_GENERAL_NAME_push(names, name.get()) <= 0) return openssl_error("sk_GENERAL_NAME_push");
  name.release();  // owned by `names` now
  return {};
}

Status add_dns_name(SanList& san, const std::string& dns) {
  if (!is_dns_name(dns)) return invalid_input("server DNS name is malformed: \"" + dns + "\"");
  if (!san.canonical.insert("DNS:" + lowercase(dns)).second) return {};
  Ia5Ptr value(ASN1_IA5STRING_new());
  if (!value || ASN1_STRING_set(value.get(), dns.data(), static_cast<int>(dns.size())) != 1) {
    return openssl_error("ASN1_STRING_set");
  }
  if (auto st = add_general_name(san.names.get(), GEN_DNS, value.get()); !st) return st;
  value.release();
  return {};
}

Status add_ip_address(SanList& san, const std::string& ip) {
  OctetPtr value(a2i_IPADDRESS(ip.c_str()));
  if (!value) {
    ERR_clear_error();
    return invalid_input("server IP address is malformed: \"" + ip + "\"");
  }
  if (!san.canonical.insert(canonical_ip(value.get())).second) return {};
  if (auto st = add_general_name(san.names.get(), GEN_IPADD, value.get()); !st) return st;
  value.release();
  return {};
}

Result<SanList> build_san(const ServerCertificateRequest& request) {
  if (request.dns_names.empty() && request.ip_addresses.empty()) {
    return invalid_input("server certificate needs at least one DNS name or IP address");
  }
  SanList san{GenNamesPtr(sk_GENERAL_NAME_new_null()), {}, {}};
  if (!san.names) return openssl_error("sk_GENERAL_NAME_new_null");
  for (const auto& dns : request.dns_names) {
    if (auto st = add_dns_name(san, dns); !st) return st.error();
  }
  for (const auto& ip : request.ip_addresses) {
    if (auto st = add_ip_address(san, ip); !st) return st.error();
  }
  san.first = request.dns_names.empty() ? request.ip_addresses.front() : request.dns_names.front();
  return san;
}

std::set<std::string> san_of(X509* cert) {
  std::set<std::string> out;
  GenNamesPtr names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  for (int i = 0; names && i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
    int type = 0;
    const void* value = GENERAL_NAME_get0_value(name, &type);
    const auto* str = static_cast<const ASN1_STRING*>(value);
    if (type == GEN_DNS) {
      out.insert("DNS:" +
                 lowercase(std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(str)),
                                       static_cast<std::size_t>(ASN1_STRING_length(str)))));
    } else if (type == GEN_IPADD) {
      out.insert(canonical_ip(str));
    } else {
      out.insert("other");
    }
  }
  ERR_clear_error();
  return out;
}

// ---------------------------------------------------------------------------
// Certificates.

enum class Profile { kCa, kClient, kServer };

struct CertificateSpec {
  Profile profile = Profile::kClient;
  std::string common_name;
  EVP_PKEY* public_key = nullptr;
  sys_seconds not_before;
  sys_seconds not_after;
  GENERAL_NAMES* san = nullptr;  // server only
};

Status add_extension(X509* cert, X509V3_CTX* ctx, int nid, const char* value) {
  ExtPtr ext(X509V3_EXT_nconf_nid(nullptr, ctx, nid, value));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) {
    return openssl_error(std::string("adding extension ") + OBJ_nid2sn(nid) + "=" + value);
  }
  return {};
}

struct ExtensionValue {
  int nid;
  const char* value;
};

std::vector<ExtensionValue> extensions_for(Profile profile, bool rsa) {
  const char* leaf_usage =
      rsa ? "critical,digitalSignature,keyEncipherment" : "critical,digitalSignature";
  switch (profile) {
    case Profile::kCa:
      // pathlen:0: this CA only ever signs end-entity certificates.
      return {{NID_basic_constraints, "critical,CA:TRUE,pathlen:0"},
              {NID_key_usage, "critical,keyCertSign,cRLSign"},
              {NID_subject_key_identifier, "hash"},
              {NID_authority_key_identifier, "keyid:always"}};
    case Profile::kClient:
    case Profile::kServer:
      break;
  }
  // SKI must precede AKI: for the CA certificate the AKI is taken from it.
  return {{NID_basic_constraints, "critical,CA:FALSE"},
          {NID_key_usage, leaf_usage},
          {NID_ext_key_usage, profile == Profile::kServer ? "serverAuth" : "clientAuth"},
          {NID_subject_key_identifier, "hash"},
          {NID_authority_key_identifier, "keyid:always"}};
}

Status set_subject(X509* cert, const std::string& common_name) {
  NamePtr name(X509_NAME_new());
  if (!name ||
      X509_NAME_add_entry_by_txt(name.get(), "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(common_name.data()),
                                 static_cast<int>(common_name.size()), -1, 0) != 1 ||
      X509_set_subject_name(cert, name.get()) != 1) {
    return openssl_error("setting the subject name");
  }
  return {};
}

Status set_validity(X509* cert, sys_seconds not_before, sys_seconds not_after) {
  auto from = to_asn1(not_before);
  if (!from) return from.error();
  auto to = to_asn1(not_after);
  if (!to) return to.error();
  if (X509_set1_notBefore(cert, from->get()) != 1 || X509_set1_notAfter(cert, to->get()) != 1) {
    return openssl_error("setting the validity period");
  }
  return {};
}

// `issuer` null means self-signed.
Result<X509Ptr> build_certificate(const CertificateSpec& spec, X509* issuer,
                                  EVP_PKEY* signing_key) {
  X509Ptr cert(X509_new());
  if (!cert || X509_set_version(cert.get(), X509_VERSION_3) != 1) return openssl_error("X509_new");
  auto serial = random_serial();
  if (!serial) return serial.error();
  if (X509_set_serialNumber(cert.get(), serial->get()) != 1) return openssl_error("serial");
  if (auto st = set_subject(cert.get(), spec.common_name); !st) return st.error();
  X509_NAME* issuer_name = X509_get_subject_name(issuer != nullptr ? issuer : cert.get());
  if (X509_set_issuer_name(cert.get(), issuer_name) != 1) return openssl_error("issuer name");
  if (auto st = set_validity(cert.get(), spec.not_before, spec.not_after); !st) return st.error();
  if (X509_set_pubkey(cert.get(), spec.public_key) != 1) return openssl_error("X509_set_pubkey");

  X509V3_CTX ctx{};
  X509V3_set_ctx(&ctx, issuer != nullptr ? issuer : cert.get(), cert.get(), nullptr, nullptr, 0);
  bool rsa = EVP_PKEY_is_a(spec.public_key, "RSA") == 1;
  for (const auto& ext : extensions_for(spec.profile, rsa)) {
    if (auto st = add_extension(cert.get(), &ctx, ext.nid, ext.value); !st) return st.error();
  }
  if (spec.san != nullptr &&
      X509_add1_ext_i2d(cert.get(), NID_subject_alt_name, spec.san, 0, X509V3_ADD_DEFAULT) != 1) {
    return openssl_error("adding subjectAltName");
  }
  if (X509_sign(cert.get(), signing_key, EVP_sha256()) <= 0) return openssl_error("X509_sign");
  return cert;
}

Result<PkeyPtr> generate_key(KeyType type) {
  EVP_PKEY* key = type == KeyType::kRsa2048
                      ? EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<std::size_t>(2048))
                      : EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  if (key == nullptr) return openssl_error("key generation");
  return PkeyPtr(key);
}

// Everything a caller gets back, except the private key.
Result<IssuedCertificate> describe(X509* cert) {
  IssuedCertificate out;
  auto pem = certificate_pem(cert);
  if (!pem) return pem.error();
  out.certificate_pem = std::move(*pem);
  auto pub = public_key_pem(X509_get0_pubkey(cert));
  if (!pub) return pub.error();
  out.public_key_pem = std::move(*pub);
  auto serial = serial_hex(X509_get0_serialNumber(cert));
  if (!serial) return serial.error();
  out.serial_hex = std::move(*serial);
  auto der = certificate_der(cert);
  if (!der) return der.error();
  out.certificate_id = sha256_hex(*der);
  auto not_after = from_asn1(X509_get0_notAfter(cert));
  if (!not_after) return openssl_error("reading notAfter");
  out.not_after = *not_after;
  return out;
}

bool signed_by(X509* cert, X509* ca) {
  bool ok = X509_NAME_cmp(X509_get_issuer_name(cert), X509_get_subject_name(ca)) == 0 &&
            X509_verify(cert, X509_get0_pubkey(ca)) == 1;
  ERR_clear_error();
  return ok;
}

bool key_matches(X509* cert, EVP_PKEY* key) {
  bool ok = X509_check_private_key(cert, key) == 1;
  ERR_clear_error();
  return ok;
}

// ---------------------------------------------------------------------------
// Revocations and CRLs.

struct Revocation {
  sys_seconds revoked_at;
  sys_seconds expires;  // the certificate's notAfter, or the latest it can be
  RevocationReason reason = RevocationReason::kUnspecified;
};
using Revocations = std::map<std::string, Revocation>;  // by normalised serial

bool still_listed(const Revocation& r, sys_seconds now) {
  return r.expires + kExpiredEntryGrace > now;
}

std::set<std::string> listed_serials(const Revocations& all, sys_seconds now) {
  std::set<std::string> out;
  for (const auto& [serial, r] : all) {
    if (still_listed(r, now)) out.insert(serial);
  }
  return out;
}

std::string format_revocations(const Revocations& all) {
  std::string out = "# para-cpp CA revocations: serial revoked_at expires reason\n";
  for (const auto& [serial, r] : all) {
    out += serial + ' ' + std::to_string(r.revoked_at.time_since_epoch().count()) + ' ' +
           std::to_string(r.expires.time_since_epoch().count()) + ' ' +
           std::to_string(static_cast<int>(r.reason)) + '\n';
  }
  return out;
}

template <class T>
bool parse_number(std::string_view text, T& out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

std::optional<std::pair<std::string, Revocation>> parse_revocation(const std::string& line) {
  std::istringstream in(line);
  std::string serial, revoked_at, expires, reason, extra;
  if (!(in >> serial >> revoked_at >> expires >> reason) || (in >> extra)) return std::nullopt;
  auto normal = normalize_serial(serial);
  std::int64_t at = 0, until = 0;
  int code = 0;
  if (!normal || !parse_number(revoked_at, at) || !parse_number(expires, until) ||
      !parse_number(reason, code) || !is_known_reason(static_cast<RevocationReason>(code))) {
    return std::nullopt;
  }
  return std::pair{*normal, Revocation{sys_seconds(seconds(at)), sys_seconds(seconds(until)),
                                       static_cast<RevocationReason>(code)}};
}

// A damaged list must stop the CA: starting without it would let revoked
// devices back in.
Result<Revocations> load_revocations(const fs::path& path) {
  auto file = read_file(path, kMaxStateFile);
  if (!file && file.error().kind == ErrorKind::kNotFound) return Revocations{};
  if (!file) return file.error();
  Revocations out;
  std::istringstream in(file->data);
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (line.empty() || line[0] == '#') continue;
    auto entry = parse_revocation(line);
    if (!entry) {
      return unavailable(path.string() + " line " + std::to_string(number) +
                         " is malformed; refusing to run without the revocation list");
    }
    out.insert(std::move(*entry));
  }
  return out;
}

Result<std::uint64_t> load_crl_number(const fs::path& path) {
  auto file = read_file(path, kMaxSmallFile);
  if (!file && file.error().kind == ErrorKind::kNotFound) return std::uint64_t{0};
  if (!file) return file.error();
  std::string_view text = file->data;
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r'))
    text.remove_suffix(1);
  std::uint64_t number = 0;
  if (!parse_number(text, number)) return unavailable(path.string() + " is malformed");
  return number;
}

Status add_revoked(X509_CRL* crl, const std::string& serial, const Revocation& r) {
  RevokedPtr entry(X509_REVOKED_new());
  if (!entry) return openssl_error("X509_REVOKED_new");
  auto bn = parse_serial(serial);
  if (!bn) return bn.error();
  AsnIntPtr number(BN_to_ASN1_INTEGER(bn->get(), nullptr));
  auto date = to_asn1(r.revoked_at);
  if (!date) return date.error();
  if (!number || X509_REVOKED_set_serialNumber(entry.get(), number.get()) != 1 ||
      X509_REVOKED_set_revocationDate(entry.get(), date->get()) != 1) {
    return openssl_error("revoked entry");
  }
  // RFC 5280 5.3.1: omit the reason rather than say "unspecified".
  if (r.reason != RevocationReason::kUnspecified) {
    AsnEnumPtr code(ASN1_ENUMERATED_new());
    if (!code || ASN1_ENUMERATED_set(code.get(), static_cast<long>(r.reason)) != 1 ||
        X509_REVOKED_add1_ext_i2d(entry.get(), NID_crl_reason, code.get(), 0, 0) != 1) {
      return openssl_error("revocation reason");
    }
  }
  if (X509_CRL_add0_revoked(crl, entry.get()) != 1) return openssl_error("X509_CRL_add0_revoked");
  entry.release();
  return {};
}

struct CrlSpec {
  std::uint64_t number = 0;
  sys_seconds this_update;
  sys_seconds next_update;
};

Status set_crl_header(X509_CRL* crl, X509* ca, const CrlSpec& spec) {
  auto last = to_asn1(spec.this_update);
  if (!last) return last.error();
  auto next = to_asn1(spec.next_update);
  if (!next) return next.error();
  if (X509_CRL_set_version(crl, X509_CRL_VERSION_2) != 1 ||
      X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca)) != 1 ||
      X509_CRL_set1_lastUpdate(crl, last->get()) != 1 ||
      X509_CRL_set1_nextUpdate(crl, next->get()) != 1) {
    return openssl_error("CRL header");
  }
  return {};
}

Status add_crl_extensions(X509_CRL* crl, X509* ca, std::uint64_t number) {
  AsnIntPtr crl_number(ASN1_INTEGER_new());
  if (!crl_number || ASN1_INTEGER_set_uint64(crl_number.get(), number) != 1 ||
      X509_CRL_add1_ext_i2d(crl, NID_crl_number, crl_number.get(), 0, 0) != 1) {
    return openssl_error("crlNumber");
  }
  X509V3_CTX ctx{};
  X509V3_set_ctx(&ctx, ca, nullptr, nullptr, crl, 0);
  ExtPtr aki(X509V3_EXT_nconf_nid(nullptr, &ctx, NID_authority_key_identifier, "keyid:always"));
  if (!aki || X509_CRL_add_ext(crl, aki.get(), -1) != 1) return openssl_error("CRL AKI");
  return {};
}

Result<CrlPtr> build_crl(const Revocations& all, const CrlSpec& spec, X509* ca, EVP_PKEY* key) {
  CrlPtr crl(X509_CRL_new());
  if (!crl) return openssl_error("X509_CRL_new");
  if (auto st = set_crl_header(crl.get(), ca, spec); !st) return st.error();
  for (const auto& [serial, r] : all) {
    if (!still_listed(r, spec.this_update)) continue;
    if (auto st = add_revoked(crl.get(), serial, r); !st) return st.error();
  }
  if (X509_CRL_sort(crl.get()) != 1) return openssl_error("X509_CRL_sort");
  if (auto st = add_crl_extensions(crl.get(), ca, spec.number); !st) return st.error();
  if (X509_CRL_sign(crl.get(), key, EVP_sha256()) <= 0) return openssl_error("X509_CRL_sign");
  return crl;
}

std::set<std::string> crl_serials(X509_CRL* crl) {
  std::set<std::string> out;
  STACK_OF(X509_REVOKED)* entries = X509_CRL_get_REVOKED(crl);
  for (int i = 0; entries != nullptr && i < sk_X509_REVOKED_num(entries); ++i) {
    auto hex = serial_hex(X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(entries, i)));
    out.insert(hex ? *hex : std::string("?"));
  }
  return out;
}

std::optional<std::uint64_t> crl_number_of(X509_CRL* crl) {
  AsnIntPtr number(
      static_cast<ASN1_INTEGER*>(X509_CRL_get_ext_d2i(crl, NID_crl_number, nullptr, nullptr)));
  std::uint64_t value = 0;
  bool ok = number && ASN1_INTEGER_get_uint64(&value, number.get()) == 1;
  ERR_clear_error();
  return ok ? std::optional(value) : std::nullopt;
}

// A CRL file that parses and carries this CA's signature, or why not.
Result<CrlPtr> load_our_crl(const fs::path& path, X509* ca) {
  auto file = read_file(path, kMaxStateFile);
  if (!file) return file.error();
  CrlPtr crl = parse_crl(file->data);
  if (!crl) return invalid_input(path.string() + " is not a PEM CRL");
  bool ours = X509_NAME_cmp(X509_CRL_get_issuer(crl.get()), X509_get_subject_name(ca)) == 0 &&
              X509_CRL_verify(crl.get(), X509_get0_pubkey(ca)) == 1;
  ERR_clear_error();
  if (!ours) return invalid_input(path.string() + " is not signed by this CA");
  return crl;
}

// Reads back what write_crl() produced, exactly as Mosquitto will.
Status validate_crl_file(const fs::path& path, X509* ca, const CrlSpec& spec,
                         const std::set<std::string>& serials) {
  auto crl = load_our_crl(path, ca);
  if (!crl) return internal_error("new CRL failed validation: " + crl.error().message);
  X509_CRL* c = crl->get();
  bool ok = from_asn1(X509_CRL_get0_lastUpdate(c)) == spec.this_update &&
            from_asn1(X509_CRL_get0_nextUpdate(c)) == spec.next_update &&
            crl_number_of(c) == spec.number && crl_serials(c) == serials;
  if (!ok) return internal_error("new CRL failed validation: content differs from what was signed");
  return {};
}

// ---------------------------------------------------------------------------
// Opening the CA directory.

Status make_private_directory(const fs::path& dir) {
  std::error_code ec;
  if (!dir.parent_path().empty()) fs::create_directories(dir.parent_path(), ec);
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return io_error("cannot create directory", dir, errno);
  }
  if (!fs::is_directory(dir, ec)) return unavailable(dir.string() + " is not a directory");
  return {};
}

Result<UniqueFd> lock_directory(const fs::path& dir) {
  fs::path path = dir / "ca.lock";
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (fd.get() < 0) return io_error("cannot open", path, errno);
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      return unavailable("certificate authority in " + dir.string() +
                         " is already open in another instance");
    }
    return io_error("cannot lock", path, errno);
  }
  return fd;
}

Result<PkeyPtr> load_ca_key(const fs::path& path) {
  auto file = read_file(path, kMaxSmallFile);
  if (!file) return file.error();
  Wiped wipe(file->data);
  if ((file->mode & 077) != 0) {
    return unavailable(path.string() + " has mode " + octal_mode(file->mode) +
                       ": the CA key must not be accessible by group or others "
                       "(chmod 600 it, and treat the key as exposed)");
  }
  PkeyPtr key = parse_private_key(file->data);
  if (!key) return unavailable(path.string() + " is not an unencrypted PEM private key");
  return key;
}

Result<X509Ptr> load_ca_certificate(const fs::path& path) {
  auto file = read_file(path, kMaxSmallFile);
  if (!file) return file.error();
  X509Ptr cert = parse_certificate(file->data);
  if (!cert) return unavailable(path.string() + " is not a PEM certificate");
  return cert;
}

Status check_ca_pair(X509* cert, EVP_PKEY* key, const fs::path& dir, sys_seconds now) {
  if (!key_matches(cert, key))
    return unavailable("ca.key does not match ca.crt in " + dir.string());
  bool is_ca = X509_check_ca(cert) >= 1;
  ERR_clear_error();
  if (!is_ca) return unavailable("ca.crt in " + dir.string() + " is not a CA certificate");
  auto not_after = from_asn1(X509_get0_notAfter(cert));
  if (!not_after || *not_after <= now) {
    return unavailable("ca.crt in " + dir.string() + " has expired" +
                       (not_after ? " on " + iso8601(*not_after) : std::string()));
  }
  return {};
}

Result<X509Ptr> create_ca_certificate(EVP_PKEY* key, const CaOptions& options, sys_seconds now) {
  CertificateSpec spec;
  spec.profile = Profile::kCa;
  spec.common_name = options.common_name;
  spec.public_key = key;
  spec.not_before = now - kBackdate;
  spec.not_after = now + days(options.validity_days);
  return build_certificate(spec, nullptr, key);
}

Status write_ca_certificate(const fs::path& path, X509* cert) {
  auto pem = certificate_pem(cert);
  if (!pem) return pem.error();
  return write_file_atomically(path, *pem, 0644);
}

}  // namespace

// ---------------------------------------------------------------------------

struct CertificateAuthority::State {
  fs::path dir;
  fs::path key_path;
  fs::path cert_path;
  fs::path revocations_path;
  fs::path crl_number_path;
  CaOptions::Clock clock;
  int max_certificate_days = 0;
  UniqueFd lock;
  std::unique_ptr<KeyPool> rsa_keys;  // null: RSA keys are made on demand

  // Immutable after open().
  PkeyPtr key;
  X509Ptr cert;
  std::string cert_pem;
  sys_seconds ca_not_after;

  // Serialises use of the CA key and every state change below.
  mutable std::mutex mu;
  Revocations revocations;       // guarded by mu
  std::uint64_t crl_number = 0;  // guarded by mu; last number handed out
  std::mutex server_mu;          // one ensure_server_certificate() at a time

  sys_seconds now() const { return std::chrono::floor<seconds>(clock()); }

  Status load_or_create(const CaOptions& options);
  Status load_key();
  Status create_key();
  Status load_certificate();
  Status create_certificate(const CaOptions& options);
  Result<X509Ptr> sign(CertificateSpec spec, int lifetime_days);
  Result<std::optional<std::string>> server_problem(const ServerCertificateRequest& request,
                                                    const std::set<std::string>& san);
};

Status CertificateAuthority::State::load_or_create(const CaOptions& options) {
  bool have_key = file_exists(key_path);
  bool have_cert = file_exists(cert_path);
  if (have_cert && !have_key) {
    return unavailable(cert_path.string() + " exists but " + key_path.string() + " is missing");
  }
  if (auto st = have_key ? load_key() : create_key(); !st) return st;
  // Creating the certificate for an existing key is also the recovery from a
  // crash between writing ca.key and ca.crt.
  if (auto st = have_cert ? load_certificate() : create_certificate(options); !st) return st;
  if (auto st = check_ca_pair(cert.get(), key.get(), dir, now()); !st) return st;
  auto pem = certificate_pem(cert.get());
  if (!pem) return pem.error();
  cert_pem = std::move(*pem);
  ca_not_after = *from_asn1(X509_get0_notAfter(cert.get()));
  return {};
}

Status CertificateAuthority::State::load_key() {
  auto loaded = load_ca_key(key_path);
  if (!loaded) return loaded.error();
  key = std::move(*loaded);
  return {};
}

Status CertificateAuthority::State::create_key() {
  auto made = generate_key(KeyType::kEcP256);
  if (!made) return made.error();
  key = std::move(*made);
  auto pem = private_key_pem(key.get());
  if (!pem) return pem.error();
  Wiped wipe(*pem);
  return write_file_atomically(key_path, *pem, 0600);
}

Status CertificateAuthority::State::load_certificate() {
  auto loaded = load_ca_certificate(cert_path);
  if (!loaded) return loaded.error();
  cert = std::move(*loaded);
  return {};
}

Status CertificateAuthority::State::create_certificate(const CaOptions& options) {
  auto made = create_ca_certificate(key.get(), options, now());
  if (!made) return made.error();
  cert = std::move(*made);
  return write_ca_certificate(cert_path, cert.get());
}

// Fills in the validity period and signs with the CA key.
Result<X509Ptr> CertificateAuthority::State::sign(CertificateSpec spec, int lifetime_days) {
  sys_seconds t = now();
  spec.not_before = t - kBackdate;
  spec.not_after = std::min(t + days(lifetime_days), ca_not_after);
  std::lock_guard lock_guard(mu);
  return build_certificate(spec, cert.get(), key.get());
}

// Why the server certificate files must be (re)written, or nullopt if not.
Result<std::optional<std::string>> CertificateAuthority::State::server_problem(
    const ServerCertificateRequest& request, const std::set<std::string>& san) {
  auto key_file = read_file(request.key_path, kMaxSmallFile);
  if (!key_file) return std::optional<std::string>(key_file.error().message);
  Wiped wipe(key_file->data);
  if ((key_file->mode & 077) != 0) return std::optional<std::string>("key file is not private");
  auto cert_file = read_file(request.certificate_path, kMaxSmallFile);
  if (!cert_file) return std::optional<std::string>(cert_file.error().message);
  PkeyPtr server_key = parse_private_key(key_file->data);
  X509Ptr server_cert = parse_certificate(cert_file->data);
  if (!server_key || !server_cert) return std::optional<std::string>("files do not parse");
  if (!key_matches(server_cert.get(), server_key.get())) {
    return std::optional<std::string>("key does not match certificate");
  }
  if (!signed_by(server_cert.get(), cert.get())) {
    return std::optional<std::string>("not issued by this CA");
  }
  auto not_after = from_asn1(X509_get0_notAfter(server_cert.get()));
  if (!not_after || *not_after - request.renew_before <= now()) {
    return std::optional<std::string>("expires soon");
  }
  if (san_of(server_cert.get()) != san) return std::optional<std::string>("names changed");
  return std::optional<std::string>();
}

CertificateAuthority::CertificateAuthority(std::unique_ptr<State> state)
    : state_(std::move(state)) {}

CertificateAuthority::~CertificateAuthority() = default;

Result<std::unique_ptr<CertificateAuthority>> CertificateAuthority::open(
    const std::filesystem::path& directory, CaOptions options) {
  if (auto st = check_options(options); !st) return st.error();
  auto state = std::make_unique<State>();
  state->dir = directory;
  state->key_path = directory / "ca.key";
  state->cert_path = directory / "ca.crt";
  state->revocations_path = directory / "revocations.txt";
  state->crl_number_path = directory / "crl_number";
  state->max_certificate_days = options.max_certificate_days;
  if (options.rsa_key_pool > 0) {
    state->rsa_keys = std::make_unique<KeyPool>([] { return generate_key(KeyType::kRsa2048); },
                                                options.rsa_key_pool);
  }
  state->clock = options.clock ? std::move(options.clock)
                               : CaOptions::Clock([] { return std::chrono::system_clock::now(); });
  if (auto st = make_private_directory(directory); !st) return st.error();
  auto lock = lock_directory(directory);
  if (!lock) return lock.error();
  state->lock = std::move(*lock);
  if (auto st = state->load_or_create(options); !st) return st.error();
  auto revocations = load_revocations(state->revocations_path);
  if (!revocations) return revocations.error();
  state->revocations = std::move(*revocations);
  auto crl_number = load_crl_number(state->crl_number_path);
  if (!crl_number) return crl_number.error();
  state->crl_number = *crl_number;
  return std::unique_ptr<CertificateAuthority>(new CertificateAuthority(std::move(state)));
}

namespace {

// A device's key pair: RSA from the pool when there is one.
Result<PkeyPtr> new_device_key(KeyPool* rsa_keys, KeyType key_type) {
  if (key_type != KeyType::kRsa2048 || !rsa_keys) return generate_key(key_type);
  return rsa_keys->take();
}

}  // namespace

Result<IssuedCertificate> CertificateAuthority::issue_device_certificate(
    std::string_view common_name, KeyType key_type, int lifetime_days) {
  if (auto st = check_device_name(common_name); !st) return st.error();
  if (auto st = check_lifetime(lifetime_days, state_->max_certificate_days); !st) return st.error();
  auto key = new_device_key(state_->rsa_keys.get(), key_type);
  if (!key) return key.error();
  CertificateSpec spec{Profile::kClient, std::string(common_name), key->get(), {}, {}, nullptr};
  auto cert = state_->sign(std::move(spec), lifetime_days);
  if (!cert) return cert.error();
  auto issued = describe(cert->get());
  if (!issued) return issued.error();
  auto pem = private_key_pem(key->get());
  if (!pem) return pem.error();
  issued->private_key_pem = std::move(*pem);
  return issued;
}

Result<IssuedCertificate> CertificateAuthority::sign_device_csr(std::string_view csr_pem,
                                                                std::string_view common_name,
                                                                int lifetime_days) {
  if (auto st = check_device_name(common_name); !st) return st.error();
  if (auto st = check_lifetime(lifetime_days, state_->max_certificate_days); !st) return st.error();
  auto key = csr_public_key(csr_pem);
  if (!key) return key.error();
  CertificateSpec spec{Profile::kClient, std::string(common_name), key->get(), {}, {}, nullptr};
  auto cert = state_->sign(std::move(spec), lifetime_days);
  if (!cert) return cert.error();
  return describe(cert->get());
}

Result<bool> CertificateAuthority::ensure_server_certificate(
    const ServerCertificateRequest& request) {
  if (auto st = check_lifetime(request.lifetime_days, state_->max_certificate_days); !st) {
    return st.error();
  }
  if (request.renew_before < seconds(0) || request.renew_before >= days(request.lifetime_days)) {
    return invalid_input("server certificate lifetime must be longer than its renewal window");
  }
  auto san = build_san(request);
  if (!san) return san.error();

  std::lock_guard server_lock(state_->server_mu);
  auto problem = state_->server_problem(request, san->canonical);
  if (!problem) return problem.error();
  if (!*problem) return false;

  auto key = generate_key(request.key_type);
  if (!key) return key.error();
  std::string cn = san->first.size() <= kMaxCommonName ? san->first : "para-cpp broker";
  CertificateSpec spec{Profile::kServer, cn, key->get(), {}, {}, san->names.get()};
  auto cert = state_->sign(std::move(spec), request.lifetime_days);
  if (!cert) return cert.error();
  auto key_pem = private_key_pem(key->get());
  if (!key_pem) return key_pem.error();
  Wiped wipe(*key_pem);
  auto cert_pem = certificate_pem(cert->get());
  if (!cert_pem) return cert_pem.error();
  // Key first: a crash in between leaves a mismatch, which the next call
  // detects and repairs.
  if (auto st = write_file_atomically(request.key_path, *key_pem, 0600); !st) return st.error();
  if (auto st = write_file_atomically(request.certificate_path, *cert_pem, 0644); !st) {
    return st.error();
  }
  return true;
}

Status CertificateAuthority::revoke(std::string_view serial_hex, RevocationReason reason,
                                    std::optional<std::chrono::sys_seconds> not_after) {
  auto serial = normalize_serial(serial_hex);
  if (!serial) return serial.error();
  if (!is_known_reason(reason)) return invalid_input("unknown revocation reason");

  State& s = *state_;
  std::lock_guard lock(s.mu);
  sys_seconds now = s.now();
  if (s.revocations.contains(*serial)) return {};
  Revocation entry{now,
                   not_after.value_or(std::min(now + days(s.max_certificate_days), s.ca_not_after)),
                   reason};
  if (!still_listed(entry, now)) return {};

  Revocations next;
  for (const auto& [other, r] : s.revocations) {
    if (still_listed(r, now)) next.emplace(other, r);
  }
  next.emplace(*serial, entry);
  if (auto st = write_file_atomically(s.revocations_path, format_revocations(next), 0600); !st) {
    return st;
  }
  s.revocations = std::move(next);
  return {};
}

Status CertificateAuthority::revoke_certificate(std::string_view certificate_pem,
                                                RevocationReason reason) {
  if (certificate_pem.size() > kMaxPemInput) return invalid_input("certificate is too large");
  X509Ptr cert = parse_certificate(certificate_pem);
  if (!cert) return invalid_input("not a PEM certificate");
  if (!signed_by(cert.get(), state_->cert.get())) {
    return invalid_input("certificate was not issued by this CA");
  }
  auto serial = serial_hex(X509_get0_serialNumber(cert.get()));
  if (!serial) return serial.error();
  return revoke(*serial, reason, from_asn1(X509_get0_notAfter(cert.get())));
}

Status CertificateAuthority::write_crl(const std::filesystem::path& path,
                                       std::chrono::seconds validity) {
  if (validity <= seconds(0)) return invalid_input("CRL validity must be positive");
  State& s = *state_;
  std::lock_guard lock(s.mu);
  sys_seconds now = s.now();
  CrlSpec spec{s.crl_number + 1, now, now + validity};
  // Persisted first, so no two CRLs ever carry the same number.
  if (auto st = write_file_atomically(s.crl_number_path, std::to_string(spec.number) + "\n", 0600);
      !st) {
    return st;
  }
  s.crl_number = spec.number;

  auto crl = build_crl(s.revocations, spec, s.cert.get(), s.key.get());
  if (!crl) return crl.error();
  auto pem = crl_pem(crl->get());
  if (!pem) return pem.error();
  auto pending = PendingFile::write(path, *pem, 0644);
  if (!pending) return pending.error();
  auto expected = listed_serials(s.revocations, spec.this_update);
  if (auto st = validate_crl_file(pending->temp_path(), s.cert.get(), spec, expected); !st) {
    return st;
  }
  return pending->commit();
}

CrlCheck CertificateAuthority::check_crl(const std::filesystem::path& path,
                                         std::chrono::seconds margin) const {
  const State& s = *state_;
  CrlCheck out;
  auto crl = load_our_crl(path, s.cert.get());
  if (!crl) {
    out.reason = crl.error().message;
    return out;
  }
  out.next_update = from_asn1(X509_CRL_get0_nextUpdate(crl->get()));
  if (!out.next_update) {
    out.reason = path.string() + " has no nextUpdate";
    return out;
  }
  std::set<std::string> expected;
  sys_seconds now;
  {
    std::lock_guard lock(s.mu);
    now = s.now();
    expected = listed_serials(s.revocations, now);
  }
  if (*out.next_update - margin <= now) {
    out.reason = path.string() + " expires at " + iso8601(*out.next_update);
    return out;
  }
  std::set<std::string> listed = crl_serials(crl->get());
  if (!std::includes(listed.begin(), listed.end(), expected.begin(), expected.end())) {
    out.reason = path.string() + " lacks revocations recorded since it was written";
    return out;
  }
  out.needs_refresh = false;
  return out;
}

const std::string& CertificateAuthority::ca_certificate_pem() const {
  return state_->cert_pem;
}

const std::filesystem::path& CertificateAuthority::ca_certificate_path() const {
  return state_->cert_path;
}

const std::filesystem::path& CertificateAuthority::directory() const {
  return state_->dir;
}

}  // namespace para::crypto
