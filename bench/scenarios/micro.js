'use strict';
// Scenario 6: Google Benchmark micro-benchmarks (bench/micro_bench.cpp), each
// paired with its in-binary baseline. Ratio = baseline time / time (= ops/s
// relative to the baseline's ops/s; 0.1 means 10x the baseline's cost).
const fs = require('node:fs');
const path = require('node:path');
const { run: exec, log } = require('../lib/common');

const SECTION = 'Micro';

const PAIRS = [
  ['Json_ParaParse_ObjectText', 'Baseline_BoostJsonParse_ObjectText', 'para::parse_json of a 480-byte object'],
  ['Json_ParaSerialize_ObjectValue', 'Baseline_BoostJsonSerialize_ObjectValue', 'para::to_json of the same value'],
  ['Json_ParaObjectRoundTrip', 'Baseline_BoostJsonParse_ObjectText', 'parse_json + object_from_json + to_client_json'],
  ['SigV4_Verify/0', 'Baseline_HmacSha256', 'parse header, canonicalise, hash body, signing key from the cache (as the server does), sign, compare'],
  ['SigV4_Verify/1', 'Baseline_HmacSha256', 'the same, deriving the signing key anew (four more HMACs)'],
  ['Shadow_ApplyUpdate', 'Baseline_ParseJson_ShadowPayload', 'iot::apply_update of a 130-byte reported update'],
  ['Query_Parse/0', 'Baseline_BoostJsonParse_QueryText/0', 'q=`name:hello`'],
  ['Query_Parse/1', 'Baseline_BoostJsonParse_QueryText/1', 'q=`name:ab* AND tags:kitchen`'],
  ['Query_Parse/2', 'Baseline_BoostJsonParse_QueryText/2', 'q=`(tags:kitchen OR tags:"floor 2") AND -type:user AND votes:[1 TO 10] AND hello`'],
  ['Ca_IssueEcDeviceCert', 'Baseline_OpenSslKeyGen/0', 'CertificateAuthority::issue_device_certificate (EC key + certificate)'],
  ['Ca_SignCsr', 'Baseline_OpenSslKeyGen/0', 'CertificateAuthority::sign_device_csr'],
  ['Baseline_OpenSslKeyGen/1', 'Baseline_OpenSslKeyGen/0', 'RSA-2048 vs EC P-256 key generation (OpenSSL only)'],
];

function fmtNs(ns) {
  if (ns >= 1e6) return `${(ns / 1e6).toFixed(2)} ms`;
  if (ns >= 1e3) return `${(ns / 1e3).toFixed(2)} us`;
  return `${ns.toFixed(0)} ns`;
}

async function run(ctx) {
  const bin = ctx.microBench;
  if (!fs.existsSync(bin)) {
    ctx.fail(SECTION, 'para_micro_bench', new Error(`${bin} not built (libbenchmark-dev missing?)`));
    return;
  }
  const out = path.join(ctx.tmp, 'micro.json');
  const r = await exec(bin, [`--benchmark_min_time=${ctx.cfg.microMinTime}`, '--benchmark_format=console', `--benchmark_out=${out}`, '--benchmark_out_format=json'],
    { timeoutMs: 600000 });
  if (r.code !== 0) throw new Error(`para_micro_bench failed (${r.code}): ${r.stderr.slice(-2000)}`);
  const json = JSON.parse(fs.readFileSync(out, 'utf8'));
  const byName = {};
  for (const b of json.benchmarks) {
    if (b.error_occurred) {
      ctx.fail(SECTION, b.name, new Error(b.error_message));
      continue;
    }
    const mult = { ns: 1, us: 1e3, ms: 1e6, s: 1e9 }[b.time_unit];
    // Benchmarks with their own MinTime carry a "/min_time:3.000" suffix.
    byName[b.name.replace(/\/min_time:[\d.]+$/, '')] = b.real_time * mult;
  }
  ctx.facts.micro = json.context;
  ctx.facts.keygen = { ec: byName['Baseline_OpenSslKeyGen/0'] / 1e3, rsa: byName['Baseline_OpenSslKeyGen/1'] / 1e3 };
  for (const [name, base, what] of PAIRS) {
    if (byName[name] === undefined || byName[base] === undefined) {
      ctx.fail(SECTION, name, new Error('missing benchmark result'));
      continue;
    }
    ctx.row(SECTION, {
      scenario: name,
      config: what,
      rps: 1e9 / byName[name],
      timePerOp: fmtNs(byName[name]),
      ratio: byName[base] / byName[name],
      baseline: `${base} (${fmtNs(byName[base])})`,
    });
  }
  log(`micro: ${json.benchmarks.length} benchmarks`);
}

module.exports = { run };
