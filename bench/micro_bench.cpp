// Micro-benchmarks of para-cpp's pure code, each beside a baseline measured in
// the same binary and the same run, so the figure of merit is the ratio:
//
//   Json_ParaParse/ObjectText        vs Baseline_BoostJsonParse/ObjectText
//   Json_ParaSerialize/ObjectValue   vs Baseline_BoostJsonSerialize/ObjectValue
//   Json_ParaObjectRoundTrip         vs Baseline_BoostJsonParse/ObjectText
//   SigV4_Verify                     vs Baseline_HmacSha256
//   Shadow_ApplyUpdate               vs Baseline_ParseJson/ShadowPayload
//   Query_Parse/<name>               vs Baseline_BoostJsonParse/QueryText<name>
//   Ca_IssueEcDeviceCert, Ca_SignCsr vs Baseline_OpenSslKeyGen/EcP256
//   (Baseline_OpenSslKeyGen/EcP256 and /Rsa2048 are also the baselines of the
//    Thing creation rates in bench/bench.js)
//
// bench/bench.js pairs them (table in bench/RESULTS.md). Names are part of
// that contract: rename both sides together.
#include <benchmark/benchmark.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <unistd.h>
#include <boost/json.hpp>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "core/json.h"
#include "core/para_object.h"
#include "crypto/certificate_authority.h"
#include "crypto/digest.h"
#include "crypto/sigv4.h"
#include "iot/shadow.h"
#include "search/query.h"

