'use strict';
// Scenario 1: HTTP request/response through the whole stack (Beast, router,
// SigV4, store), driven by wrk with pre-signed requests, at several
// keep-alive connection counts. Baseline: GET /v1/ (public, constant) at the
// same connection count, in the same server, in the same run.
const { Server, ROOT_SECRET, memory } = require('../lib/server');
const { Para, Signer, send, pool } = require('../lib/para');
const { runWrk } = require('../lib/wrk');
const { log, rng, makeObject } = require('../lib/common');

const SECTION = 'HTTP';

async function loadItems(para, n) {
  const r = rng(42);
  const items = [];
  await pool(n, 32, async (i) => {
    const res = await para.must('POST', 'item', { entity: makeObject(r, 'item', i) });
    items[i] = res.body;
  });
  return items;
}

async function makeThings(para, n, prefix) {
  const things = [];
  await pool(n, 4, async (i) => {
    const res = await para.must('POST', 'things', { entity: { name: `${prefix}-${i}` } });
    things[i] = res.body;
  });
  // Give every shadow some desired state so reads render a real deviceShadow.
  await pool(n, 4, async (i) => {
    await para.must('PATCH', `things/${things[i].id}`, { entity: { deviceState: { v: 0, mode: 'auto' } } });
  });
  return things;
}

// The scenario definitions: each `make` returns freshly signed requests.
function readScenarios(signer, items, things) {
  const sample = items.slice(0, 200);
  const ids = sample.map((o) => o.id);
  const prefixes = [...new Set(sample.map((o) => o.name.slice(0, 2)))];
  const words = [...new Set(sample.map((o) => o.description.split(' ')[0]))];
  return [
    { name: 'GET /v1/ (baseline)', baseline: true, make: () => [signer.sign('GET', '', { sign: false })] },
    { name: 'GET object', make: () => ids.map((id) => signer.sign('GET', `item/${id}`)) },
    { name: 'GET thing (local broker)', make: () => things.map((t) => signer.sign('GET', `things/${t.id}`)) },
    { name: 'list GET /v1/item?limit=30', make: () => [signer.sign('GET', 'item', { params: { limit: 30 } })] },
    { name: 'search q=<word>', make: () => words.map((w) => signer.sign('GET', 'item/search', { params: { q: w } })) },
    { name: 'search id', make: () => ids.map((id) => signer.sign('GET', 'search/id', { params: { id } })) },
    { name: 'search tagged', make: () => Array.from({ length: 40 }, (_, t) => signer.sign('GET', 'item/search/tagged', { params: { tags: `tag${t}` } })) },
    { name: 'search prefix (name)', make: () => prefixes.map((p) => signer.sign('GET', 'item/search/prefix', { params: { field: 'name', prefix: p } })) },
  ];
}

function writeScenarios(signer, items, things, tag) {
  const ids = items.slice(0, 200).map((o) => o.id);
  return [
    { name: `POST object [sync=${tag}]`, make: () => Array.from({ length: 50 }, (_, i) => signer.sign('POST', 'benchpost', { entity: { name: `posted ${i}`, tags: ['bench'], n: i } })) },
    { name: `PATCH object [sync=${tag}]`, make: () => ids.map((id, i) => signer.sign('PATCH', `item/${id}`, { entity: { counter: i, color: 'teal' } })) },
    {
      name: `PATCH thing deviceState [sync=${tag}]`,
      // thing k gets value v in round v: consecutive PATCHes of a thing change desired.
      make: () => {
        const reqs = [];
        for (let v = 1; v <= 8; ++v) for (const t of things) reqs.push(signer.sign('PATCH', `things/${t.id}`, { entity: { deviceState: { v, mode: 'auto' } } }));
        return reqs;
      },
    },
  ];
}

// wrk counts non-2xx/3xx answers but does not say which: replay the same
// requests with the same concurrency through Node and tabulate them.
async function diagnose(signer, reqs, concurrency) {
  const seen = {};
  await pool(Math.max(reqs.length, concurrency * 4), concurrency, async (i) => {
    const res = await send(signer, reqs[i % reqs.length]).catch((e) => ({ status: 'error', text: e.message }));
    if (res.status >= 200 && res.status < 400) return;
    const key = `${res.status} ${String(res.text).slice(0, 120)}`;
    seen[key] = (seen[key] || 0) + 1;
  });
  const list = Object.entries(seen).map(([k, n]) => `${n}x ${k}`);
  return list.length ? `replayed: ${list.join('; ')}` : 'replay through Node saw no errors';
}

