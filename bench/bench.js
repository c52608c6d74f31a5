'use strict';
// Runs every benchmark scenario and writes the Markdown report.
//   node bench/bench.js --build build [--quick] --out bench/RESULTS.md
// Normally started by bench/run.sh (make bench / make bench-quick), which
// sets NODE_PATH, PARA_SERVER and PARA_BENCH_TMP.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { killAll, unexpectedExits, describeExit } = require('./lib/server');
const { killChildren, log } = require('./lib/common');
const { machine, render } = require('./lib/report');

const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};
const QUICK = args.includes('--quick');
const REPO = path.resolve(__dirname, '..');
const BUILD = path.resolve(REPO, opt('--build', 'build'));
const OUT = path.resolve(REPO, opt('--out', QUICK ? path.join(BUILD, 'bench', 'RESULTS-quick.md') : path.join('bench', 'RESULTS.md')));
const ONLY = (opt('--only', '') || '').split(',').filter(Boolean);
const SOURCE = path.resolve(opt('--source', REPO));

const FULL = {
  connections: [1, 16, 64],
  httpSeconds: 5,
  httpItems: 1000,
  httpThings: 16,
  searchObjects: 100000,
  searchConnections: 16,
  searchSeconds: 5,
  mqttConfigs: [{ devices: 1, window: 1 }, { devices: 4, window: 16 }],
  mqttWarmup: 1,
  mqttSeconds: 3,
  mqttRounds: 3,
  mqttNormalSync: true,
  deltaThings: 16,
  deltaRate: 500,
  deltaSeconds: 10,
  createEc: 200,
  createRsa: 16,
  createCsr: 200,
  csrDistinct: 20,
  createConcurrency: 4,
  idleDevices: 10000,
  idleSeconds: 5,
  coldStartRuns: 5,
  microMinTime: 0.3,
};
const QUICK_CFG = {
  ...FULL,
  connections: [16],
  httpSeconds: 1,
  httpItems: 200,
  httpThings: 16,
  searchObjects: 2000,
  searchSeconds: 1,
  mqttConfigs: [{ devices: 1, window: 1 }, { devices: 2, window: 8 }],
  mqttSeconds: 1,
  mqttRounds: 1,
  mqttWarmup: 0.5,
  mqttNormalSync: false,
  deltaThings: 4,
  deltaSeconds: 2,
  createEc: 10,
  createRsa: 2,
  createCsr: 10,
  csrDistinct: 3,
  idleDevices: 100,
  idleSeconds: 1,
  coldStartRuns: 3,
  microMinTime: 0.02,
};
const cfg = { ...(QUICK ? QUICK_CFG : FULL) };
cfg.notMeasured = [
  'Absolute capacity of para-server alone: the load generators share the same cores (see the caveat above); no second machine is available.',
  'PostgreSQL: not implemented in para-server yet; everything here is the embedded SQLite store.',
  'AWS IoT (`serviceBroker: AWS`): needs an AWS account and network access; only the built-in broker is measured.',
  ...(QUICK ? ['Quick run: smaller data sets, 16 connections only, 1 s runs; numbers are a smoke test, not results.'] : []),
];

const ctx = {
  quick: QUICK,
  cfg,
  tmp: process.env.PARA_BENCH_TMP || fs.mkdtempSync(path.join(os.tmpdir(), 'para-bench-')),
  microBench: path.join(BUILD, 'bench', 'para_micro_bench'),
  mqttBench: path.join(BUILD, 'bench', 'para_mqtt_bench'),
  rows: [],
  failures: [],
  verdicts: [],
  facts: { echo: {} },
  row(section, r) { this.rows.push({ section, ...r }); if (r.error) this.failures.push({ section, name: `${r.scenario} (${r.config})`, message: r.error }); },
  fail(section, name, e) {
    const message = e && e.message ? e.message : String(e);
    log(`FAILED ${section} / ${name}: ${message.split('\n').slice(0, 6).join(' | ')}`);
    this.failures.push({ section, name, message: message.split('\n').slice(0, 6).join(' ') });
  },
  verdict(name, ok, value) { this.verdicts.push({ name, ok, value }); },
  // Error answers from the server under load: reported, and a failure of the
  // run only when a row's error rate is above 1 % (row.error).
  serverErrors: [],
  notes: [],
  serverError(section, name, message) { this.serverErrors.push({ section, name, message }); },
};

