#include "crypto/certificate_authority.h"

#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "crypto/digest.h"

namespace para::crypto {
namespace {

namespace fs = std::filesystem;
using std::chrono::days;
using std::chrono::seconds;
using std::chrono::sys_seconds;

template <auto Free>
struct OsslFree {
  template <class T>
  void operator()(T* p) const {
    Free(p);
  }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, OsslFree<EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, OsslFree<X509_free>>;
using CrlPtr = std::unique_ptr<X509_CRL, OsslFree<X509_CRL_free>>;
using ReqPtr = std::unique_ptr<X509_REQ, OsslFree<X509_REQ_free>>;
using BioPtr = std::unique_ptr<BIO, OsslFree<BIO_free>>;
using StorePtr = std::unique_ptr<X509_STORE, OsslFree<X509_STORE_free>>;
using StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, OsslFree<X509_STORE_CTX_free>>;
using NamePtr = std::unique_ptr<X509_NAME, OsslFree<X509_NAME_free>>;
using AsnIntPtr = std::unique_ptr<ASN1_INTEGER, OsslFree<ASN1_INTEGER_free>>;
using AsnEnumPtr = std::unique_ptr<ASN1_ENUMERATED, OsslFree<ASN1_ENUMERATED_free>>;
using KeyIdPtr = std::unique_ptr<AUTHORITY_KEYID, OsslFree<AUTHORITY_KEYID_free>>;
using GenNamesPtr = std::unique_ptr<GENERAL_NAMES, OsslFree<GENERAL_NAMES_free>>;

void free_extensions(STACK_OF(X509_EXTENSION) * exts) {
  sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
}
using ExtsPtr = std::unique_ptr<STACK_OF(X509_EXTENSION), OsslFree<free_extensions>>;

// ---------------------------------------------------------------------------
// OpenSSL helpers used to check results independently of the CA code.

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void write_text(const fs::path& path, std::string_view text) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

mode_t file_mode(const fs::path& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

BioPtr bio_of(std::string_view pem) {
  return BioPtr(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

X509Ptr parse_cert(std::string_view pem) {
  return X509Ptr(PEM_read_bio_X509(bio_of(pem).get(), nullptr, nullptr, nullptr));
}

CrlPtr parse_crl(std::string_view pem) {
  return CrlPtr(PEM_read_bio_X509_CRL(bio_of(pem).get(), nullptr, nullptr, nullptr));
}

PkeyPtr parse_key(std::string_view pem) {
  return PkeyPtr(PEM_read_bio_PrivateKey(bio_of(pem).get(), nullptr, nullptr, nullptr));
}

PkeyPtr parse_public_key(std::string_view pem) {
  return PkeyPtr(PEM_read_bio_PUBKEY(bio_of(pem).get(), nullptr, nullptr, nullptr));
}

template <class WriteFn>
std::string to_pem(WriteFn&& write) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  EXPECT_EQ(write(bio.get()), 1);
  BUF_MEM* mem = nullptr;
  BIO_get_mem_ptr(bio.get(), &mem);
  return std::string(mem->data, mem->length);
}

PkeyPtr keygen(const char* type, const char* curve) {
  return PkeyPtr(EVP_PKEY_Q_keygen(nullptr, nullptr, type, curve));
}

PkeyPtr rsa_keygen(std::size_t bits) {
  return PkeyPtr(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", bits));
}

std::string der_of(X509* cert) {
  unsigned char* der = nullptr;
  int len = i2d_X509(cert, &der);
  std::string out(reinterpret_cast<char*>(der), static_cast<std::size_t>(len));
  OPENSSL_free(der);
  return out;
}

std::string common_name(X509* cert) {
  X509_NAME* name = X509_get_subject_name(cert);
  int index = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (index < 0) return "";
  const ASN1_STRING* value = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, index));
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(value)),
                     static_cast<std::size_t>(ASN1_STRING_length(value)));
}

std::time_t unix_time(const ASN1_TIME* t) {
  std::tm tm{};
  EXPECT_EQ(ASN1_TIME_to_tm(t, &tm), 1);
  return timegm(&tm);
}

std::time_t unix_time(sys_seconds t) {
  return t.time_since_epoch().count();
}

// X509_V_OK or the verification error, as Mosquitto's OpenSSL would see it.
int verify(X509* leaf, X509* ca, X509_CRL* crl = nullptr, int purpose = X509_PURPOSE_SSL_CLIENT,
           std::optional<std::time_t> at = std::nullopt) {
  StorePtr store(X509_STORE_new());
  X509_STORE_add_cert(store.get(), ca);
  if (crl != nullptr) {
    X509_STORE_add_crl(store.get(), crl);
    X509_STORE_set_flags(store.get(), X509_V_FLAG_CRL_CHECK);
  }
  StoreCtxPtr ctx(X509_STORE_CTX_new());
  X509_STORE_CTX_init(ctx.get(), store.get(), leaf, nullptr);
  X509_STORE_CTX_set_purpose(ctx.get(), purpose);
  if (at) X509_STORE_CTX_set_time(ctx.get(), 0, *at);
  int ok = X509_verify_cert(ctx.get());
  int err = ok == 1 ? X509_V_OK : X509_STORE_CTX_get_error(ctx.get());
  ERR_clear_error();
  return err;
}

std::string key_id(const ASN1_OCTET_STRING* id) {
  if (id == nullptr) return "";
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(id)),
                     static_cast<std::size_t>(ASN1_STRING_length(id)));
}

std::string authority_key_id(X509* cert) {
  KeyIdPtr aki(static_cast<AUTHORITY_KEYID*>(
      X509_get_ext_d2i(cert, NID_authority_key_identifier, nullptr, nullptr)));
  return aki ? key_id(aki->keyid) : "";
}

std::set<std::string> crl_serials(X509_CRL* crl) {
  std::set<std::string> out;
  STACK_OF(X509_REVOKED)* entries = X509_CRL_get_REVOKED(crl);
  for (int i = 0; entries != nullptr && i < sk_X509_REVOKED_num(entries); ++i) {
    const ASN1_INTEGER* serial = X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(entries, i));
    BIGNUM* bn = ASN1_INTEGER_to_BN(serial, nullptr);
    char* hex = BN_bn2hex(bn);
    std::string s(hex);
    for (char& c : s)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out.insert(s);
    OPENSSL_free(hex);
    BN_free(bn);
  }
  return out;
}

std::uint64_t crl_number(X509_CRL* crl) {
  AsnIntPtr number(
      static_cast<ASN1_INTEGER*>(X509_CRL_get_ext_d2i(crl, NID_crl_number, nullptr, nullptr)));
  std::uint64_t value = 0;
  EXPECT_TRUE(number && ASN1_INTEGER_get_uint64(&value, number.get()) == 1);
  return value;
}

struct CsrOptions {
  std::string common_name = "victim";
  bool ask_for_ca_and_san = false;
};

std::string make_csr(EVP_PKEY* key, const CsrOptions& options = {}) {
  ReqPtr req(X509_REQ_new());
  X509_REQ_set_version(req.get(), X509_REQ_VERSION_1);
  NamePtr name(X509_NAME_new());
  X509_NAME_add_entry_by_txt(name.get(), "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("Evil Corp"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name.get(), "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(options.common_name.c_str()),
                             -1, -1, 0);
  X509_REQ_set_subject_name(req.get(), name.get());
  X509_REQ_set_pubkey(req.get(), key);
  if (options.ask_for_ca_and_san) {
    ExtsPtr exts(sk_X509_EXTENSION_new_null());
    sk_X509_EXTENSION_push(exts.get(), X509V3_EXT_nconf_nid(nullptr, nullptr, NID_basic_constraints,
                                                            "critical,CA:TRUE"));
    sk_X509_EXTENSION_push(exts.get(), X509V3_EXT_nconf_nid(nullptr, nullptr, NID_subject_alt_name,
                                                            "DNS:evil.example"));
    X509_REQ_add_extensions(req.get(), exts.get());
  }
  EXPECT_GT(X509_REQ_sign(req.get(), key, EVP_sha256()), 0);
  return to_pem([&](BIO* b) { return PEM_write_bio_X509_REQ(b, req.get()); });
}

