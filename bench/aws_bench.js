'use strict';
// AWS IoT broker costs (issue 5), against moto behind the test proxy with an
// injected 20 ms latency per call (like a server a few regions from AWS):
// how many AWS calls each Thing operation makes, and sustained create/delete
// throughput with the per-API request rates the pacing allows.
//
//   node bench/aws_bench.js [seconds=20] [report=bench/AWS.md]
const fs = require('node:fs');
const path = require('node:path');
const { ServerProcess, ROOT_SECRET } = require('../tests/integration/lib/server');
const { ParaClient } = require('../tests/integration/lib/para_client');
const { startMoto, startFaultProxy } = require('../tests/integration/lib/aws');

const seconds = Number(process.argv[2] || 20);
const report = process.argv[3] || path.resolve(__dirname, 'AWS.md');
const LIMITS = { CreateThing: 15, CreateKeysAndCertificate: 10, CreatePolicy: 10, AttachPolicy: 15,
  AttachThingPrincipal: 15, UpdateCertificate: 10, DetachThingPrincipal: 15, DetachPolicy: 15,
  DeleteCertificate: 10, DeletePolicy: 10, DeleteThing: 15 };

function callsByOp(calls) {
  const out = {};
  for (const c of calls) out[c] = (out[c] || 0) + 1;
  return out;
}

// The busiest one-second window per operation.
function peakRates(times) {
  const byOp = {};
  for (const { op, at } of times) (byOp[op] = byOp[op] || []).push(at);
  const peaks = {};
  for (const [op, ts] of Object.entries(byOp)) {
    ts.sort((a, b) => a - b);
    let best = 0;
    for (let i = 0, j = 0; i < ts.length; i++) {
      while (ts[i] - ts[j] >= 1000) j++;
      best = Math.max(best, i - j + 1);
    }
    peaks[op] = best;
  }
  return peaks;
}

async function main() {
  const moto = await startMoto();
  const proxy = await startFaultProxy(moto.port);
  const server = await new ServerProcess({ env: {
    AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing', AWS_REGION: 'us-east-1',
    para_iot_aws_endpoint: proxy.url, para_iot_aws_data_endpoint: proxy.url, para_log_level: 'info' } }).start();
  const para = new ParaClient(server.endpoint, 'app:para', ROOT_SECRET);
  const lines = ['# AWS IoT broker: calls per operation and sustained rates', '',
    `moto behind a proxy adding ${20} ms per call; ${new Date().toISOString()}; \`node bench/aws_bench.js\`.`, ''];
  try {
    proxy.state.latencyMs = 20;
    await para.post('things', { name: 'warm-up', serviceBroker: 'AWS' });  // DescribeEndpoint, cached after
    const ops = [];
    proxy.clear();
    let t = Date.now();
    const created = await para.post('things', { name: 'one', serviceBroker: 'AWS', deviceState: { a: 1 } });
    ops.push(['create (with an initial deviceState)', proxy.state.calls.slice(), Date.now() - t]);
    proxy.clear(); t = Date.now();
    await para.get(`things/${created.body.id}`);
    ops.push(['read (GET)', proxy.state.calls.slice(), Date.now() - t]);
    proxy.clear(); t = Date.now();
    await para.patch(`things/${created.body.id}`, { deviceState: { a: 2 } });
    ops.push(['update (PATCH deviceState)', proxy.state.calls.slice(), Date.now() - t]);
    proxy.clear(); t = Date.now();
    await para.delete(`things/${created.body.id}`);
    ops.push(['delete', proxy.state.calls.slice(), Date.now() - t]);
    lines.push('| operation | AWS calls | latency (ms) | calls |', '|---|---|---|---|');
    for (const [name, calls, ms] of ops) {
      lines.push(`| ${name} | ${calls.length} | ${ms} | ${Object.entries(callsByOp(calls)).map(([k, v]) => `${k}×${v}`).join(', ')} |`);
    }

    // Sustained: 8 clients creating and deleting as fast as they can.
    proxy.clear();
    const deadline = Date.now() + seconds * 1000;
    let createdCount = 0;
    let deletedCount = 0;
    let errors = 0;
    await Promise.all(Array.from({ length: 8 }, async () => {
      while (Date.now() < deadline) {
        const c = await para.post('things', { name: 'load', serviceBroker: 'AWS' });
        if (c.status !== 201) { errors++; continue; }
        createdCount++;
        const d = await para.delete(`things/${c.body.id}`);
        if (d.status === 200) deletedCount++; else errors++;
      }
    }));
    const elapsed = seconds;
    const peaks = peakRates(proxy.state.times);
    lines.push('', `Sustained, 8 clients, ${elapsed} s: ${(createdCount / elapsed).toFixed(2)} creates/s and ` +
      `${(deletedCount / elapsed).toFixed(2)} deletes/s, ${errors} errors.`, '',
      '| AWS API | published limit (TPS) | busiest second | within |', '|---|---|---|---|');
    for (const [op, limit] of Object.entries(LIMITS)) {
      const peak = peaks[op] || 0;
      lines.push(`| ${op} | ${limit} | ${peak} | ${peak <= limit ? 'yes' : '**no**'} |`);
    }
  } finally {
    await server.stop();
    server.cleanup();
    await proxy.stop();
    moto.stop();
  }
  lines.push('');
  fs.writeFileSync(report, lines.join('\n'));
  console.log(lines.join('\n'));
}

main().catch((e) => { console.error(e); process.exit(1); });