function cleanup() {
  killAll();
  killChildren();
}
process.on('exit', cleanup);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    log(`${sig}: stopping`);
    cleanup();
    process.exit(130);
  });
}

async function main() {
  const startedAt = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const t0 = Date.now();
  const m = await machine(SOURCE);
  log(`${QUICK ? 'quick' : 'full'} run on ${m.cores} cores, ${m.cpu}; commit ${m.commit.slice(0, 12)}; server ${process.env.PARA_SERVER}`);
  const sections = [
    ['micro', () => require('./scenarios/micro').run(ctx)],
    ['coldstart', () => require('./scenarios/coldstart').run(ctx)],
    ['http', () => require('./scenarios/http').run(ctx)],
    ['search', async () => {
      await require('./scenarios/search').run(ctx);
      require('./scenarios/coldstart').addLarge(ctx, cfg.searchObjects);
    }],
    ['mqtt', () => require('./scenarios/mqtt').run(ctx)],
    ['memory', () => require('./scenarios/memory').run(ctx)],
  ];
  for (const [name, fn] of sections) {
    if (ONLY.length && !ONLY.includes(name)) continue;
    const s = Date.now();
    // A section whose para-server was stopped from outside (SIGTERM/SIGKILL
    // or a clean exit we did not ask for: other jobs on a shared machine)
    // runs once more. A crash (any other signal or exit code) is reported.
    for (let attempt = 1; attempt <= 2; ++attempt) {
      const mark = { rows: ctx.rows.length, failures: ctx.failures.length, serverErrors: ctx.serverErrors.length, verdicts: ctx.verdicts.length, exits: unexpectedExits.length };
      log(`== ${name}${attempt > 1 ? ' (again)' : ''}`);
      try {
        await fn();
      } catch (e) {
        ctx.fail(name, 'scenario aborted', e);
      }
      const exits = unexpectedExits.slice(mark.exits);
      for (const e of exits) ctx.fail(name, 'para-server', new Error(describeExit(e)));
      const external = exits.length > 0 && exits.every((e) => e.signal === 'SIGTERM' || e.signal === 'SIGKILL' || e.code === 0);
      if (!external || attempt === 2) break;
      log(`== ${name}: para-server was stopped from outside; discarding the section's results and running it again`);
      ctx.rows.length = mark.rows;
      ctx.failures.length = mark.failures;
      ctx.serverErrors.length = mark.serverErrors;
      ctx.verdicts.length = mark.verdicts;
      ctx.notes.push(`The ${name} section was run twice: in its first attempt a para-server was stopped by another process on this shared machine (${exits.map((e) => (e.signal ? `killed by ${e.signal}` : `exit code ${e.code}, i.e. a graceful SIGTERM shutdown`)).join('; ')}).`);
    }
    log(`== ${name} done in ${((Date.now() - s) / 1000).toFixed(0)} s`);
  }
  const secs = (Date.now() - t0) / 1000;
  const md = render({ m, notes: ctx.notes, rows: ctx.rows, failures: ctx.failures, serverErrors: ctx.serverErrors, verdicts: ctx.verdicts, build: BUILD, source: SOURCE, cfg, quick: QUICK, startedAt, secs, loadEnd: os.loadavg() });
  fs.mkdirSync(path.dirname(OUT), { recursive: true });
  fs.writeFileSync(OUT, md);
  log(`wrote ${path.relative(process.cwd(), OUT)} (${secs.toFixed(0)} s, ${ctx.failures.length} failure(s))`);
  cleanup();
  // Keep-alive sockets and timers would keep Node running: exit explicitly.
  process.exit(ctx.failures.length ? 1 : 0);
}

main().catch((e) => {
  log('fatal: ' + (e.stack || e));
  cleanup();
  process.exit(2);
});
