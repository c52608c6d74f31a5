'use strict';
// make soak: a bounded run of mixed load against one para-server (objects,
// search, batch, Things with devices reporting over MQTT) while its RSS is
// sampled every 10 s. Reports whether memory stays flat. Not run in CI.
//
//   node tests/soak/soak.js [seconds=600] [report=bench/SOAK.md]
const fs = require('node:fs');
const path = require('node:path');
const { ServerProcess, ROOT_SECRET } = require('../integration/lib/server');
const { ParaClient } = require('../integration/lib/para_client');
const dev = require('../integration/lib/device');

const seconds = Number(process.argv[2] || 600);
const report = process.argv[3] || path.resolve(__dirname, '../../bench/SOAK.md');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function rssMiB(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(status.match(/VmRSS:\s+(\d+)/)[1]) / 1024;
}

// Least-squares slope of y over x.
function slope(points) {
  const n = points.length;
  const mx = points.reduce((a, p) => a + p[0], 0) / n;
  const my = points.reduce((a, p) => a + p[1], 0) / n;
  const num = points.reduce((a, p) => a + (p[0] - mx) * (p[1] - my), 0);
  const den = points.reduce((a, p) => a + (p[0] - mx) ** 2, 0);
  return den ? num / den : 0;
}

async function main() {
  const server = await new ServerProcess({ iot: true, env: { para_log_level: 'info', para_sqlite_synchronous: 'normal' } }).start();
  const para = new ParaClient(server.endpoint, 'app:para', ROOT_SECRET);
  const things = [];
  const devices = [];
  for (let i = 0; i < 8; i++) {
    const t = await para.post('things', { name: `soak-${i}` });
    things.push(t.body);
    const files = dev.writeDeviceFiles(t.body.deviceDetails);
    devices.push(await dev.connect(files, { port: server.iotPort, clientId: t.body.deviceDetails.thingName, reconnectPeriod: 1000 }));
  }
  const counts = { requests: 0, errors: 0, reports: 0 };
  const deadline = Date.now() + seconds * 1000;
  const samples = [];
  const t0 = Date.now();
  const sampler = setInterval(() => samples.push([(Date.now() - t0) / 1000, rssMiB(server.child.pid)]), 10000);
  samples.push([0, rssMiB(server.child.pid)]);

  async function worker(w) {
    let n = 0;
    while (Date.now() < deadline) {
      n++;
      const step = n % 10;
      let res;
      if (step < 3) res = await para.post('soakitem', { name: `w${w} n${n}`, tags: [`t${n % 20}`], v: n });
      else if (step < 5) res = await para.get('soakitems', { q: `t${n % 20}`, limit: 10 });
      else if (step < 6) res = await para.post('_batch', [{ type: 'soakbatch', name: `b${n}` }, { type: 'soakbatch', name: `c${n}` }]);
      else if (step < 7) res = await para.get('soakitems/search/tagged', { tags: `t${n % 20}` });
      else if (step < 9) res = await para.patch(`things/${things[n % things.length].id}`, { deviceState: { n } });
      else res = await para.get(`things/${things[n % things.length].id}`);
      counts.requests++;
      if (res.status >= 400) counts.errors++;
      if (n % 500 === 0) await para.delete('_batch', { ids: (await para.get('soakbatches', { limit: 100 })).body.items.map((o) => o.id) });
    }
  }
  async function reporter(client, thing) {
    let n = 0;
    while (Date.now() < deadline) {
      await dev.publish(client, dev.shadowTopic(thing.deviceDetails.thingName, 'update'), { state: { reported: { n: n++ } } }).catch(() => {});
      counts.reports++;
      await sleep(20);
    }
  }
  await Promise.all([...Array.from({ length: 8 }, (_, w) => worker(w)), ...devices.map((c, i) => reporter(c, things[i]))]);
  clearInterval(sampler);
  samples.push([(Date.now() - t0) / 1000, rssMiB(server.child.pid)]);
  for (const c of devices) c.end(true);
  await server.stop();
  server.cleanup();

  const second = samples.slice(Math.floor(samples.length / 2));
  const perMinute = slope(second) * 60;
  const flat = Math.abs(perMinute) < 0.5;
  const lines = [
    '# Soak run', '',
    `${seconds} s of mixed load on ${new Date().toISOString()} (\`make soak\`): 8 API workers (POST, search, batch,`,
    'tagged, PATCH/GET Things) and 8 devices reporting over MQTT every 20 ms; RSS of para-server every 10 s.', '',
    `requests: ${counts.requests} (${counts.errors} errors), device reports: ${counts.reports}`, '',
    `RSS: start ${samples[0][1].toFixed(1)} MiB, end ${samples[samples.length - 1][1].toFixed(1)} MiB, ` +
      `second-half slope ${perMinute.toFixed(3)} MiB/min -> ${flat ? '**flat**' : '**growing**'}`, '',
    '| t (s) | RSS (MiB) |', '|---|---|', ...samples.map(([t, r]) => `| ${t.toFixed(0)} | ${r.toFixed(1)} |`), '',
  ];
  fs.writeFileSync(report, lines.join('\n'));
  console.log(lines.join('\n'));
  process.exit(counts.errors === 0 ? 0 : 1);
}

main().catch((e) => { console.error(e); process.exit(1); });
