'use strict';
// Scenario 4b: RSS of para-server and of its Mosquitto with N connected idle
// devices (each its own Thing and certificate, subscribed to its delta
// topic), N up to 10k. (The 100k-objects RSS is measured in search.js.)
const { Server, ROOT_SECRET, memory, sleep } = require('../lib/server');
const { Para } = require('../lib/para');
const { createThings, connectDevice, endAll } = require('../lib/devices');
const { log } = require('../lib/common');

const SECTION = 'Memory';

async function run(ctx) {
  const n = ctx.cfg.idleDevices;
  // synchronous=normal only to make provisioning N things quicker; it does
  // not change what an idle connection costs.
  const server = await new Server({ iot: true, env: { para_sqlite_synchronous: 'normal' } }).start();
  const clients = [];
  try {
    const para = new Para({ host: '127.0.0.1', port: server.port, accessKey: 'app:para', secretKey: ROOT_SECRET });
    const mosqPid = server.mosquittoPid();
    const m0 = { server: memory(server.pid).rssMiB, broker: memory(mosqPid).rssMiB };
    log(`memory: provisioning ${n} things`);
    const t0 = Date.now();
    const things = await createThings(para, n, { prefix: 'idle', concurrency: 8 });
    const createSecs = (Date.now() - t0) / 1000;
    ctx.row('MQTT', {
      scenario: 'Thing creation: EC at scale [sync=normal]',
      config: `${n} POST /v1/things, 8 in flight`,
      rps: n / createSecs,
      note: `${createSecs.toFixed(1)} s for ${n} things (provisioning for the idle-device memory test)`,
    });
    await sleep(500);
    const m1 = { server: memory(server.pid).rssMiB, broker: memory(mosqPid).rssMiB };
    log(`memory: connecting ${n} devices`);
    const t1 = Date.now();
    let failed = 0;
    let firstError;
    let next = 0;
    await Promise.all(Array.from({ length: 64 }, async () => {
      while (next < n) {
        const i = next++;
        try {
          clients[i] = await connectDevice(things[i], server.iotPort, [`$aws/things/${things[i].thingName}/shadow/update/delta`]);
        } catch (e) {
          failed++;
          firstError = firstError || e;
        }
      }
    }));
    const connectSecs = (Date.now() - t1) / 1000;
    const connected = clients.filter(Boolean).length;
    let dropped = 0;
    for (const c of clients.filter(Boolean)) c.once('close', () => { dropped++; });
    await sleep(ctx.cfg.idleSeconds * 1000);
    const m2 = { server: memory(server.pid), broker: memory(mosqPid) };
    const perDev = (a, b) => (connected ? ((a - b) * 1024) / connected : 0);
    ctx.row(SECTION, {
      scenario: `para-server RSS, ${connected} idle devices connected`,
      config: `${n} things; devices subscribed to update/delta, idle ${ctx.cfg.idleSeconds} s`,
      rssMiB: m2.server.rssMiB,
      note: `empty ${m0.server.toFixed(1)} MiB; after provisioning ${m1.server.toFixed(1)} MiB; +${perDev(m2.server.rssMiB, m1.server).toFixed(1)} KiB per connected device; ${m2.server.threads} threads`,
    });
    ctx.row(SECTION, {
      scenario: `Mosquitto RSS, ${connected} idle devices connected`,
      config: 'the broker para-server supervises',
      rssMiB: m2.broker.rssMiB,
      note: `empty ${m0.broker.toFixed(1)} MiB; +${perDev(m2.broker.rssMiB, m1.broker).toFixed(1)} KiB per connected device; ${connected}/${n} connected in ${connectSecs.toFixed(1)} s (${(connected / connectSecs).toFixed(0)} TLS connects/s)${failed ? `; ${failed} failed: ${firstError.message}` : ''}${dropped ? `; ${dropped} dropped while idle` : ''}`,
      error: failed || dropped ? `${failed} devices failed to connect, ${dropped} dropped` : undefined,
    });
    log(`memory: ${connected} devices: server ${m2.server.rssMiB.toFixed(1)} MiB, broker ${m2.broker.rssMiB.toFixed(1)} MiB`);
  } finally {
    await endAll(clients);
    await server.stop();
    server.cleanup();
  }
}

module.exports = { run };