// The same request with one byte of its signed content changed.
std::string tamper_csr(const std::string& pem, std::string_view inside) {
  ReqPtr req(PEM_read_bio_X509_REQ(bio_of(pem).get(), nullptr, nullptr, nullptr));
  unsigned char* raw = nullptr;
  int len = i2d_X509_REQ(req.get(), &raw);
  std::string der(reinterpret_cast<char*>(raw), static_cast<std::size_t>(len));
  OPENSSL_free(raw);
  auto at = der.find(inside);
  EXPECT_NE(at, std::string::npos);
  der[at] ^= 0x01;
  return to_pem([&](BIO* b) {
    return PEM_write_bio(b, "CERTIFICATE REQUEST", "",
                         reinterpret_cast<const unsigned char*>(der.data()),
                         static_cast<long>(der.size())) > 0
               ? 1
               : 0;
  });
}

bool has_openssl_cli() {
  return std::system("command -v openssl >/dev/null 2>&1") == 0;
}

int run(const std::string& command) {
  int status = std::system((command + " >/dev/null 2>&1").c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// ---------------------------------------------------------------------------
// Fixture: a fresh directory per test and a clock the test can move.

class CertificateAuthorityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::path(::testing::TempDir()) / "para-ca-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    root_ = pattern;
    dir_ = root_ / "pki";
  }
  void TearDown() override { fs::remove_all(root_); }

  CaOptions options() {
    CaOptions o;
    o.clock = [this] { return std::chrono::system_clock::now() + offset_.load(); };
    return o;
  }

  std::unique_ptr<CertificateAuthority> open_ca(CaOptions o) {
    auto ca = CertificateAuthority::open(dir_, std::move(o));
    EXPECT_TRUE(ca) << ca.error().message;
    return ca ? std::move(*ca) : nullptr;
  }
  std::unique_ptr<CertificateAuthority> open_ca() { return open_ca(options()); }

  Error open_error() {
    auto ca = CertificateAuthority::open(dir_, options());
    EXPECT_FALSE(ca);
    return ca ? Error{} : ca.error();
  }

  std::time_t now() const {
    return std::chrono::system_clock::to_time_t(std::chrono::system_clock::now() + offset_.load());
  }
  void advance(seconds by) { offset_ = offset_.load() + by; }

  IssuedCertificate issue(CertificateAuthority& ca, std::string_view cn,
                          KeyType type = KeyType::kEcP256, int lifetime_days = 30) {
    auto issued = ca.issue_device_certificate(cn, type, lifetime_days);
    EXPECT_TRUE(issued) << issued.error().message;
    return issued ? *issued : IssuedCertificate{};
  }

  CrlPtr fresh_crl(CertificateAuthority& ca, seconds validity = std::chrono::hours(24)) {
    auto st = ca.write_crl(crl_path(), validity);
    EXPECT_TRUE(st) << st.error().message;
    return parse_crl(read_text(crl_path()));
  }

  int verify_now(X509* leaf, CertificateAuthority& ca, X509_CRL* crl,
                 int purpose = X509_PURPOSE_SSL_CLIENT) {
    X509Ptr ca_cert = parse_cert(ca.ca_certificate_pem());
    return verify(leaf, ca_cert.get(), crl, purpose, now());
  }

  fs::path crl_path() const { return root_ / "crl.pem"; }

  std::vector<std::string> temp_files() const {
    std::vector<std::string> out;
    for (const auto& dir : {root_, dir_}) {
      if (!fs::exists(dir)) continue;
      for (const auto& entry : fs::directory_iterator(dir)) {
        std::string name = entry.path().filename().string();
        if (name.find(".tmp-") != std::string::npos) out.push_back(name);
      }
    }
    return out;
  }

  fs::path root_;
  fs::path dir_;
  std::atomic<std::chrono::system_clock::duration> offset_{};
};

// ---------------------------------------------------------------------------
// Creating and opening.

TEST_F(CertificateAuthorityTest, CreatesCaOnFirstOpen) {
  mode_t old_umask = ::umask(0);  // the key must be 0600 even so
  auto ca = open_ca();
  ::umask(old_umask);
  ASSERT_TRUE(ca);

  EXPECT_EQ(file_mode(dir_), 0700u);
  EXPECT_EQ(file_mode(dir_ / "ca.key"), 0600u);
  EXPECT_EQ(ca->ca_certificate_path(), dir_ / "ca.crt");
  EXPECT_EQ(ca->directory(), dir_);
  EXPECT_EQ(read_text(dir_ / "ca.crt"), ca->ca_certificate_pem());
  EXPECT_NE(read_text(dir_ / "ca.key").find("-----BEGIN PRIVATE KEY-----"), std::string::npos);

  X509Ptr cert = parse_cert(ca->ca_certificate_pem());
  ASSERT_TRUE(cert);
  PkeyPtr key = parse_key(read_text(dir_ / "ca.key"));
  ASSERT_TRUE(key);
  EXPECT_EQ(X509_check_private_key(cert.get(), key.get()), 1);
  EXPECT_TRUE(EVP_PKEY_is_a(key.get(), "EC"));
  EXPECT_EQ(EVP_PKEY_get_bits(key.get()), 256);
  EXPECT_EQ(common_name(cert.get()), "para-cpp IoT CA");
  EXPECT_EQ(X509_check_ca(cert.get()), 1);
  EXPECT_EQ(X509_get_key_usage(cert.get()), static_cast<uint32_t>(KU_KEY_CERT_SIGN | KU_CRL_SIGN));
  EXPECT_EQ(X509_get_extension_flags(cert.get()) & EXFLAG_CRITICAL, 0u);  // all critical ones known
  EXPECT_NE(X509_get0_subject_key_id(cert.get()), nullptr);
  EXPECT_EQ(verify(cert.get(), cert.get(), nullptr, X509_PURPOSE_ANY), X509_V_OK);
  std::time_t lifetime = unix_time(X509_get0_notAfter(cert.get())) - now();
  EXPECT_GT(lifetime, 20 * 365 * 86400L);
  EXPECT_TRUE(temp_files().empty());
}

TEST_F(CertificateAuthorityTest, UsesConfiguredCommonName) {
  CaOptions o = options();
  o.common_name = "Acme Devices CA";
  auto ca = open_ca(std::move(o));
  ASSERT_TRUE(ca);
  EXPECT_EQ(common_name(parse_cert(ca->ca_certificate_pem()).get()), "Acme Devices CA");
}

TEST_F(CertificateAuthorityTest, ReopenKeepsTheSameCa) {
  std::string first_pem;
  std::string key_pem;
  std::string device_pem;
  {
    auto ca = open_ca();
    ASSERT_TRUE(ca);
    first_pem = ca->ca_certificate_pem();
    key_pem = read_text(dir_ / "ca.key");
    device_pem = issue(*ca, "thing1").certificate_pem;
  }
  CaOptions o = options();
  o.common_name = "ignored for an existing CA";
  auto ca = open_ca(std::move(o));
  ASSERT_TRUE(ca);
  EXPECT_EQ(ca->ca_certificate_pem(), first_pem);
  EXPECT_EQ(read_text(dir_ / "ca.key"), key_pem);
  X509Ptr device = parse_cert(device_pem);
  EXPECT_EQ(verify_now(device.get(), *ca, nullptr), X509_V_OK);
}

