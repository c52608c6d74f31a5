'use strict';
// Scenario 2 (issue 3): every query type on a store of N objects of four
// types (100k in the full run), each against a single-object GET measured
// in the same server and run. Also: server RSS with N stored objects, and
// the cold start of a server that opens that database.
const fs = require('node:fs');
const path = require('node:path');
const { Server, ROOT_SECRET, memory } = require('../lib/server');
const { Para, Signer, send, pool } = require('../lib/para');
const { runWrk } = require('../lib/wrk');
const { log, rng, makeObject, WORDS, COLORS, CITIES } = require('../lib/common');

const SECTION = 'Search';
const TYPES = ['sensor', 'person', 'order', 'article'];

// Does POST /v1/_batch exist (issue 3)? A 200 with an array means yes.
async function hasBatch(para) {
  const res = await para.request('POST', '_batch', { entity: [{ type: 'batchprobe', name: 'probe' }] });
  return res.status === 200 && Array.isArray(res.body);
}

async function load(ctx, para, n) {
  const r = rng(7);
  const objects = [];
  for (let i = 0; i < n; ++i) objects.push(makeObject(r, TYPES[i % TYPES.length], i));
  const created = new Array(n);
  const t0 = Date.now();
  const batch = await hasBatch(para);
  if (batch) {
    const size = 250;
    await pool(Math.ceil(n / size), 4, async (b) => {
      const res = await para.must('POST', '_batch', { entity: objects.slice(b * size, (b + 1) * size) }, [200]);
      res.body.forEach((o, k) => { created[b * size + k] = o; });
    });
  } else {
    await pool(n, 48, async (i) => {
      const res = await para.must('POST', objects[i].type, { entity: objects[i] });
      created[i] = res.body;
      if (i % 20000 === 19999) log(`search: ${i + 1} objects loaded`);
    });
  }
  const secs = (Date.now() - t0) / 1000;
  return { created, secs, method: batch ? 'POST /v1/_batch (250 per batch, 4 in flight)' : 'single signed POSTs, 48 in flight (POST /v1/_batch does not exist yet)' };
}

// RSS in its two parts: the database pages mapped (para.sqlite.mmap_mb) are
// the kernel's file cache, counted in RSS once read but not the server's own.
function split(m) {
  return `anonymous ${m.anonMiB.toFixed(1)} MiB + mapped files ${m.fileMiB.toFixed(1)} MiB`;
}

function dirSizeMiB(dir) {
  let total = 0;
  for (const f of fs.readdirSync(dir)) {
    const st = fs.statSync(path.join(dir, f));
    if (st.isFile()) total += st.size;
  }
  return total / (1 << 20);
}

