'use strict';
// Runs wrk with a list of pre-signed requests (each signed once with
// bench/lib/para.js, valid 900 s) that the Lua script cycles through, and
// returns throughput and wrk's latency percentiles.
const { execFile } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { track } = require('./common');

function luaString(s) {
  // Long-bracket strings cannot hold everything; escape instead.
  return '"' + String(s).replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n').replace(/\r/g, '\\r') + '"';
}

// requests: [{method, path, headers, body}] as returned by Signer.sign.
function luaScript(requests) {
  const lines = ['local reqs = {}'];
  for (const r of requests) {
    const hdrs = Object.entries(r.headers).map(([k, v]) => `[${luaString(k)}]=${luaString(v)}`).join(',');
    lines.push(`reqs[#reqs+1] = wrk.format(${luaString(r.method)}, ${luaString(r.path)}, {${hdrs}}, ${r.body === undefined ? 'nil' : luaString(r.body)})`);
  }
  lines.push(`
local i = 0
local n = #reqs
function init(args)
  -- each wrk thread starts at a different offset
  i = math.random(0, n - 1)
end
function request()
  i = i % n + 1
  return reqs[i]
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('BENCHJSON {"requests":%d,"duration_us":%d,"bytes":%d,"err_connect":%d,"err_read":%d,"err_write":%d,"err_status":%d,"err_timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f}\\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
`);
  return lines.join('\n');
}

// Runs wrk; resolves {rps, p50Ms, p90Ms, p99Ms, requests, errors, raw}.
function runWrk({ url, requests, connections, seconds, threads, scriptDir, timeoutSec = 10 }) {
  const script = path.join(scriptDir, `wrk-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}.lua`);
  fs.writeFileSync(script, luaScript(requests));
  const t = threads || Math.min(connections, 2);
  const args = ['-t', String(t), '-c', String(connections), '-d', `${seconds}s`, '--timeout', `${timeoutSec}s`, '-s', script, url];
  return new Promise((resolve, reject) => {
    track(execFile('wrk', args, { maxBuffer: 16 << 20, timeout: (seconds + 60) * 1000 }, (error, stdout, stderr) => {
      fs.rmSync(script, { force: true });
      const m = String(stdout).match(/BENCHJSON (\{.*\})/);
      if (error || !m) {
        reject(new Error(`wrk failed: ${error ? error.message : 'no result'}\n${stdout}\n${stderr}`));
        return;
      }
      const j = JSON.parse(m[1]);
      const secs = j.duration_us / 1e6;
      const errors = j.err_connect + j.err_read + j.err_write + j.err_status + j.err_timeout;
      resolve({
        rps: j.requests / secs,
        p50Ms: j.p50_us / 1000,
        p90Ms: j.p90_us / 1000,
        p99Ms: j.p99_us / 1000,
        maxMs: j.max_us / 1000,
        requests: j.requests,
        errors,
        raw: j,
      });
    }));
  });
}

module.exports = { runWrk, luaScript };