TEST_F(CertificateAuthorityTest, RefusesKeyReadableByOthers) {
  { ASSERT_TRUE(open_ca()); }
  for (mode_t mode : {0644, 0640, 0604, 0660}) {
    ASSERT_EQ(::chmod((dir_ / "ca.key").c_str(), mode), 0);
    Error e = open_error();
    EXPECT_EQ(e.kind, ErrorKind::kUnavailable);
    EXPECT_NE(e.message.find("ca.key"), std::string::npos) << e.message;
    EXPECT_NE(e.message.find("group or others"), std::string::npos) << e.message;
  }
  ASSERT_EQ(::chmod((dir_ / "ca.key").c_str(), 0600), 0);
  EXPECT_TRUE(open_ca());
}

TEST_F(CertificateAuthorityTest, RefusesKeyThatDoesNotMatchCertificate) {
  fs::path other = root_ / "other";
  {
    ASSERT_TRUE(open_ca());
    ASSERT_TRUE(CertificateAuthority::open(other, options()));
  }
  fs::copy_file(other / "ca.key", dir_ / "ca.key", fs::copy_options::overwrite_existing);
  Error e = open_error();
  EXPECT_EQ(e.kind, ErrorKind::kUnavailable);
  EXPECT_NE(e.message.find("does not match"), std::string::npos) << e.message;
}

TEST_F(CertificateAuthorityTest, RefusesCertificateWithoutKey) {
  { ASSERT_TRUE(open_ca()); }
  fs::remove(dir_ / "ca.key");
  Error e = open_error();
  EXPECT_EQ(e.kind, ErrorKind::kUnavailable);
  EXPECT_NE(e.message.find("missing"), std::string::npos) << e.message;
}

TEST_F(CertificateAuthorityTest, RefusesGarbageKeyOrCertificate) {
  { ASSERT_TRUE(open_ca()); }
  std::string cert = read_text(dir_ / "ca.crt");
  write_text(dir_ / "ca.crt", "not a certificate");
  EXPECT_EQ(open_error().kind, ErrorKind::kUnavailable);
  write_text(dir_ / "ca.crt", cert);
  write_text(dir_ / "ca.key", "not a key");
  EXPECT_EQ(open_error().kind, ErrorKind::kUnavailable);
}

TEST_F(CertificateAuthorityTest, RefusesExpiredCa) {
  CaOptions o = options();
  o.validity_days = 2;
  { ASSERT_TRUE(open_ca(std::move(o))); }
  advance(days(3));
  Error e = open_error();
  EXPECT_EQ(e.kind, ErrorKind::kUnavailable);
  EXPECT_NE(e.message.find("expired"), std::string::npos) << e.message;
}

TEST_F(CertificateAuthorityTest, RecoversFromCrashBetweenKeyAndCertificate) {
  std::string device_pem;
  {
    auto ca = open_ca();
    device_pem = issue(*ca, "thing1").certificate_pem;
  }
  fs::remove(dir_ / "ca.crt");
  auto ca = open_ca();
  ASSERT_TRUE(ca);
  // Same key and subject: certificates issued before still verify.
  X509Ptr device = parse_cert(device_pem);
  EXPECT_EQ(verify_now(device.get(), *ca, nullptr), X509_V_OK);
}

TEST_F(CertificateAuthorityTest, OnlyOneInstancePerDirectory) {
  auto ca = open_ca();
  ASSERT_TRUE(ca);
  Error e = open_error();
  EXPECT_EQ(e.kind, ErrorKind::kUnavailable);
  EXPECT_NE(e.message.find("already open"), std::string::npos) << e.message;
}

TEST_F(CertificateAuthorityTest, RejectsBadOptions) {
  CaOptions empty_name = options();
  empty_name.common_name = "";
  CaOptions no_validity = options();
  no_validity.validity_days = 0;
  CaOptions no_lifetime = options();
  no_lifetime.max_certificate_days = 0;
  CaOptions control_char = options();
  control_char.common_name = "bad\nname";
  for (auto* o : {&empty_name, &no_validity, &no_lifetime, &control_char}) {
    auto ca = CertificateAuthority::open(dir_, *o);
    ASSERT_FALSE(ca);
    EXPECT_EQ(ca.error().kind, ErrorKind::kInvalidInput);
  }
  EXPECT_FALSE(fs::exists(dir_));  // nothing created
}

TEST_F(CertificateAuthorityTest, RefusesFileWhereDirectoryShouldBe) {
  write_text(dir_, "a file");
  EXPECT_FALSE(CertificateAuthority::open(dir_, options()));
}

// ---------------------------------------------------------------------------
// Device certificates.

void expect_device_certificate(const IssuedCertificate& issued, X509* cert, std::string_view cn) {
  EXPECT_EQ(common_name(cert), cn);
  EXPECT_EQ(X509_NAME_entry_count(X509_get_subject_name(cert)), 1);
  EXPECT_EQ(X509_check_ca(cert), 0);
  EXPECT_EQ(X509_get_extended_key_usage(cert), static_cast<uint32_t>(XKU_SSL_CLIENT));
  EXPECT_NE(X509_get0_subject_key_id(cert), nullptr);
  EXPECT_EQ(X509_get_ext_by_NID(cert, NID_subject_alt_name, -1), -1);
  EXPECT_EQ(issued.certificate_id, sha256_hex(der_of(cert)));
  EXPECT_EQ(issued.not_after, sys_seconds(seconds(unix_time(X509_get0_notAfter(cert)))));
  PkeyPtr pub = parse_public_key(issued.public_key_pem);
  ASSERT_TRUE(pub);
  EXPECT_EQ(EVP_PKEY_eq(pub.get(), X509_get0_pubkey(cert)), 1);
  // 128 random bits: at most 16 bytes (a leading zero byte is dropped).
  EXPECT_LE(issued.serial_hex.size(), 32u);
  EXPECT_EQ(issued.serial_hex.size() % 2, 0u);
  EXPECT_EQ(issued.serial_hex.find_first_not_of("0123456789abcdef"), std::string::npos);
  const ASN1_INTEGER* serial = X509_get0_serialNumber(cert);
  BIGNUM* bn = ASN1_INTEGER_to_BN(serial, nullptr);
  EXPECT_FALSE(BN_is_zero(bn));
  EXPECT_FALSE(BN_is_negative(bn));
  EXPECT_GT(BN_num_bits(bn), 64);  // not 1 in 2^64 chance to fail
  BN_free(bn);
}

TEST_F(CertificateAuthorityTest, IssuesEcDeviceCertificate) {
  auto ca = open_ca();
  std::time_t before = now();
  IssuedCertificate issued = issue(*ca, "app1-thing_A:1", KeyType::kEcP256, 90);
  std::time_t after = now();
  X509Ptr cert = parse_cert(issued.certificate_pem);
  ASSERT_TRUE(cert);
  expect_device_certificate(issued, cert.get(), "app1-thing_A:1");
  EXPECT_EQ(X509_get_key_usage(cert.get()), static_cast<uint32_t>(KU_DIGITAL_SIGNATURE));

  std::time_t not_after = unix_time(X509_get0_notAfter(cert.get()));
  EXPECT_GE(not_after, before + 90 * 86400L);
  EXPECT_LE(not_after, after + 90 * 86400L);

  EXPECT_EQ(issued.private_key_pem.rfind("-----BEGIN PRIVATE KEY-----", 0), 0u);
  PkeyPtr key = parse_key(issued.private_key_pem);
  ASSERT_TRUE(key);
  EXPECT_TRUE(EVP_PKEY_is_a(key.get(), "EC"));
  EXPECT_EQ(EVP_PKEY_get_bits(key.get()), 256);
  EXPECT_EQ(X509_check_private_key(cert.get(), key.get()), 1);

  X509Ptr ca_cert = parse_cert(ca->ca_certificate_pem());
  EXPECT_EQ(authority_key_id(cert.get()), key_id(X509_get0_subject_key_id(ca_cert.get())));
  CrlPtr crl = fresh_crl(*ca);
  EXPECT_EQ(verify_now(cert.get(), *ca, crl.get()), X509_V_OK);
  EXPECT_EQ(verify_now(cert.get(), *ca, crl.get(), X509_PURPOSE_SSL_SERVER),
            X509_V_ERR_INVALID_PURPOSE);
  // Not valid after its lifetime.
  EXPECT_EQ(verify(cert.get(), ca_cert.get(), nullptr, X509_PURPOSE_SSL_CLIENT, not_after + 1),
            X509_V_ERR_CERT_HAS_EXPIRED);
}