namespace {

// A typical client object: common fields, tags, custom properties of each
// JSON kind (about 450 bytes, what a Para client POSTs and GETs).
constexpr std::string_view kObjectText =
    R"({"id":"2037723982160990208","timestamp":1795915841120,"type":"sensor","appid":"para",)"
    R"("updated":1795915841125,"name":"abc hello world","tags":["kitchen","floor-2","temp"],)"
    R"("votes":3,"version":7,"stored":true,"indexed":true,"cached":true,"color":"red",)"
    R"("reading":21.375,"count":12345678901,"online":true,"owner":null,)"
    R"("location":{"lat":47.3769,"lng":8.5417,"label":"Zürich HB"},)"
    R"("history":[20.5,20.75,21.0,21.25,21.375],"notes":"A typical object with a few custom fields."})";

// A shadow update as a device sends it (reported state, clientToken).
constexpr std::string_view kShadowPayload =
    R"({"state":{"reported":{"temp":21.5,"humidity":40,"fw":"1.2.3","led":{"on":true,"rgb":[255,128,0]}}},)"
    R"("clientToken":"para-2037723982223904768-17"})";

const para::json::value& object_value() {
  static const para::json::value v = boost::json::parse(kObjectText);
  return v;
}

// ------------------------------------------------------------------ JSON ---

void Baseline_BoostJsonParse_ObjectText(benchmark::State& state) {
  for (auto _ : state) {
    auto v = boost::json::parse(kObjectText);
    benchmark::DoNotOptimize(v);
  }
  state.SetBytesProcessed(state.iterations() * kObjectText.size());
}
BENCHMARK(Baseline_BoostJsonParse_ObjectText);

void Json_ParaParse_ObjectText(benchmark::State& state) {
  for (auto _ : state) {
    auto v = para::parse_json(kObjectText);
    if (!v) state.SkipWithError("parse_json failed");
    benchmark::DoNotOptimize(v);
  }
  state.SetBytesProcessed(state.iterations() * kObjectText.size());
}
BENCHMARK(Json_ParaParse_ObjectText);

void Baseline_BoostJsonSerialize_ObjectValue(benchmark::State& state) {
  const auto& v = object_value();
  for (auto _ : state) {
    auto s = boost::json::serialize(v);
    benchmark::DoNotOptimize(s);
  }
}
BENCHMARK(Baseline_BoostJsonSerialize_ObjectValue);

void Json_ParaSerialize_ObjectValue(benchmark::State& state) {
  const auto& v = object_value();
  for (auto _ : state) {
    auto s = para::to_json(v);
    benchmark::DoNotOptimize(s);
  }
}
BENCHMARK(Json_ParaSerialize_ObjectValue);

// What a POST/GET costs in pure code: body text -> ParaObject -> client JSON.
void Json_ParaObjectRoundTrip(benchmark::State& state) {
  for (auto _ : state) {
    auto v = para::parse_json(kObjectText);
    if (!v || !v->is_object()) {
      state.SkipWithError("parse_json failed");
      break;
    }
    auto o = para::object_from_json(v->get_object(), "sensor");
    if (!o) {
      state.SkipWithError("object_from_json failed");
      break;
    }
    auto out = para::to_client_json(*o);
    benchmark::DoNotOptimize(out);
  }
}
BENCHMARK(Json_ParaObjectRoundTrip);

// ----------------------------------------------------------------- SigV4 ---

void Baseline_HmacSha256(benchmark::State& state) {
  const std::string key(32, 'k');
  const std::string data =
      "AWS4-HMAC-SHA256\n20261129T013002Z\n20261129/us-east-1/para/aws4_request\n"
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
  for (auto _ : state) {
    auto mac = para::crypto::hmac_sha256(key, data);
    benchmark::DoNotOptimize(mac);
  }
}
BENCHMARK(Baseline_HmacSha256);

struct SignedRequest {
  std::string method = "POST";
  std::string raw_path = "/v1/sensor/2037723982160990208";
  std::vector<std::pair<std::string, std::string>> query = {{"select", "name,tags"}};
  std::string host = "127.0.0.1:8080";
  std::string amz_date = "20261129T013002Z";
  std::string content_type = "application/json; charset=UTF-8";
  std::string body = std::string(kObjectText);
  std::string secret = "bench-root-secret-0123456789abcdefghijklmnopqrstuv";
  std::string authorization;
};

// What api/auth.cpp does for a SigV4 request, given the app's secret (the
// app lookup is a cache hit and not part of this): parse the header,
// canonicalise, hash the body, get the signing key (from `keys`, as the
// server does, or derived anew without it), sign, compare.
bool verify(const SignedRequest& r, para::crypto::SigningKeyCache* keys) {
  auto auth = para::crypto::parse_authorization(r.authorization);
  if (!auth) return false;
  para::crypto::CanonicalRequest canonical;
  canonical.method = r.method;
  canonical.uri = para::crypto::canonical_uri(r.raw_path);
  canonical.query = r.query;
  for (const auto& name : auth->signed_headers) {
    if (name == "content-type") canonical.headers.emplace_back(name, r.content_type);
    if (name == "content-length")
      canonical.headers.emplace_back(name, std::to_string(r.body.size()));
  }
  canonical.headers.emplace_back("host", r.host);
  canonical.headers.emplace_back("x-amz-date", r.amz_date);
  canonical.payload_hash = para::crypto::sha256_hex(r.body);
  para::crypto::Scope scope{r.amz_date.substr(0, 8), "us-east-1", "para"};
  auto text = para::crypto::canonicalize(canonical).text;
  const std::string key =
      keys ? keys->key("para", r.secret, scope) : para::crypto::signing_key(r.secret, scope);
  auto expected =
      para::crypto::signature(key, para::crypto::string_to_sign(r.amz_date, scope, text));
  return CRYPTO_memcmp(expected.data(), auth->signature.data(),
                       std::min(expected.size(), auth->signature.size())) == 0 &&
         expected.size() == auth->signature.size();
}

// Arg 0: the signing key from the cache, as the server verifies; 1: derived
// for every request (four more HMACs).
void SigV4_Verify(benchmark::State& state) {
  para::crypto::SigningKeyCache cache;
  para::crypto::SigningKeyCache* keys = state.range(0) == 0 ? &cache : nullptr;
  SignedRequest r;
  para::crypto::CanonicalRequest c;
  c.method = r.method;
  c.uri = para::crypto::canonical_uri(r.raw_path);
  c.query = r.query;
  c.headers = {{"content-type", r.content_type},
               {"content-length", std::to_string(r.body.size())},
               {"host", r.host},
               {"x-amz-date", r.amz_date}};
  c.payload_hash = para::crypto::sha256_hex(r.body);
  r.authorization = para::crypto::authorization_header(
      c, "app:para", r.secret, r.amz_date, {r.amz_date.substr(0, 8), "us-east-1", "para"});
  if (!verify(r, keys)) {
    state.SkipWithError("signature does not verify");
    return;
  }
  for (auto _ : state) {
    bool ok = verify(r, keys);
    benchmark::DoNotOptimize(ok);
  }
}
BENCHMARK(SigV4_Verify)->Arg(0)->Arg(1);

// ---------------------------------------------------------------- shadow ---

void Baseline_ParseJson_ShadowPayload(benchmark::State& state) {
  for (auto _ : state) {
    auto v = para::parse_json(kShadowPayload);
    benchmark::DoNotOptimize(v);
  }
}
BENCHMARK(Baseline_ParseJson_ShadowPayload);

void Shadow_ApplyUpdate(benchmark::State& state) {
  // A shadow that already has desired and reported state, as in steady use.
  auto first = para::iot::apply_update(
      para::iot::Shadow{},
      R"({"state":{"desired":{"temp":22,"led":{"on":true,"rgb":[0,0,255]}},)"
      R"("reported":{"temp":20.5,"humidity":41,"fw":"1.2.2","led":{"on":false,"rgb":[0,0,0]}}}})",
      1795915841);
  if (!first) {
    state.SkipWithError("initial apply_update failed");
    return;
  }
  const para::iot::Shadow current = first->shadow;
  for (auto _ : state) {
    auto out = para::iot::apply_update(current, kShadowPayload, 1795915842);
    if (!out) state.SkipWithError("apply_update failed");
    benchmark::DoNotOptimize(out);
  }
}
BENCHMARK(Shadow_ApplyUpdate);

// ----------------------------------------------------------------- query ---

// Typical q strings: a field term, a prefix, a boolean with a range.
constexpr std::string_view kQueries[] = {
    "name:hello",
    "name:ab* AND tags:kitchen",
    R"((tags:kitchen OR tags:"floor 2") AND -type:user AND votes:[1 TO 10] AND hello)",
};

std::string quoted(std::string_view q) {
  return boost::json::serialize(boost::json::value(boost::json::string(q)));
}

void Baseline_BoostJsonParse_QueryText(benchmark::State& state) {
  const std::string text = quoted(kQueries[state.range(0)]);
  for (auto _ : state) {
    auto v = boost::json::parse(text);
    benchmark::DoNotOptimize(v);
  }
}
BENCHMARK(Baseline_BoostJsonParse_QueryText)->DenseRange(0, 2);

void Query_Parse(benchmark::State& state) {
  const std::string_view q = kQueries[state.range(0)];
  for (auto _ : state) {
    auto parsed = para::search::parse_query(q);
    if (!parsed) state.SkipWithError("parse_query failed");
    benchmark::DoNotOptimize(parsed);
  }
}
BENCHMARK(Query_Parse)->DenseRange(0, 2);

// ------------------------------------------------- key generation and CA ---

void Baseline_OpenSslKeyGen(benchmark::State& state) {
  for (auto _ : state) {
    EVP_PKEY* key = state.range(0) == 0 ? EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256")
                                        : EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048});
    if (!key) state.SkipWithError("EVP_PKEY_Q_keygen failed");
    EVP_PKEY_free(key);
  }
}
// 0: EC P-256, 1: RSA-2048. RSA key generation time varies widely (random
// prime search), so it gets enough time for a stable mean.
BENCHMARK(Baseline_OpenSslKeyGen)->Arg(0)->Unit(benchmark::kMicrosecond);
BENCHMARK(Baseline_OpenSslKeyGen)->Arg(1)->MinTime(3.0)->Unit(benchmark::kMicrosecond);