function queries(signer, created) {
  const r = rng(99);
  const pick = (a) => a[Math.floor(r() * a.length)];
  const sample = Array.from({ length: 300 }, () => pick(created));
  const typeOf = (o) => o.type;
  const many = (f, n = 100) => Array.from({ length: n }, (_, i) => f(sample[i % sample.length], i));
  return [
    { name: 'GET object (baseline)', baseline: true, make: () => many((o) => signer.sign('GET', `${typeOf(o)}/${o.id}`), 300) },
    { name: 'id', target: true, make: () => many((o) => signer.sign('GET', 'search/id', { params: { id: o.id } }), 300) },
    { name: 'ids (5 ids)', make: () => many((o, i) => signer.sign('GET', 'search/ids', { params: { ids: [0, 1, 2, 3, 4].map((k) => sample[(i + k * 7) % sample.length].id) } })) },
    { name: 'terms (name, exact)', target: true, make: () => many((o) => signer.sign('GET', `${typeOf(o)}/search/terms`, { params: { terms: `name:${o.name}` } })) },
    { name: 'terms (custom: color + score>=)', make: () => many((o) => signer.sign('GET', `${typeOf(o)}/search/terms`, { params: { terms: [`color:${o.color}`, `score>=:${o.score}`] } })) },
    { name: 'prefix (name)', target: true, make: () => many((o) => signer.sign('GET', `${typeOf(o)}/search/prefix`, { params: { field: 'name', prefix: o.name.slice(0, 3) } })) },
    // Past the name-prefix index (3 characters): a scan of the name index.
    { name: 'prefix (name, 6 chars)', make: () => many((o) => signer.sign('GET', `${typeOf(o)}/search/prefix`, { params: { field: 'name', prefix: o.name.slice(0, 6) } })) },
    { name: 'tagged', target: true, make: () => many((o) => signer.sign('GET', `${typeOf(o)}/search/tagged`, { params: { tags: o.tags[0] } })) },
    { name: 'in (name, 3 values)', make: () => many((o, i) => signer.sign('GET', `${typeOf(o)}/search/in`, { params: { field: 'name', terms: [o.name, sample[(i + 1) % 300].name, sample[(i + 2) % 300].name] } })) },
    { name: 'wildcard (name)', make: () => many((o) => signer.sign('GET', `${typeOf(o)}/search/wildcard`, { params: { field: 'name', q: `${o.name.slice(0, 2)}*e*` } })) },
    { name: 'q full-text word', make: () => many((o, i) => signer.sign('GET', `${typeOf(o)}/search`, { params: { q: WORDS[i % WORDS.length] } })) },
    { name: 'q field:value AND tags', make: () => many((o) => signer.sign('GET', `${typeOf(o)}/search`, { params: { q: `color:${o.color} AND tags:${o.tags[1]}` } })) },
    { name: 'q phrase', make: () => many((o) => signer.sign('GET', `${typeOf(o)}/search`, { params: { q: `"${o.description.split(' ').slice(2, 4).join(' ')}"` } })) },
    { name: 'nested (location.city)', make: () => many((o, i) => signer.sign('GET', `${typeOf(o)}/search/nested`, { params: { field: 'location', q: `city:${CITIES[i % CITIES.length][0]}` } })) },
    { name: 'nearby (10 km)', make: () => many((o) => signer.sign('GET', `${typeOf(o)}/search/nearby`, { params: { latlng: o.latlng, radius: 10 } })) },
    { name: 'similar (like=text)', make: () => many((o) => signer.sign('GET', `${typeOf(o)}/search/similar`, { params: { fields: 'description', like: o.description.split(' ').slice(0, 4).join(' ') } })) },
    { name: 'count (color)', make: () => many((o, i) => signer.sign('GET', `${typeOf(o)}/search/count`, { params: { q: `color:${COLORS[i % COLORS.length]}` } })) },
    { name: 'list GET /v1/{type}?limit=30', make: () => TYPES.map((t) => signer.sign('GET', t, { params: { limit: 30 } })) },
    { name: 'list page 100 (offset 2970)', make: () => TYPES.map((t) => signer.sign('GET', t, { params: { limit: 30, page: 100 } })) },
    { name: 'search all types q=*', make: () => [signer.sign('GET', 'search', { params: { q: '*' } })] },
  ];
}

// Every query type (or those named in `only`) against the GET baseline of
// the same server; `variant` names what differs from the default server.
async function measure(ctx, server, signer, created, { only, variant } = {}) {
  let base;
  const c = ctx.cfg.searchConnections;
  for (const q of queries(signer, created).filter((x) => !only || only.includes(x.name))) {
    const name = variant ? `${q.name}, ${variant}` : q.name;
    try {
      const reqs = q.make();
      const check = await send(signer, reqs[0]);
      if (check.status !== 200) throw new Error(`${reqs[0].path} -> ${check.status}: ${check.text.slice(0, 200)}`);
      const hits = check.body && (check.body.totalHits ?? (check.body.items ? check.body.items.length : undefined));
      const r = await runWrk({ url: server.endpoint, requests: reqs, connections: c, seconds: ctx.cfg.searchSeconds, scriptDir: ctx.tmp, timeoutSec: 30 });
      if (q.baseline) base = r;
      if (r.errors) ctx.serverError(SECTION, name, `${r.errors} of ${r.requests} requests answered with an error`);
      const ratio = base ? r.rps / base.rps : undefined;
      let note = `${r.requests} requests`;
      if (hits !== undefined && !q.baseline) note += `; first query: totalHits ${hits}`;
      if (q.target && !variant && ratio !== undefined) {
        const ok = ratio >= 0.5;
        note += `; issue 3 target (>= 0.5x GET): ${ok ? 'met' : 'NOT met'}`;
        ctx.verdict(`Search ${q.name} within 2x of GET`, ok, `${ratio.toFixed(2)}x`);
      }
      ctx.row(SECTION, {
        scenario: name,
        config: `${c} conn, ${created.length} objects${variant ? `, ${variant}` : ''}`,
        rps: r.rps,
        p50Ms: r.p50Ms,
        p99Ms: r.p99Ms,
        ratio,
        baseline: variant ? 'GET object, same server' : 'GET object',
        note: (note + (r.errors ? `; ${r.errors} errors (${JSON.stringify(r.raw)})` : '')).replace(/^; /, ''),
        error: r.errors > r.requests * 0.01 ? `${r.errors} of ${r.requests} requests failed` : undefined,
      });
      log(`search ${name}: ${Math.round(r.rps)}/s p50 ${r.p50Ms} p99 ${r.p99Ms} ms (${ratio ? ratio.toFixed(2) : '-'}x) hits ${hits}`);
    } catch (e) {
      ctx.fail(SECTION, name, e);
    }
  }
}