TEST_F(CertificateAuthorityTest, IssuesRsaDeviceCertificate) {
  auto ca = open_ca();
  IssuedCertificate issued = issue(*ca, "rsa-thing", KeyType::kRsa2048, 7);
  X509Ptr cert = parse_cert(issued.certificate_pem);
  ASSERT_TRUE(cert);
  expect_device_certificate(issued, cert.get(), "rsa-thing");
  EXPECT_EQ(X509_get_key_usage(cert.get()),
            static_cast<uint32_t>(KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT));
  PkeyPtr key = parse_key(issued.private_key_pem);
  ASSERT_TRUE(key);
  EXPECT_TRUE(EVP_PKEY_is_a(key.get(), "RSA"));
  EXPECT_EQ(EVP_PKEY_get_bits(key.get()), 2048);
  EXPECT_EQ(X509_check_private_key(cert.get(), key.get()), 1);
  EXPECT_EQ(issued.private_key_pem.rfind("-----BEGIN PRIVATE KEY-----", 0), 0u);
  std::time_t lifetime = unix_time(X509_get0_notAfter(cert.get())) - now();
  EXPECT_NEAR(static_cast<double>(lifetime), 7 * 86400.0, 5.0);
  CrlPtr crl = fresh_crl(*ca);
  EXPECT_EQ(verify_now(cert.get(), *ca, crl.get()), X509_V_OK);
}

// With a key pool, RSA devices get keys made ahead: each one new, each one
// matching its certificate.
TEST_F(CertificateAuthorityTest, PooledRsaKeysMatchTheirCertificates) {
  CaOptions o = options();
  o.rsa_key_pool = 2;
  auto ca = open_ca(std::move(o));
  std::set<std::string> keys;
  for (int i = 0; i < 4; ++i) {
    IssuedCertificate issued = issue(*ca, "rsa-" + std::to_string(i), KeyType::kRsa2048);
    X509Ptr cert = parse_cert(issued.certificate_pem);
    PkeyPtr key = parse_key(issued.private_key_pem);
    ASSERT_TRUE(cert && key);
    EXPECT_TRUE(EVP_PKEY_is_a(key.get(), "RSA"));
    EXPECT_EQ(EVP_PKEY_get_bits(key.get()), 2048);
    EXPECT_EQ(X509_check_private_key(cert.get(), key.get()), 1);
    EXPECT_TRUE(keys.insert(issued.private_key_pem).second) << "a key was handed out twice";
  }
  // EC keys never come from the RSA pool.
  IssuedCertificate ec = issue(*ca, "ec-thing");
  EXPECT_TRUE(EVP_PKEY_is_a(parse_key(ec.private_key_pem).get(), "EC"));
}

TEST_F(CertificateAuthorityTest, EveryCertificateIsNew) {
  auto ca = open_ca();
  std::set<std::string> serials, ids, keys;
  for (int i = 0; i < 5; ++i) {
    IssuedCertificate issued = issue(*ca, "same-name");
    serials.insert(issued.serial_hex);
    ids.insert(issued.certificate_id);
    keys.insert(issued.public_key_pem);
  }
  EXPECT_EQ(serials.size(), 5u);
  EXPECT_EQ(ids.size(), 5u);
  EXPECT_EQ(keys.size(), 5u);
}

TEST_F(CertificateAuthorityTest, RejectsBadCommonNames) {
  auto ca = open_ca();
  for (std::string cn :
       {std::string(""), std::string(65, 'a'), std::string("a/b"), std::string("a+b"),
        std::string("#"), std::string("svc.shadow"), std::string("a b"), std::string("caf\xc3\xa9"),
        std::string("a\0b", 3), std::string("CN=x,O=y")}) {
    auto issued = ca->issue_device_certificate(cn);
    ASSERT_FALSE(issued) << cn;
    EXPECT_EQ(issued.error().kind, ErrorKind::kInvalidInput);
    EXPECT_NE(issued.error().message.find("common name"), std::string::npos);
  }
  EXPECT_TRUE(ca->issue_device_certificate(std::string(64, 'a')));
}

TEST_F(CertificateAuthorityTest, RejectsBadLifetimes) {
  CaOptions o = options();
  o.max_certificate_days = 100;
  auto ca = open_ca(std::move(o));
  for (int lifetime : {0, -1, 101, INT32_MIN}) {
    auto issued = ca->issue_device_certificate("thing", KeyType::kEcP256, lifetime);
    ASSERT_FALSE(issued) << lifetime;
    EXPECT_EQ(issued.error().kind, ErrorKind::kInvalidInput);
    EXPECT_NE(issued.error().message.find("lifetime"), std::string::npos);
  }
  EXPECT_TRUE(ca->issue_device_certificate("thing", KeyType::kEcP256, 100));
}

TEST_F(CertificateAuthorityTest, NeverIssuesPastTheCaExpiry) {
  CaOptions o = options();
  o.validity_days = 10;
  auto ca = open_ca(std::move(o));
  IssuedCertificate issued = issue(*ca, "thing", KeyType::kEcP256, 30);
  X509Ptr ca_cert = parse_cert(ca->ca_certificate_pem());
  EXPECT_EQ(unix_time(issued.not_after), unix_time(X509_get0_notAfter(ca_cert.get())));
}

TEST_F(CertificateAuthorityTest, PrivateKeyIsNotWrittenAnywhere) {
  auto ca = open_ca();
  IssuedCertificate issued = issue(*ca, "thing");
  // Base64 of the private scalar (the PKCS#8 header before it is the same for every key).
  std::string body = issued.private_key_pem.substr(93, 20);
  for (const auto& entry : fs::recursive_directory_iterator(root_)) {
    if (entry.is_regular_file()) {
      EXPECT_EQ(read_text(entry.path()).find(body), std::string::npos) << entry.path();
    }
  }
}

// ---------------------------------------------------------------------------
// CSR signing.

TEST_F(CertificateAuthorityTest, SignsCsrWithoutSeeingThePrivateKey) {
  auto ca = open_ca();
  PkeyPtr key = keygen("EC", "P-256");
  auto issued = ca->sign_device_csr(make_csr(key.get()), "thing-7", 30);
  ASSERT_TRUE(issued) << issued.error().message;
  EXPECT_TRUE(issued->private_key_pem.empty());
  X509Ptr cert = parse_cert(issued->certificate_pem);
  ASSERT_TRUE(cert);
  expect_device_certificate(*issued, cert.get(), "thing-7");
  EXPECT_EQ(X509_check_private_key(cert.get(), key.get()), 1);
  CrlPtr crl = fresh_crl(*ca);
  EXPECT_EQ(verify_now(cert.get(), *ca, crl.get()), X509_V_OK);
}

TEST_F(CertificateAuthorityTest, SignsCsrWithOtherAcceptedKeys) {
  auto ca = open_ca();
  PkeyPtr p384 = keygen("EC", "P-384");
  PkeyPtr rsa = rsa_keygen(2048);
  for (EVP_PKEY* key : {p384.get(), rsa.get()}) {
    auto issued = ca->sign_device_csr(make_csr(key), "thing");
    ASSERT_TRUE(issued) << issued.error().message;
    X509Ptr cert = parse_cert(issued->certificate_pem);
    EXPECT_EQ(X509_check_private_key(cert.get(), key), 1);
    EXPECT_EQ(verify_now(cert.get(), *ca, nullptr), X509_V_OK);
  }
}

