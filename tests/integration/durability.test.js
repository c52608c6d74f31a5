'use strict';
// What the API acknowledged survives kill -9: write under load, kill the
// server without warning, restart it on the same data directory and find
// every acknowledged write.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { ServerProcess, ROOT_SECRET } = require('./lib/server');
const { ParaClient } = require('./lib/para_client');

const TRIALS = 3;
const WRITERS = 16;

async function writeUntilKilled(client, acknowledged, trial) {
  let n = 0;
  const writers = Array.from({ length: WRITERS }, async (_, w) => {
    for (;;) {
      const id = `t${trial}-w${w}-${n++}`;
      let res;
      try {
        res = await client.post('durable', { id, name: id, payload: 'x'.repeat(200) });
      } catch (e) {
        return; // the server is gone
      }
      if (res.status !== 201) throw new Error(`write failed: ${res.status} ${res.text}`);
      acknowledged.push(id);
      // Also update an earlier object: the acknowledged patch must survive too.
      if (acknowledged.length % 10 === 0) {
        const target = acknowledged[acknowledged.length - 5];
        try {
          const p = await client.patch(`durable/${encodeURIComponent(target)}`, { patched: true });
          if (p.status === 200) acknowledged.patched.add(target);
        } catch (e) {
          return;
        }
      }
    }
  });
  return Promise.all(writers);
}

test(`acknowledged writes survive kill -9 (${TRIALS} trials)`, { timeout: 120000 }, async () => {
  let server = await new ServerProcess().start();
  const dataDir = server.dataDir;
  const all = [];
  const patched = new Set();
  for (let trial = 0; trial < TRIALS; trial++) {
    const client = new ParaClient(server.endpoint, 'app:para', ROOT_SECRET);
    const acknowledged = [];
    acknowledged.patched = patched;
    const writing = writeUntilKilled(client, acknowledged, trial);
    await new Promise((r) => setTimeout(r, 800 + 300 * trial));
    const exit = await server.kill9();
    assert.equal(exit.signal, 'SIGKILL');
    await writing;
    assert.ok(acknowledged.length > 20, `only ${acknowledged.length} writes were acknowledged`);
    all.push(...acknowledged);
    server = await new ServerProcess({ dataDir }).start();
    const check = new ParaClient(server.endpoint, 'app:para', ROOT_SECRET);
    for (const id of all) {
      const res = await check.get(`durable/${encodeURIComponent(id)}`);
      assert.equal(res.status, 200, `acknowledged write ${id} was lost after kill -9 (trial ${trial})`);
      if (patched.has(id)) assert.equal(res.body.patched, true, `acknowledged patch of ${id} was lost`);
    }
    console.log(`trial ${trial}: ${acknowledged.length} acknowledged writes, all ${all.length} present after restart`);
  }
  await server.stop();
  server.cleanup();
});