// The page-row queries again on a server without the object cache, so the
// cache's share of their speed is seen: its warm case is what the main rows
// measure (their queries repeat, so the objects they show stay cached).
async function measureWithoutObjectCache(ctx, dataDir, created) {
  const r = await new Server({ dataDir, iot: false, env: { para_sqlite_object_cache_mb: '0' } }).start();
  try {
    const signer = new Signer({ host: '127.0.0.1', port: r.port, accessKey: 'app:para', secretKey: ROOT_SECRET });
    const only = ['GET object (baseline)', 'prefix (name)', 'tagged', 'list GET /v1/{type}?limit=30'];
    await measure(ctx, r, signer, created, { only, variant: 'object cache off' });
  } finally {
    await r.stop();
  }
}

async function run(ctx) {
  const n = ctx.cfg.searchObjects;
  // The load uses synchronous=normal (no fsync per commit): reads do not
  // depend on it, and it keeps the load of 100k single POSTs short.
  const s = await new Server({ iot: false, env: { para_sqlite_synchronous: 'normal' } }).start();
  let created;
  const emptyRss = memory(s.pid).rssMiB;
  try {
    const para = new Para({ host: '127.0.0.1', port: s.port, accessKey: 'app:para', secretKey: ROOT_SECRET });
    log(`search: loading ${n} objects`);
    const loaded = await load(ctx, para, n);
    created = loaded.created;
    ctx.row(SECTION, {
      scenario: `load ${n} objects`,
      config: loaded.method,
      rps: n / loaded.secs,
      note: `${loaded.secs.toFixed(1)} s; synchronous=normal`,
    });
    const signer = new Signer({ host: '127.0.0.1', port: s.port, accessKey: 'app:para', secretKey: ROOT_SECRET });
    await measure(ctx, s, signer, created);
    const m = memory(s.pid);
    ctx.row('Memory', { scenario: `server RSS, ${n} objects stored`, config: 'after loading them and running every query', rssMiB: m.rssMiB, note: `${split(m)}; empty server ${emptyRss.toFixed(1)} MiB; peak (VmHWM) ${m.hwmMiB.toFixed(1)} MiB; database ${dirSizeMiB(s.dataDir).toFixed(0)} MiB on disk` });
  } finally {
    await s.stop();
  }
  // Restart on the same database: cold start with N objects, then RSS.
  try {
    const times = [];
    for (let i = 0; i < ctx.cfg.coldStartRuns; ++i) {
      const r = await new Server({ dataDir: s.dataDir, iot: false }).start();
      times.push(r.startMs);
      if (i === ctx.cfg.coldStartRuns - 1) {
        const idle = memory(r.pid).rssMiB;
        const signer = new Signer({ host: '127.0.0.1', port: r.port, accessKey: 'app:para', secretKey: ROOT_SECRET });
        const reqs = TYPES.map((t) => signer.sign('GET', t, { params: { limit: 30 } }))
          .concat(created.slice(0, 200).map((o) => signer.sign('GET', `${o.type}/${o.id}`)));
        await runWrk({ url: r.endpoint, requests: reqs, connections: 16, seconds: 2, scriptDir: ctx.tmp });
        const m = memory(r.pid);
        ctx.row('Memory', { scenario: `server RSS, ${n} objects stored`, config: 'restarted, after 2 s of GET/list load', rssMiB: m.rssMiB, note: `${split(m)}; right after the restart: ${idle.toFixed(1)} MiB` });
      }
      await r.stop();
    }
    ctx.facts.coldStart100k = times;
  } catch (e) {
    ctx.fail('Cold start', `restart with ${n} objects`, e);
  }
  try {
    await measureWithoutObjectCache(ctx, s.dataDir, created);
  } catch (e) {
    ctx.fail(SECTION, 'object cache off', e);
  } finally {
    s.cleanup();
  }
}

module.exports = { run };