TEST_F(CertificateAuthorityTest, CsrCannotChooseIdentityOrRights) {
  auto ca = open_ca();
  PkeyPtr key = keygen("EC", "P-256");
  std::string csr = make_csr(key.get(), {.common_name = "victim", .ask_for_ca_and_san = true});
  auto issued = ca->sign_device_csr(csr, "thing-7");
  ASSERT_TRUE(issued) << issued.error().message;
  X509Ptr cert = parse_cert(issued->certificate_pem);
  expect_device_certificate(*issued, cert.get(), "thing-7");  // one CN, no SAN, not a CA
}

TEST_F(CertificateAuthorityTest, RejectsMalformedCsr) {
  auto ca = open_ca();
  PkeyPtr key = keygen("EC", "P-256");
  std::string good = make_csr(key.get());
  std::string truncated = good.substr(0, good.size() / 2) + "\n-----END CERTIFICATE REQUEST-----\n";
  std::string body_garbage =
      "-----BEGIN CERTIFICATE REQUEST-----\nAAAA!!!!\n-----END CERTIFICATE REQUEST-----\n";
  std::string encrypted =
      "-----BEGIN CERTIFICATE REQUEST-----\nProc-Type: 4,ENCRYPTED\n"
      "DEK-Info: AES-128-CBC,00112233445566778899AABBCCDDEEFF\n\nAAAA\n"
      "-----END CERTIFICATE REQUEST-----\n";
  std::string not_a_csr = ca->ca_certificate_pem();
  std::string huge = good + std::string(70000, '\n');
  for (const std::string& csr :
       {std::string(), std::string("garbage"), truncated, body_garbage, encrypted, not_a_csr}) {
    auto issued = ca->sign_device_csr(csr, "thing");
    ASSERT_FALSE(issued);
    EXPECT_EQ(issued.error().kind, ErrorKind::kInvalidInput);
    EXPECT_EQ(issued.error().message, "csr is not a PEM certificate signing request");
  }
  auto too_big = ca->sign_device_csr(huge, "thing");
  ASSERT_FALSE(too_big);
  EXPECT_EQ(too_big.error().message, "csr is larger than 64 KiB");
  EXPECT_EQ(ERR_peek_error(), 0u);  // no stale OpenSSL errors left behind
}

TEST_F(CertificateAuthorityTest, RejectsCsrWithBadSignature) {
  auto ca = open_ca();
  PkeyPtr key = keygen("EC", "P-256");
  std::string tampered = tamper_csr(make_csr(key.get(), {.common_name = "victim"}), "victim");
  auto issued = ca->sign_device_csr(tampered, "thing");
  ASSERT_FALSE(issued);
  EXPECT_EQ(issued.error().kind, ErrorKind::kInvalidInput);
  EXPECT_EQ(issued.error().message, "csr signature does not verify with the key it contains");
}

TEST_F(CertificateAuthorityTest, RejectsCsrWithWeakOrUnusualKeys) {
  auto ca = open_ca();
  PkeyPtr rsa1024 = rsa_keygen(1024);
  PkeyPtr k256 = keygen("EC", "secp256k1");
  PkeyPtr ed25519(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  struct Case {
    EVP_PKEY* key;
    std::string message;
  };
  std::vector<Case> cases{
      {rsa1024.get(), "csr RSA key has 1024 bits; 2048 to 4096 are accepted"},
      {k256.get(), "csr EC key uses curve secp256k1; only P-256 and P-384 are accepted"},
      {ed25519.get(), "csr key type ED25519 is not accepted; use EC P-256/P-384 or RSA 2048-4096"}};
  for (const auto& c : cases) {
    ReqPtr req(X509_REQ_new());
    X509_REQ_set_pubkey(req.get(), c.key);
    // Ed25519 signs without a separate digest.
    const EVP_MD* md = EVP_PKEY_is_a(c.key, "ED25519") ? nullptr : EVP_sha256();
    ASSERT_GT(X509_REQ_sign(req.get(), c.key, md), 0);
    std::string csr = to_pem([&](BIO* b) { return PEM_write_bio_X509_REQ(b, req.get()); });
    auto issued = ca->sign_device_csr(csr, "thing");
    ASSERT_FALSE(issued) << c.message;
    EXPECT_EQ(issued.error().kind, ErrorKind::kInvalidInput);
    EXPECT_EQ(issued.error().message, c.message);
  }
}

TEST_F(CertificateAuthorityTest, CsrSigningChecksNameAndLifetime) {
  auto ca = open_ca();
  PkeyPtr key = keygen("EC", "P-256");
  std::string csr = make_csr(key.get());
  EXPECT_EQ(ca->sign_device_csr(csr, "a/b").error().kind, ErrorKind::kInvalidInput);
  EXPECT_EQ(ca->sign_device_csr(csr, "thing", 0).error().kind, ErrorKind::kInvalidInput);
}

// ---------------------------------------------------------------------------
// Revocation and CRLs.

TEST_F(CertificateAuthorityTest, RevokedCertificateFailsVerification) {
  auto ca = open_ca();
  IssuedCertificate revoked = issue(*ca, "gone");
  IssuedCertificate kept = issue(*ca, "kept");
  ASSERT_TRUE(
      ca->revoke(revoked.serial_hex, RevocationReason::kCessationOfOperation, revoked.not_after));
  CrlPtr crl = fresh_crl(*ca, std::chrono::hours(6));
  ASSERT_TRUE(crl);
  X509Ptr revoked_cert = parse_cert(revoked.certificate_pem);
  X509Ptr kept_cert = parse_cert(kept.certificate_pem);
  EXPECT_EQ(verify_now(revoked_cert.get(), *ca, crl.get()), X509_V_ERR_CERT_REVOKED);
  EXPECT_EQ(verify_now(kept_cert.get(), *ca, crl.get()), X509_V_OK);

  // The CRL itself: v2, signed by the CA, number, AKI, 6 h validity, reason.
  X509Ptr ca_cert = parse_cert(ca->ca_certificate_pem());
  EXPECT_EQ(X509_CRL_get_version(crl.get()), X509_CRL_VERSION_2);
  EXPECT_EQ(X509_CRL_verify(crl.get(), X509_get0_pubkey(ca_cert.get())), 1);
  EXPECT_EQ(crl_number(crl.get()), 1u);
  KeyIdPtr aki(static_cast<AUTHORITY_KEYID*>(
      X509_CRL_get_ext_d2i(crl.get(), NID_authority_key_identifier, nullptr, nullptr)));
  ASSERT_TRUE(aki);
  EXPECT_EQ(key_id(aki->keyid), key_id(X509_get0_subject_key_id(ca_cert.get())));
  std::time_t this_update = unix_time(X509_CRL_get0_lastUpdate(crl.get()));
  EXPECT_EQ(unix_time(X509_CRL_get0_nextUpdate(crl.get())) - this_update, 6 * 3600);
  EXPECT_NEAR(static_cast<double>(this_update), static_cast<double>(now()), 5.0);
  EXPECT_EQ(crl_serials(crl.get()), std::set<std::string>{revoked.serial_hex});
  X509_REVOKED* entry = sk_X509_REVOKED_value(X509_CRL_get_REVOKED(crl.get()), 0);
  AsnEnumPtr reason(static_cast<ASN1_ENUMERATED*>(
      X509_REVOKED_get_ext_d2i(entry, NID_crl_reason, nullptr, nullptr)));
  ASSERT_TRUE(reason);
  EXPECT_EQ(ASN1_ENUMERATED_get(reason.get()), 5);  // cessationOfOperation
  EXPECT_TRUE(temp_files().empty());
}

TEST_F(CertificateAuthorityTest, EmptyCrlLetsEveryoneIn) {
  auto ca = open_ca();
  IssuedCertificate issued = issue(*ca, "thing");
  CrlPtr crl = fresh_crl(*ca);
  ASSERT_TRUE(crl);
  EXPECT_TRUE(crl_serials(crl.get()).empty());
  X509Ptr cert = parse_cert(issued.certificate_pem);
  EXPECT_EQ(verify_now(cert.get(), *ca, crl.get()), X509_V_OK);
}

TEST_F(CertificateAuthorityTest, RevokeIsIdempotentAndNormalisesSerials) {
  auto ca = open_ca();
  IssuedCertificate issued = issue(*ca, "thing");
  ASSERT_TRUE(ca->revoke(issued.serial_hex, RevocationReason::kKeyCompromise, issued.not_after));
  std::string recorded = read_text(dir_ / "revocations.txt");
  EXPECT_EQ(file_mode(dir_ / "revocations.txt"), 0600u);
  std::string upper = "00" + issued.serial_hex;
  for (char& c : upper)
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_TRUE(ca->revoke(upper, RevocationReason::kSuperseded, issued.not_after));
  EXPECT_TRUE(ca->revoke(issued.serial_hex, RevocationReason::kKeyCompromise));
  EXPECT_EQ(read_text(dir_ / "revocations.txt"), recorded);
  CrlPtr crl = fresh_crl(*ca);
  EXPECT_EQ(crl_serials(crl.get()), std::set<std::string>{issued.serial_hex});
}

TEST_F(CertificateAuthorityTest, RevokeRejectsBadSerials) {
  auto ca = open_ca();
  for (std::string serial :
       {std::string(""), std::string("xyz"), std::string("0"), std::string("0000"),
        std::string(41, 'a'), std::string("-1f"), std::string("0x1f"), std::string("1f 2e")}) {
    Status st = ca->revoke(serial, RevocationReason::kUnspecified);
    ASSERT_FALSE(st) << serial;
    EXPECT_EQ(st.error().kind, ErrorKind::kInvalidInput);
  }
  EXPECT_FALSE(ca->revoke("1f", static_cast<RevocationReason>(2)));
  EXPECT_FALSE(fs::exists(dir_ / "revocations.txt"));
}

TEST_F(CertificateAuthorityTest, RevocationsSurviveReopen) {
  IssuedCertificate issued;
  {
    auto ca = open_ca();
    issued = issue(*ca, "thing");
    ASSERT_TRUE(
        ca->revoke(issued.serial_hex, RevocationReason::kCessationOfOperation, issued.not_after));
    CrlPtr first = fresh_crl(*ca);
    CrlPtr second = fresh_crl(*ca);
    EXPECT_EQ(crl_number(second.get()), 2u);
  }
  auto ca = open_ca();
  CrlPtr crl = fresh_crl(*ca);
  EXPECT_EQ(crl_number(crl.get()), 3u);  // numbers keep increasing across restarts
  X509Ptr cert = parse_cert(issued.certificate_pem);
  EXPECT_EQ(verify_now(cert.get(), *ca, crl.get()), X509_V_ERR_CERT_REVOKED);
}

TEST_F(CertificateAuthorityTest, RevokesByCertificatePem) {
  auto ca = open_ca();
  IssuedCertificate issued = issue(*ca, "thing");
  EXPECT_TRUE(ca->revoke_certificate(issued.certificate_pem, RevocationReason::kUnspecified));
  CrlPtr crl = fresh_crl(*ca);
  EXPECT_EQ(crl_serials(crl.get()), std::set<std::string>{issued.serial_hex});

  auto other = CertificateAuthority::open(root_ / "other", options());
  ASSERT_TRUE(other);
  IssuedCertificate foreign = issue(**other, "thing");
  Status st = ca->revoke_certificate(foreign.certificate_pem, RevocationReason::kUnspecified);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().message, "certificate was not issued by this CA");
  EXPECT_EQ(ca->revoke_certificate("garbage", RevocationReason::kUnspecified).error().kind,
            ErrorKind::kInvalidInput);
}

