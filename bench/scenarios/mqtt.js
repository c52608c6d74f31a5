'use strict';
// Scenario 3 (issue 4), on one para-server with the built-in broker:
//  a) shadow update round trip (device publishes .../shadow/update, waits
//     for .../update/accepted) against the raw round trip through a second,
//     stock Mosquitto started from para-server's own generated configuration
//     (same binary, TLS files, CA, CRL and device ACL, same topics and
//     payloads) where a trivial libmosquitto echo client answers instead of
//     para-server: QoS 0 and 1, latency (1 device x 1 outstanding) and
//     throughput (several devices x outstanding window) configurations.
//  b) PATCH deviceState -> update/delta received by a subscribed device,
//     at a steady (open-loop) rate.
//  c) Thing creation rate for EC, RSA and CSR mode, beside the raw key
//     generation rate of OpenSSL on this machine.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const net = require('node:net');
const { Server, ROOT_SECRET, cpuSeconds, freePort, sleep, tempDir } = require('../lib/server');
const { Para, pool } = require('../lib/para');
const { createThings, writeDeviceFiles, connectDevice, endAll } = require('../lib/devices');
const { spawnTracked, run: exec, log } = require('../lib/common');

const SECTION = 'MQTT';

function portOpen(port) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

// A stock mosquitto with para-server's generated config (ports and the
// service password replaced), plus the echo responder on its service listener.
async function startEchoBroker(ctx, server) {
  const brokerDir = path.join(server.dataDir, 'iot', 'broker');
  const conf = fs.readFileSync(path.join(brokerDir, 'mosquitto.conf'), 'utf8');
  const user = (fs.readFileSync(path.join(brokerDir, 'acl_service'), 'utf8').match(/^user\s+(\S+)/m) || [])[1];
  if (!user) throw new Error('cannot find the service user in acl_service');
  const dir = tempDir('para-echo-broker-');
  const devPort = await freePort();
  const svcPort = await freePort();
  let listeners = 0;
  const out = conf.split('\n').map((line) => {
    const m = line.match(/^listener\s+\d+(\s+.*)?$/);
    if (m) return `listener ${++listeners === 1 ? devPort : svcPort}${m[1] || ''}`;
    if (/^password_file\s/.test(line)) return `password_file ${path.join(dir, 'passwd')}`;
    if (/^(pid_file|persistence_location|persistence_file)\s/.test(line)) return '';
    return line;
  }).join('\n');
  if (listeners !== 2) throw new Error(`expected 2 listeners in para-server's mosquitto.conf, found ${listeners}`);
  const password = 'echo-' + Math.random().toString(36).slice(2);
  const pw = await exec('mosquitto_passwd', ['-c', '-b', path.join(dir, 'passwd'), user, password]);
  if (pw.code !== 0) throw new Error('mosquitto_passwd failed: ' + pw.stderr);
  fs.writeFileSync(path.join(dir, 'mosquitto.conf'), out);
  const mosqBin = process.env.PARA_BENCH_MOSQUITTO || '/usr/sbin/mosquitto';
  const broker = spawnTracked(mosqBin, ['-c', path.join(dir, 'mosquitto.conf')]);
  let brokerLog = '';
  broker.stderr.on('data', (d) => { brokerLog = (brokerLog + d).slice(-4000); });
  for (let i = 0; i < 250 && !(await portOpen(svcPort)); ++i) await sleep(20);
  if (broker.exitCode !== null) throw new Error('echo mosquitto exited: ' + brokerLog);
  const echo = spawnTracked(ctx.mqttBench, ['echo', '--port', String(svcPort), '--user', user, '--password', password]);
  await new Promise((resolve, reject) => {
    let outText = '';
    const timer = setTimeout(() => reject(new Error('echo responder not ready: ' + outText + brokerLog)), 20000);
    echo.stdout.on('data', (d) => {
      outText += d;
      if (outText.includes('ready')) { clearTimeout(timer); resolve(); }
    });
    echo.on('exit', (code) => { clearTimeout(timer); reject(new Error(`echo responder exited ${code}`)); });
  });
  return {
    devPort,
    brokerPid: broker.pid,
    async stop() {
      echo.kill('SIGTERM');
      broker.kill('SIGTERM');
      await sleep(100);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

// One run of the C++ load generator; resolves its JSON plus CPU per round trip.
async function rr(ctx, { port, files, devices, window, qos, pids }) {
  const list = path.join(path.dirname(files.list), `devices-${devices}.txt`);
  fs.writeFileSync(list, fs.readFileSync(files.list, 'utf8').split('\n').filter(Boolean).slice(0, devices).join('\n') + '\n');
  const cpu0 = pids.map((p) => cpuSeconds(p));
  const res = await exec(ctx.mqttBench, ['rr', '--port', String(port), '--cafile', files.ca, '--devices', list,
    '--window', String(window), '--qos', String(qos), '--warmup', String(ctx.cfg.mqttWarmup), '--seconds', String(ctx.cfg.mqttSeconds)],
  { timeoutMs: (ctx.cfg.mqttSeconds + ctx.cfg.mqttWarmup + 60) * 1000 });
  const cpu = pids.map((p, i) => cpuSeconds(p) - cpu0[i]);
  const line = res.stdout.trim().split('\n').pop();
  let j;
  try {
    j = JSON.parse(line);
  } catch (e) {
    throw new Error(`para_mqtt_bench rr failed (${res.code}): ${res.stdout} ${res.stderr}`);
  }
  j.cpuUsPerRt = cpu.map((c) => (j.completed_total ? (c * 1e6) / j.completed_total : 0));
  j.exitCode = res.code;
  return j;
}

function rrNote(j, names) {
  const parts = names.map((n, i) => `${n} ${Math.round(j.cpuUsPerRt[i])} us CPU/rt`);
  if (j.rejected) parts.push(`${j.rejected} rejected`);
  if (j.timeouts) parts.push(`${j.timeouts} timed out`);
  return parts.join(', ');
}

// The run with the median rate of several (noise on a shared box hits single runs).
function median(runs) {
  const sorted = [...runs].sort((a, b) => a.rate - b.rate);
  const m = sorted[Math.floor((sorted.length - 1) / 2)];
  return { ...m, rates: runs.map((r) => Math.round(r.rate)), exitCode: Math.max(...runs.map((r) => r.exitCode)) };
}

function roundsNote(j) {
  return j.rates.length > 1 ? `; median of ${j.rates.length} interleaved rounds (${j.rates.join(', ')}/s)` : '';
}

async function shadowRoundTrips(ctx, server, files, echo, { onlyShadow = false, tag = 'full' } = {}) {
  const paraPids = [server.mosquittoPid(), server.pid];
  for (const { devices, window } of ctx.cfg.mqttConfigs) {
    for (const qos of [0, 1]) {
      const config = `QoS ${qos}, ${devices} dev x ${window} outstanding`;
      const key = `${qos}/${devices}x${window}`;
      try {
        // Echo and shadow runs alternate, so slow phases of the shared
        // machine hit both sides.
        const echoRuns = [];
        const shadowRuns = [];
        for (let round = 0; round < ctx.cfg.mqttRounds; ++round) {
          if (!onlyShadow) echoRuns.push(await rr(ctx, { port: echo.devPort, files, devices, window, qos, pids: [echo.brokerPid] }));
          shadowRuns.push(await rr(ctx, { port: server.iotPort, files, devices, window, qos, pids: paraPids }));
        }
        if (!onlyShadow) {
          const e = median(echoRuns);
          ctx.facts.echo[key] = e;
          ctx.row(SECTION, {
            scenario: 'raw echo through Mosquitto (baseline)', config, rps: e.rate, p50Ms: e.p50_us / 1000, p99Ms: e.p99_us / 1000, ratio: 1,
            baseline: 'itself', note: rrNote(e, ['broker']) + roundsNote(e), error: e.exitCode ? 'load generator reported errors' : undefined,
          });
          log(`mqtt echo ${config}: ${Math.round(e.rate)}/s p50 ${e.p50_us} us p99 ${e.p99_us} us (rounds ${e.rates.join(', ')})`);
        }
        const e = ctx.facts.echo[key];
        const s = median(shadowRuns);
        const ratio = e ? s.rate / e.rate : undefined;
        const goal = window > 1 && ratio !== undefined;
        if (goal) ctx.verdict(`MQTT shadow round trip QoS ${qos} [sync=${tag}] >= 0.7x raw echo`, ratio >= 0.7, `${ratio.toFixed(2)}x`);
        ctx.row(SECTION, {
          scenario: `shadow update -> update/accepted [sync=${tag}]`, config, rps: s.rate, p50Ms: s.p50_us / 1000, p99Ms: s.p99_us / 1000, ratio,
          baseline: `raw echo, ${config}`,
          note: rrNote(s, ['broker', 'para-server']) + roundsNote(s) + (goal ? `; issue 4 goal (>= 0.7x): ${ratio >= 0.7 ? 'met' : 'NOT met'}` : ''),
          error: s.exitCode ? 'load generator reported rejects/timeouts' : undefined,
        });
        log(`mqtt shadow ${config} [${tag}]: ${Math.round(s.rate)}/s p50 ${s.p50_us} us p99 ${s.p99_us} us (${ratio ? ratio.toFixed(2) : '-'}x; rounds ${s.rates.join(', ')})`);
      } catch (err) {
        ctx.fail(SECTION, `shadow round trip ${config} [sync=${tag}]`, err);
      }
    }
  }
}

function pct(sorted, p) {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.round((p / 100) * (sorted.length - 1)))];
}

// PATCH deviceState at a steady rate; each device reports when its delta arrives.
async function deltaLatency(ctx, server, para) {
  const k = ctx.cfg.deltaThings;
  const things = await createThings(para, k, { prefix: 'delta' });
  const sent = new Map();  // seq -> send time (ms, hrtime)
  const httpMs = [];
  const statuses = {};
  const got = new Set();
  let duplicates = 0;
  let inWindow = 0;
  const status = new Map();  // seq -> HTTP status, for PATCHes sent in the window
  const arrivedMs = new Map();  // seq -> delta latency, for PATCHes sent in the window
  const now = () => Number(process.hrtime.bigint()) / 1e6;
  const clients = await Promise.all(things.map((t) => connectDevice(t, server.iotPort, [`$aws/things/${t.thingName}/shadow/update/delta`])));
  const t0 = now();
  const warm = t0 + ctx.cfg.mqttWarmup * 1000;
  const end = warm + ctx.cfg.deltaSeconds * 1000;
  for (const c of clients) {
    c.on('message', (topic, payload) => {
      const t = now();
      let seq;
      try { seq = JSON.parse(payload.toString()).state.seq; } catch (e) { return; }
      const s = sent.get(seq);
      if (s === undefined) return;
      if (got.has(seq)) {
        duplicates++;
        return;
      }
      got.add(seq);
      if (s >= warm && s < end) arrivedMs.set(seq, t - s);
    });
  }
  const rate = ctx.cfg.deltaRate;
  let seq = 0;
  const inflight = new Set();
  const fire = () => {
    const n = seq++;
    const thing = things[n % k];
    const t = now();
    sent.set(n, t);
    if (t >= warm && t < end) inWindow++;
    const p = para.request('PATCH', `things/${thing.id}`, { entity: { deviceState: { seq: n } } })
      .then((res) => {
        const key = res.status === 200 ? '200' : `${res.status} ${res.text.slice(0, 100)}`;
        statuses[key] = (statuses[key] || 0) + 1;
        if (t >= warm && t < end) status.set(n, res.status);
        if (t >= warm && t < end) httpMs.push(now() - t);
      })
      .catch((e) => { statuses[e.code || 'error'] = (statuses[e.code || 'error'] || 0) + 1; })
      .finally(() => inflight.delete(p));
    inflight.add(p);
  };
  let next = t0;
  while (now() < end) {
    const t = now();
    while (next <= t) {
      fire();
      next += 1000 / rate;
    }
    await sleep(1);
  }
  await Promise.all(inflight);
  await sleep(2000);  // stragglers
  await endAll(clients);
  httpMs.sort((a, b) => a - b);
  const achieved = inWindow / ctx.cfg.deltaSeconds;
  const deltaMs = [];
  let okInWindow = 0;
  let lost = 0;  // deltas of accepted PATCHes that never arrived
  let appliedDespiteError = 0;  // deltas of PATCHes answered with an error
  for (const [n, st] of status) {
    if (st === 200) {
      okInWindow++;
      if (arrivedMs.has(n)) deltaMs.push(arrivedMs.get(n));
      else lost++;
    } else if (arrivedMs.has(n)) {
      appliedDespiteError++;
    }
  }
  deltaMs.sort((a, b) => a - b);
  const errors = Object.entries(statuses).filter(([st]) => st !== '200').reduce((a, [, n]) => a + n, 0);
  const non200 = Object.entries(statuses).filter(([s]) => s !== '200').map(([s, n]) => `${n}x ${s}`).join(', ');
  // Floor: one HTTP round trip to the constant endpoint plus one raw broker
  // round trip (QoS 1, 1x1), both from this run.
  const echo = ctx.facts.echo['1/1x1'];
  const httpBase = ctx.facts.httpBaseline1;
  const floor = echo && httpBase ? echo.p50_us / 1000 + httpBase : undefined;
  ctx.row(SECTION, {
    scenario: 'PATCH deviceState -> update/delta at device',
    config: `open loop ${rate}/s over ${k} things`,
    rps: achieved,
    p50Ms: pct(deltaMs, 50),
    p99Ms: pct(deltaMs, 99),
    ratio: floor ? floor / pct(deltaMs, 50) : undefined,
    baseline: floor ? `p50 floor ${floor.toFixed(2)} ms = GET /v1/ p50 @1 conn + raw echo p50 (QoS 1, 1x1)` : 'n/a',
    note: `${deltaMs.length} deltas received for ${okInWindow} accepted PATCHes in the window${lost ? ` (${lost} missing)` : ''}${duplicates ? `; ${duplicates} delivered twice` : ''}${appliedDespiteError ? `; ${appliedDespiteError} PATCHes answered with an error were applied anyway (their delta arrived)` : ''}; PATCH response p50 ${pct(httpMs, 50).toFixed(2)} ms p99 ${pct(httpMs, 99).toFixed(2)} ms${non200 ? `; non-200: ${non200}` : ''}`,
    error: lost > inWindow * 0.01 || errors > inWindow * 0.01 ? `${lost} deltas missing, non-200: ${non200 || 'none'}` : undefined,
  });
  if (lost || non200 || duplicates) {
    ctx.serverError(SECTION, 'PATCH deviceState -> delta', `${lost} of ${okInWindow} deltas of accepted PATCHes missing; ${duplicates} deltas delivered twice (same state, higher version); ` +
      `non-200 PATCH answers: ${non200 || 'none'}${appliedDespiteError ? `; ${appliedDespiteError} of those were applied anyway (their delta arrived)` : ''}`);
  }
  log(`mqtt delta: ${achieved.toFixed(0)}/s p50 ${pct(deltaMs, 50).toFixed(2)} ms p99 ${pct(deltaMs, 99).toFixed(2)} ms, missing ${lost}, statuses ${JSON.stringify(statuses)}`);
}

async function csrs(n) {
  const out = [];
  for (let i = 0; i < n; ++i) {
    const r = await exec('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', '/dev/null', '-subj', `/CN=bench-csr-${i}`]);
    if (r.code !== 0) throw new Error('openssl req failed: ' + r.stderr);
    out.push(r.stdout);
  }
  return out;
}