class CaFixture {
 public:
  CaFixture() {
    char tmpl[] = "/tmp/para-bench-ca-XXXXXX";
    if (!mkdtemp(tmpl)) return;
    dir_ = tmpl;
    auto ca = para::crypto::CertificateAuthority::open(dir_ / "ca");
    if (ca) ca_ = std::move(*ca);
  }
  ~CaFixture() {
    ca_.reset();
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }
  para::crypto::CertificateAuthority* get() { return ca_.get(); }

 private:
  std::filesystem::path dir_;
  std::unique_ptr<para::crypto::CertificateAuthority> ca_;
};

void Ca_IssueEcDeviceCert(benchmark::State& state) {
  CaFixture ca;
  if (!ca.get()) {
    state.SkipWithError("cannot open a CA");
    return;
  }
  for (auto _ : state) {
    auto cert = ca.get()->issue_device_certificate("bench-device-1");
    if (!cert) state.SkipWithError("issue_device_certificate failed");
    benchmark::DoNotOptimize(cert);
  }
}
BENCHMARK(Ca_IssueEcDeviceCert)->Unit(benchmark::kMicrosecond);

std::string make_csr() {
  std::string pem;
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  X509_REQ* req = X509_REQ_new();
  X509_NAME* name = X509_NAME_new();
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("device"), -1, -1, 0);
  if (key && req && name && X509_REQ_set_subject_name(req, name) == 1 &&
      X509_REQ_set_pubkey(req, key) == 1 && X509_REQ_sign(req, key, EVP_sha256()) > 0) {
    BIO* bio = BIO_new(BIO_s_mem());
    if (PEM_write_bio_X509_REQ(bio, req) == 1) {
      char* data = nullptr;
      long n = BIO_get_mem_data(bio, &data);
      pem.assign(data, static_cast<std::size_t>(n));
    }
    BIO_free(bio);
  }
  X509_NAME_free(name);
  X509_REQ_free(req);
  EVP_PKEY_free(key);
  return pem;
}

void Ca_SignCsr(benchmark::State& state) {
  CaFixture ca;
  const std::string csr = make_csr();
  if (!ca.get() || csr.empty()) {
    state.SkipWithError("cannot open a CA or make a CSR");
    return;
  }
  for (auto _ : state) {
    auto cert = ca.get()->sign_device_csr(csr, "bench-device-1");
    if (!cert) state.SkipWithError("sign_device_csr failed");
    benchmark::DoNotOptimize(cert);
  }
}
BENCHMARK(Ca_SignCsr)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