TEST_F(CertificateAuthorityTest, ExpiredCertificatesLeaveTheCrl) {
  auto ca = open_ca();
  IssuedCertificate short_lived = issue(*ca, "short", KeyType::kEcP256, 1);
  IssuedCertificate long_lived = issue(*ca, "long", KeyType::kEcP256, 30);
  ASSERT_TRUE(
      ca->revoke(short_lived.serial_hex, RevocationReason::kUnspecified, short_lived.not_after));
  ASSERT_TRUE(
      ca->revoke(long_lived.serial_hex, RevocationReason::kUnspecified, long_lived.not_after));
  EXPECT_EQ(crl_serials(fresh_crl(*ca).get()).size(), 2u);

  advance(days(1) + std::chrono::hours(12));  // expired, but within the grace day
  EXPECT_EQ(crl_serials(fresh_crl(*ca).get()).size(), 2u);
  advance(days(1));
  EXPECT_EQ(crl_serials(fresh_crl(*ca).get()), std::set<std::string>{long_lived.serial_hex});

  // The file sheds the entry at its next rewrite.
  IssuedCertificate third = issue(*ca, "third");
  ASSERT_TRUE(ca->revoke(third.serial_hex, RevocationReason::kUnspecified, third.not_after));
  std::string recorded = read_text(dir_ / "revocations.txt");
  EXPECT_EQ(recorded.find(short_lived.serial_hex), std::string::npos);
  EXPECT_NE(recorded.find(long_lived.serial_hex), std::string::npos);

  // Revoking an already expired certificate records nothing.
  ASSERT_TRUE(
      ca->revoke(short_lived.serial_hex, RevocationReason::kUnspecified, short_lived.not_after));
  EXPECT_EQ(read_text(dir_ / "revocations.txt"), recorded);
}

TEST_F(CertificateAuthorityTest, RevocationWithoutExpiryLastsTheMaximumLifetime) {
  CaOptions o = options();
  o.max_certificate_days = 10;
  auto ca = open_ca(std::move(o));
  ASSERT_TRUE(ca->revoke("0abc", RevocationReason::kUnspecified));
  advance(days(10));
  EXPECT_EQ(crl_serials(fresh_crl(*ca).get()), std::set<std::string>{"0abc"});
  advance(days(2));
  EXPECT_TRUE(crl_serials(fresh_crl(*ca).get()).empty());
}

TEST_F(CertificateAuthorityTest, CorruptRevocationListStopsTheCa) {
  {
    auto ca = open_ca();
    ASSERT_TRUE(ca->revoke("0abc", RevocationReason::kUnspecified));
  }
  for (std::string bad :
       {"0abc 1 2\n", "zz 1 2 0\n", "0abc 1 2 7\n", "0abc 1 2 0 9\n", "0abc x 2 0\n"}) {
    write_text(dir_ / "revocations.txt", bad);
    Error e = open_error();
    EXPECT_EQ(e.kind, ErrorKind::kUnavailable) << bad;
    EXPECT_NE(e.message.find("line 1"), std::string::npos) << e.message;
  }
  write_text(dir_ / "revocations.txt", "");
  write_text(dir_ / "crl_number", "twelve");
  EXPECT_EQ(open_error().kind, ErrorKind::kUnavailable);
}

TEST_F(CertificateAuthorityTest, WriteCrlRejectsBadValidity) {
  auto ca = open_ca();
  for (seconds validity : {seconds(0), seconds(-5)}) {
    Status st = ca->write_crl(crl_path(), validity);
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().kind, ErrorKind::kInvalidInput);
  }
  EXPECT_FALSE(fs::exists(crl_path()));
}