// Raw `openssl genpkey` rate with one process per core (includes process start).
async function opensslCliRate(args, n) {
  const cores = os.cpus().length;
  const t0 = Date.now();
  await pool(n, cores, async () => {
    const r = await exec('openssl', ['genpkey', ...args, '-out', '/dev/null']);
    if (r.code !== 0) throw new Error('openssl genpkey failed: ' + r.stderr);
  });
  return n / ((Date.now() - t0) / 1000);
}

async function creationRates(ctx, para) {
  const cores = os.cpus().length;
  const kg = ctx.facts.keygen || {};
  const cli = {
    EC: await opensslCliRate(['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'], ctx.cfg.createEc),
    RSA: await opensslCliRate(['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048'], ctx.cfg.createRsa),
  };
  const csrList = await csrs(ctx.cfg.csrDistinct);
  const modes = [
    { name: 'EC (P-256, default)', n: ctx.cfg.createEc, meta: undefined, base: kg.ec, cli: cli.EC, baseName: 'EC P-256' },
    { name: 'RSA-2048', n: ctx.cfg.createRsa, meta: { keyType: 'RSA' }, base: kg.rsa, cli: cli.RSA, baseName: 'RSA-2048' },
    { name: 'CSR (device keeps its EC key)', n: ctx.cfg.createCsr, meta: (i) => ({ csr: csrList[i % csrList.length] }), base: kg.ec, cli: cli.EC, baseName: 'EC P-256' },
  ];
  for (const m of modes) {
    try {
      const lat = [];
      const t0 = Date.now();
      await pool(m.n, ctx.cfg.createConcurrency, async (i) => {
        const entity = { name: `create-${m.baseName}-${i}` };
        if (m.meta) entity.deviceMetadata = typeof m.meta === 'function' ? m.meta(i) : m.meta;
        const s = process.hrtime.bigint();
        const res = await para.must('POST', 'things', { entity }, [201]);
        lat.push(Number(process.hrtime.bigint() - s) / 1e6);
        if (!res.body.deviceDetails || !res.body.deviceDetails.clientCert) throw new Error('no certificate in deviceDetails');
      });
      const rate = m.n / ((Date.now() - t0) / 1000);
      lat.sort((a, b) => a - b);
      // Baseline: OpenSSL's in-process key generation (EVP_PKEY_Q_keygen,
      // from para_micro_bench) on every core of the machine.
      const baseRate = m.base ? (cores * 1e6) / m.base : undefined;
      ctx.row(SECTION, {
        scenario: `Thing creation: ${m.name}`,
        config: `${m.n} POST /v1/things, ${ctx.cfg.createConcurrency} in flight`,
        rps: rate,
        p50Ms: pct(lat, 50),
        p99Ms: pct(lat, 99),
        ratio: baseRate ? rate / baseRate : undefined,
        baseline: baseRate ? `OpenSSL ${m.baseName} keygen x ${cores} cores = ${baseRate.toFixed(baseRate < 100 ? 1 : 0)}/s` : 'n/a',
        note: `\`openssl genpkey\` CLI (1 process per core, incl. process start): ${m.cli.toFixed(1)}/s`,
      });
      log(`mqtt create ${m.name}: ${rate.toFixed(1)}/s (baseline ${baseRate ? baseRate.toFixed(1) : '-'}/s, CLI ${m.cli.toFixed(1)}/s)`);
      if (m.name === 'RSA-2048') ctx.facts.rsaCreate = { rate, p50: pct(lat, 50) };
    } catch (e) {
      ctx.fail(SECTION, `Thing creation ${m.name}`, e);
    }
  }
  await rsaBurst(ctx, para);
}

