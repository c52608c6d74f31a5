'use strict';
// Scenario 5: time from spawn to the first 200 of GET /v1/_health (polled
// every ~2 ms), median of several runs. Baseline: spawn and exit of
// `para-server --version` (process start, dynamic linking, exit).
const { Server, SERVER_BIN, tempDir, removeDir } = require('../lib/server');
const { run: exec, log } = require('../lib/common');

const SECTION = 'Cold start';

function median(a) {
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

async function runs(n, fn) {
  const out = [];
  for (let i = 0; i < n; ++i) out.push(await fn(i));
  return out;
}

async function run(ctx) {
  const n = ctx.cfg.coldStartRuns;
  const version = await runs(n, async () => {
    const r = await exec(SERVER_BIN, ['--version']);
    if (r.code !== 0) throw new Error('para-server --version failed: ' + r.stderr);
    return r.ms;
  });
  const base = median(version);
  ctx.facts.versionMs = base;
  const add = (scenario, config, times, note = '') => {
    const m = median(times);
    ctx.row(SECTION, {
      scenario, config, p50Ms: m, p99Ms: Math.max(...times), ratio: base / m,
      baseline: `\`para-server --version\` ${base.toFixed(1)} ms`,
      note: `median of ${times.length}; p99 column = slowest run${note ? '; ' + note : ''}`,
    });
    log(`coldstart ${scenario} ${config}: ${m.toFixed(1)} ms`);
  };
  ctx.row(SECTION, { scenario: '`para-server --version` (baseline)', config: 'spawn to exit', p50Ms: base, p99Ms: Math.max(...version), ratio: 1, baseline: 'itself', note: `median of ${n}` });

  for (const iot of [true, false]) {
    const label = iot ? 'built-in broker on' : 'built-in broker off';
    try {
      // Fresh data directory: creates the database (and the CA, the broker
      // certificate and config, and starts Mosquitto when the broker is on).
      const fresh = await runs(n, async () => {
        const s = new Server({ iot });
        try {
          await s.start();
          return s.startMs;
        } finally {
          await s.stop();
          s.cleanup();
        }
      });
      add('spawn -> healthy, fresh data dir', label, fresh);
      // Existing data directory (the usual restart).
      const dir = tempDir('para-cold-');
      try {
        const first = new Server({ dataDir: dir, iot });
        await first.start();
        await first.stop();
        const again = await runs(n, async () => {
          const s = new Server({ dataDir: dir, iot });
          s.iotPort = first.iotPort;
          try {
            await s.start();
            return s.startMs;
          } finally {
            await s.stop();
          }
        });
        add('spawn -> healthy, existing data dir', label, again);
      } finally {
        removeDir(dir);
      }
    } catch (e) {
      ctx.fail(SECTION, label, e);
    }
  }
}

function addLarge(ctx, n) {
  const times = ctx.facts.coldStart100k;
  if (!times || !times.length || !ctx.facts.versionMs) return;
  const m = median(times);
  ctx.row(SECTION, {
    scenario: 'spawn -> healthy, existing data dir',
    config: `built-in broker off, ${n} objects stored`,
    p50Ms: m,
    p99Ms: Math.max(...times),
    ratio: ctx.facts.versionMs / m,
    baseline: `\`para-server --version\` ${ctx.facts.versionMs.toFixed(1)} ms`,
    note: `median of ${times.length}; measured in the search scenario`,
  });
}

module.exports = { run, addLarge };