TEST_F(CertificateAuthorityTest, FailedCrlWriteKeepsTheOldFile) {
  auto ca = open_ca();
  // Renaming a file over a non-empty directory fails after the temporary
  // file was written and validated: it must be cleaned up.
  fs::create_directories(crl_path() / "keep");
  Status st = ca->write_crl(crl_path(), std::chrono::hours(1));
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().kind, ErrorKind::kInternal);
  EXPECT_NE(st.error().message.find("cannot rename"), std::string::npos) << st.error().message;
  EXPECT_TRUE(fs::is_directory(crl_path() / "keep"));
  EXPECT_TRUE(temp_files().empty());
  fs::remove_all(crl_path());

  Status missing_dir = ca->write_crl(root_ / "no-such-dir" / "crl.pem", std::chrono::hours(1));
  ASSERT_FALSE(missing_dir);
  EXPECT_NE(missing_dir.error().message.find("no-such-dir"), std::string::npos);

  fresh_crl(*ca);
  std::string good = read_text(crl_path());
  if (::geteuid() == 0) GTEST_SKIP() << "root ignores directory permissions";
  // The target's directory is read-only: no temporary file can be made.
  ASSERT_EQ(::chmod(root_.c_str(), 0500), 0);
  st = ca->write_crl(crl_path(), std::chrono::hours(1));
  ASSERT_EQ(::chmod(root_.c_str(), 0700), 0);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().kind, ErrorKind::kInternal);
  EXPECT_EQ(read_text(crl_path()), good);
}

TEST_F(CertificateAuthorityTest, CheckCrlSaysWhenToRefresh) {
  auto ca = open_ca();
  CrlCheck missing = ca->check_crl(crl_path(), std::chrono::hours(1));
  EXPECT_TRUE(missing.needs_refresh);
  EXPECT_NE(missing.reason.find("does not exist"), std::string::npos) << missing.reason;

  write_text(crl_path(), "garbage");
  EXPECT_TRUE(ca->check_crl(crl_path(), std::chrono::hours(1)).needs_refresh);

  ASSERT_TRUE(ca->write_crl(crl_path(), std::chrono::hours(2)));
  CrlCheck fresh = ca->check_crl(crl_path(), std::chrono::minutes(30));
  EXPECT_FALSE(fresh.needs_refresh) << fresh.reason;
  EXPECT_TRUE(fresh.reason.empty());
  ASSERT_TRUE(fresh.next_update);
  EXPECT_NEAR(static_cast<double>(unix_time(*fresh.next_update)), static_cast<double>(now() + 7200),
              5.0);

  CrlCheck within_margin = ca->check_crl(crl_path(), std::chrono::hours(3));
  EXPECT_TRUE(within_margin.needs_refresh);
  EXPECT_NE(within_margin.reason.find("expires at"), std::string::npos) << within_margin.reason;

  advance(std::chrono::hours(2) + seconds(1));
  EXPECT_TRUE(ca->check_crl(crl_path(), seconds(0)).needs_refresh);  // already expired
}

TEST_F(CertificateAuthorityTest, CheckCrlNoticesMissingRevocation) {
  auto ca = open_ca();
  ASSERT_TRUE(ca->write_crl(crl_path(), std::chrono::hours(24)));
  // As after a crash between revoke() and write_crl().
  ASSERT_TRUE(ca->revoke("0abc", RevocationReason::kUnspecified));
  CrlCheck stale = ca->check_crl(crl_path(), std::chrono::hours(1));
  EXPECT_TRUE(stale.needs_refresh);
  EXPECT_NE(stale.reason.find("lacks"), std::string::npos) << stale.reason;
  ASSERT_TRUE(ca->write_crl(crl_path(), std::chrono::hours(24)));
  EXPECT_FALSE(ca->check_crl(crl_path(), std::chrono::hours(1)).needs_refresh);
}

TEST_F(CertificateAuthorityTest, CheckCrlRejectsAnotherCasCrl) {
  auto ca = open_ca();
  auto other = CertificateAuthority::open(root_ / "other", options());
  ASSERT_TRUE(other);
  ASSERT_TRUE((*other)->write_crl(crl_path(), std::chrono::hours(24)));
  CrlCheck check = ca->check_crl(crl_path(), std::chrono::hours(1));
  EXPECT_TRUE(check.needs_refresh);
  EXPECT_NE(check.reason.find("not signed by this CA"), std::string::npos) << check.reason;
}

// ---------------------------------------------------------------------------
// The broker's server certificate.

ServerCertificateRequest server_request(const fs::path& dir) {
  ServerCertificateRequest r;
  r.certificate_path = dir / "server.crt";
  r.key_path = dir / "server.key";
  r.dns_names = {"localhost", "iot.example.com"};
  r.ip_addresses = {"127.0.0.1", "::1"};
  return r;
}

TEST_F(CertificateAuthorityTest, IssuesServerCertificate) {
  auto ca = open_ca();
  ServerCertificateRequest request = server_request(root_);
  auto written = ca->ensure_server_certificate(request);
  ASSERT_TRUE(written) << written.error().message;
  EXPECT_TRUE(*written);
  EXPECT_EQ(file_mode(request.key_path), 0600u);

  X509Ptr cert = parse_cert(read_text(request.certificate_path));
  PkeyPtr key = parse_key(read_text(request.key_path));
  ASSERT_TRUE(cert && key);
  EXPECT_EQ(X509_check_private_key(cert.get(), key.get()), 1);
  EXPECT_EQ(common_name(cert.get()), "localhost");
  EXPECT_EQ(X509_get_extended_key_usage(cert.get()), static_cast<uint32_t>(XKU_SSL_SERVER));
  EXPECT_EQ(X509_check_ca(cert.get()), 0);
  EXPECT_EQ(X509_check_host(cert.get(), "localhost", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_host(cert.get(), "IOT.example.com", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_host(cert.get(), "other.example.com", 0, 0, nullptr), 0);
  EXPECT_EQ(X509_check_ip_asc(cert.get(), "127.0.0.1", 0), 1);
  EXPECT_EQ(X509_check_ip_asc(cert.get(), "::1", 0), 1);
  EXPECT_EQ(X509_check_ip_asc(cert.get(), "10.0.0.1", 0), 0);
  GenNamesPtr san(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert.get(), NID_subject_alt_name, nullptr, nullptr)));
  EXPECT_EQ(sk_GENERAL_NAME_num(san.get()), 4);
  EXPECT_EQ(verify_now(cert.get(), *ca, nullptr, X509_PURPOSE_SSL_SERVER), X509_V_OK);
  EXPECT_NEAR(static_cast<double>(unix_time(X509_get0_notAfter(cert.get())) - now()), 365 * 86400.0,
              5.0);
}

TEST_F(CertificateAuthorityTest, ServerCertificateIsReissuedOnlyWhenNeeded) {
  auto ca = open_ca();
  ServerCertificateRequest request = server_request(root_);
  ASSERT_TRUE(ca->ensure_server_certificate(request));
  std::string cert_pem = read_text(request.certificate_path);

  // Same names in another order and case: nothing to do.
  ServerCertificateRequest same = request;
  same.dns_names = {"IOT.EXAMPLE.COM", "localhost", "localhost"};
  same.ip_addresses = {"::1", "127.0.0.1"};
  auto again = ca->ensure_server_certificate(same);
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_FALSE(*again);
  EXPECT_EQ(read_text(request.certificate_path), cert_pem);

  auto expect_reissued = [&](const ServerCertificateRequest& r, const char* why) {
    auto written = ca->ensure_server_certificate(r);
    ASSERT_TRUE(written) << why << ": " << written.error().message;
    EXPECT_TRUE(*written) << why;
    EXPECT_NE(read_text(r.certificate_path), cert_pem) << why;
    EXPECT_EQ(file_mode(r.key_path), 0600u) << why;
    cert_pem = read_text(r.certificate_path);
  };
  ServerCertificateRequest more = request;
  more.ip_addresses.push_back("192.168.1.10");
  expect_reissued(more, "SAN added");
  expect_reissued(request, "SAN removed");

  fs::remove(request.key_path);
  expect_reissued(request, "key missing");
  ASSERT_EQ(::chmod(request.key_path.c_str(), 0644), 0);
  expect_reissued(request, "key readable by others");
  write_text(request.certificate_path, "garbage");
  expect_reissued(request, "certificate garbage");

  auto other = CertificateAuthority::open(root_ / "other", options());
  ASSERT_TRUE(other);
  ASSERT_TRUE((*other)->ensure_server_certificate(request));
  expect_reissued(request, "issued by another CA");

  advance(days(365 - 40));
  auto not_yet = ca->ensure_server_certificate(request);
  ASSERT_TRUE(not_yet);
  EXPECT_FALSE(*not_yet);
  advance(days(15));
  expect_reissued(request, "expires within 30 days");
  EXPECT_TRUE(temp_files().empty());
}