// A burst of RSA creations after a pause: the key pool (para.iot.local.rsa_key_pool,
// default 4) has refilled, so the burst does not wait for key generation.
async function rsaBurst(ctx, para) {
  const burst = 4;
  const base = ctx.facts.rsaCreate;
  try {
    await sleep(3000);  // the pool refills at low priority
    const lat = [];
    const t0 = process.hrtime.bigint();
    await Promise.all(Array.from({ length: burst }, async (_, i) => {
      const s = process.hrtime.bigint();
      await para.must('POST', 'things', { entity: { name: `burst-rsa-${i}`, deviceMetadata: { keyType: 'RSA' } } }, [201]);
      lat.push(Number(process.hrtime.bigint() - s) / 1e6);
    }));
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    lat.sort((a, b) => a - b);
    ctx.row(SECTION, {
      scenario: 'Thing creation: RSA-2048, burst after a pause',
      config: `${burst} POST /v1/things at once, 3 s after the previous RSA creation`,
      rps: burst / secs,
      p50Ms: pct(lat, 50),
      p99Ms: pct(lat, 99),
      ratio: base ? burst / secs / base.rate : undefined,
      baseline: base ? `sustained RSA-2048 creation rate above (${base.rate.toFixed(1)}/s)` : 'n/a',
      note: `keys from the pool (para.iot.local.rsa_key_pool = 4); sustained RSA p50 ${base ? base.p50.toFixed(0) : '-'} ms`,
    });
    log(`mqtt create RSA burst: ${lat.map((x) => x.toFixed(0)).join(', ')} ms`);
  } catch (e) {
    ctx.fail(SECTION, 'Thing creation RSA burst', e);
  }
}