async function runScenario(ctx, server, signer, sc, baselines) {
  for (const c of ctx.cfg.connections) {
    const label = `${sc.name}`;
    try {
      const reqs = sc.make();  // signed now: valid for the next 900 s
      const check = await send(signer, reqs[0]);
      if (check.status >= 300) throw new Error(`${reqs[0].method} ${reqs[0].path} -> ${check.status}: ${check.text.slice(0, 200)}`);
      const r = await runWrk({ url: server.endpoint, requests: reqs, connections: c, seconds: ctx.cfg.httpSeconds, scriptDir: ctx.tmp });
      if (sc.baseline) baselines[c] = r.rps;
      if (sc.baseline && ctx.facts.httpBaseline1 === undefined) ctx.facts.httpBaseline1 = r.p50Ms;
      const base = baselines[c];
      let note = '';
      if (r.errors) {
        note = `${r.errors} of ${r.requests} answered with an error (${r.raw.err_status} non-2xx/3xx, ${r.errors - r.raw.err_status} socket); ${await diagnose(signer, sc.make(), c)}`;
        ctx.serverError(SECTION, `${label} (${c} conn)`, note);
      }
      ctx.row(SECTION, {
        scenario: label,
        config: `${c} conn`,
        rps: r.rps,
        p50Ms: r.p50Ms,
        p99Ms: r.p99Ms,
        ratio: base ? r.rps / base : undefined,
        baseline: `GET /v1/ @${c} conn`,
        note,
        error: r.errors > r.requests * 0.01 ? `${r.errors} of ${r.requests} requests failed` : undefined,
      });
      log(`http ${label} c=${c}: ${Math.round(r.rps)}/s p50 ${r.p50Ms} ms p99 ${r.p99Ms} ms errors ${r.errors}`);
    } catch (e) {
      ctx.fail(SECTION, `${label} (${c} conn)`, e);
    }
  }
}

async function run(ctx) {
  // Server A: the defaults (synchronous=full).
  const a = await new Server({ iot: true }).start();
  const para = new Para({ host: '127.0.0.1', port: a.port, accessKey: 'app:para', secretKey: ROOT_SECRET });
  let items;
  let things;
  const baselines = {};
  try {
    log(`http: loading ${ctx.cfg.httpItems} objects and ${ctx.cfg.httpThings} things`);
    items = await loadItems(para, ctx.cfg.httpItems);
    things = await makeThings(para, ctx.cfg.httpThings, 'http');
    const signer = new Signer({ host: '127.0.0.1', port: a.port, accessKey: 'app:para', secretKey: ROOT_SECRET });
    for (const sc of readScenarios(signer, items, things)) await runScenario(ctx, a, signer, sc, baselines);
    for (const sc of writeScenarios(signer, items, things, 'full')) await runScenario(ctx, a, signer, sc, baselines);
    ctx.facts.httpServerRssMiB = memory(a.pid).rssMiB;
  } finally {
    await a.stop();
  }
  // Server B: same data directory, para.sqlite.synchronous=normal. The
  // baseline is measured again on this server so the ratios stay same-server.
  const b = await new Server({ dataDir: a.dataDir, iot: true, env: { para_sqlite_synchronous: 'normal' } });
  b.ownDir = true;
  await b.start();
  try {
    const signer = new Signer({ host: '127.0.0.1', port: b.port, accessKey: 'app:para', secretKey: ROOT_SECRET });
    const base = { name: 'GET /v1/ (baseline) [sync=normal server]', baseline: true, make: () => [signer.sign('GET', '', { sign: false })] };
    const baselinesB = {};
    await runScenario(ctx, b, signer, base, baselinesB);
    for (const sc of writeScenarios(signer, items, things, 'normal')) await runScenario(ctx, b, signer, sc, baselinesB);
  } finally {
    await b.stop();
    b.cleanup();
  }
}

module.exports = { run, loadItems, makeThings };