TEST_F(CertificateAuthorityTest, ServerCertificateWithRsaKey) {
  auto ca = open_ca();
  ServerCertificateRequest request = server_request(root_);
  request.key_type = KeyType::kRsa2048;
  ASSERT_TRUE(ca->ensure_server_certificate(request));
  X509Ptr cert = parse_cert(read_text(request.certificate_path));
  EXPECT_EQ(X509_get_key_usage(cert.get()),
            static_cast<uint32_t>(KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT));
  EXPECT_TRUE(EVP_PKEY_is_a(X509_get0_pubkey(cert.get()), "RSA"));
}

TEST_F(CertificateAuthorityTest, ServerCertificateRejectsBadRequests) {
  auto ca = open_ca();
  auto expect_invalid = [&](ServerCertificateRequest r, std::string_view what) {
    auto written = ca->ensure_server_certificate(r);
    ASSERT_FALSE(written) << what;
    EXPECT_EQ(written.error().kind, ErrorKind::kInvalidInput) << what;
    EXPECT_NE(written.error().message.find(what), std::string::npos) << written.error().message;
  };
  ServerCertificateRequest r = server_request(root_);
  r.dns_names.clear();
  r.ip_addresses.clear();
  expect_invalid(r, "at least one");
  for (std::string dns :
       std::vector<std::string>{"", "bad name", "a,DNS:evil.example", "-x.example", "x..example",
                                "*.example.com", std::string(64, 'a') + ".com", "x/y"}) {
    r = server_request(root_);
    r.dns_names = {dns};
    expect_invalid(r, "DNS name");
  }
  for (std::string ip : std::vector<std::string>{"", "999.1.1.1", "1.2.3", "localhost", "::g"}) {
    r = server_request(root_);
    r.ip_addresses = {ip};
    expect_invalid(r, "IP address");
  }
  r = server_request(root_);
  r.lifetime_days = 0;
  expect_invalid(r, "lifetime");
  r.lifetime_days = 20;  // shorter than the 30-day renewal window: would reissue forever
  expect_invalid(r, "renewal window");
  EXPECT_FALSE(fs::exists(r.certificate_path));
  EXPECT_FALSE(fs::exists(r.key_path));
}

TEST_F(CertificateAuthorityTest, ServerCertificateForAddressOnly) {
  auto ca = open_ca();
  ServerCertificateRequest r = server_request(root_);
  r.dns_names.clear();
  r.ip_addresses = {"10.1.2.3"};
  ASSERT_TRUE(ca->ensure_server_certificate(r));
  X509Ptr cert = parse_cert(read_text(r.certificate_path));
  EXPECT_EQ(common_name(cert.get()), "10.1.2.3");
  EXPECT_EQ(X509_check_ip_asc(cert.get(), "10.1.2.3", 0), 1);
}

// ---------------------------------------------------------------------------
// Concurrency and interoperability.

TEST_F(CertificateAuthorityTest, ConcurrentUseIsSafe) {
  auto ca = open_ca();
  constexpr int kThreads = 4;
  constexpr int kEach = 6;
  std::vector<std::vector<IssuedCertificate>> issued(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        auto cert =
            ca->issue_device_certificate("thing-" + std::to_string(t) + "-" + std::to_string(i));
        if (!cert) continue;
        if (i % 2 == 0) {
          (void)ca->revoke(cert->serial_hex, RevocationReason::kCessationOfOperation,
                           cert->not_after);
          (void)ca->write_crl(crl_path(), std::chrono::hours(1));
        }
        (void)ca->check_crl(crl_path(), std::chrono::minutes(1));
        issued[t].push_back(std::move(*cert));
      }
    });
  }
  for (auto& thread : threads)
    thread.join();

  ASSERT_TRUE(ca->write_crl(crl_path(), std::chrono::hours(1)));
  CrlPtr crl = parse_crl(read_text(crl_path()));
  std::set<std::string> serials;
  for (int t = 0; t < kThreads; ++t) {
    ASSERT_EQ(issued[t].size(), static_cast<std::size_t>(kEach));
    for (int i = 0; i < kEach; ++i) {
      serials.insert(issued[t][i].serial_hex);
      X509Ptr cert = parse_cert(issued[t][i].certificate_pem);
      EXPECT_EQ(verify_now(cert.get(), *ca, crl.get()),
                i % 2 == 0 ? X509_V_ERR_CERT_REVOKED : X509_V_OK);
    }
  }
  EXPECT_EQ(serials.size(), static_cast<std::size_t>(kThreads * kEach));
  EXPECT_EQ(crl_serials(crl.get()).size(), static_cast<std::size_t>(kThreads * kEach / 2));
  EXPECT_EQ(crl_number(crl.get()), static_cast<std::uint64_t>(kThreads * kEach / 2 + 1));
  EXPECT_TRUE(temp_files().empty());
}

TEST_F(CertificateAuthorityTest, OpensslCommandLineAgrees) {
  if (!has_openssl_cli()) GTEST_SKIP() << "openssl command not installed";
  auto ca = open_ca();
  IssuedCertificate good = issue(*ca, "good");
  IssuedCertificate bad = issue(*ca, "bad", KeyType::kRsa2048);
  PkeyPtr csr_key = keygen("EC", "P-256");
  auto from_csr = ca->sign_device_csr(make_csr(csr_key.get()), "csr-thing");
  ASSERT_TRUE(from_csr);
  ASSERT_TRUE(ca->revoke(bad.serial_hex, RevocationReason::kKeyCompromise, bad.not_after));
  ASSERT_TRUE(ca->write_crl(crl_path(), std::chrono::hours(1)));
  write_text(root_ / "good.crt", good.certificate_pem);
  write_text(root_ / "bad.crt", bad.certificate_pem);
  write_text(root_ / "csr.crt", from_csr->certificate_pem);
  ServerCertificateRequest server = server_request(root_);
  ASSERT_TRUE(ca->ensure_server_certificate(server));

  std::string verify = "openssl verify -CAfile '" + ca->ca_certificate_path().string() +
                       "' -crl_check -CRLfile '" + crl_path().string() + "' ";
  EXPECT_EQ(run(verify + "-purpose sslclient '" + (root_ / "good.crt").string() + "'"), 0);
  EXPECT_EQ(run(verify + "-purpose sslclient '" + (root_ / "csr.crt").string() + "'"), 0);
  EXPECT_NE(run(verify + "'" + (root_ / "bad.crt").string() + "'"), 0);
  EXPECT_EQ(run(verify + "-purpose sslserver '" + server.certificate_path.string() + "'"), 0);
  EXPECT_EQ(run("openssl crl -noout -CAfile '" + ca->ca_certificate_path().string() + "' -in '" +
                crl_path().string() + "'"),
            0);
  EXPECT_EQ(run("openssl pkey -noout -in '" + server.key_path.string() + "'"), 0);
}

}  // namespace
}  // namespace para::crypto