async function run(ctx) {
  ctx.facts.echo = {};
  const server = await new Server({ iot: true }).start();
  const para = new Para({ host: '127.0.0.1', port: server.port, accessKey: 'app:para', secretKey: ROOT_SECRET });
  let echo;
  let files;
  try {
    const maxDevices = Math.max(...ctx.cfg.mqttConfigs.map((c) => c.devices));
    const things = await createThings(para, maxDevices, { prefix: 'rr' });
    files = writeDeviceFiles(path.join(ctx.tmp, 'rr-devices'), things);
    echo = await startEchoBroker(ctx, server);
    await shadowRoundTrips(ctx, server, files, echo);
    try {
      await deltaLatency(ctx, server, para);
    } catch (e) {
      ctx.fail(SECTION, 'PATCH deviceState -> delta', e);
    }
    await creationRates(ctx, para);
  } finally {
    if (echo) await echo.stop();
    await server.stop();
  }
  // The same shadow round trips with synchronous=normal (no fsync per
  // accepted update), same data directory, certificates and device port.
  if (ctx.cfg.mqttNormalSync) {
    const s2 = new Server({ dataDir: server.dataDir, iot: true, env: { para_sqlite_synchronous: 'normal' } });
    s2.iotPort = server.iotPort;
    s2.ownDir = true;
    try {
      await s2.start();
      await shadowRoundTrips(ctx, s2, files, null, { onlyShadow: true, tag: 'normal' });
    } finally {
      await s2.stop();
      s2.cleanup();
    }
  } else {
    server.cleanup();
  }
}

module.exports = { run, startEchoBroker, rr };
