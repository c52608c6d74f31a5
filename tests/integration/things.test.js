'use strict';
// IoT Things on the built-in broker, end to end: REST on one side, real
// device clients (Mosquitto's command-line clients, mqtt.js and the stock
// aws-iot-device-sdk) on the other, through the real Mosquitto.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const awsIot = require('aws-iot-device-sdk');
const { ServerProcess, ROOT_SECRET } = require('./lib/server');
const { ParaClient, urlEncode } = require('./lib/para_client');
const dev = require('./lib/device');

let server;
let para;

async function createThing(body = {}) {
  const res = await para.post('things', { name: 'device', ...body });
  assert.equal(res.status, 201, res.text);
  return res.body;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

before(async () => {
  server = await new ServerProcess({ iot: true }).start();
  para = new ParaClient(server.endpoint, 'app:para', ROOT_SECRET);
});

after(async () => {
  const exit = await server.stop();
  assert.equal(exit.code, 0, server.log);
  assert.doesNotMatch(server.log, / -> 500 /);
  assert.doesNotMatch(server.log, /BEGIN (EC |RSA )?PRIVATE KEY/, 'private keys are never logged');
  server.cleanup();
});

test('create returns the device credentials once and hides deviceMetadata', async () => {
  const thing = await createThing({ deviceState: { led: 'on' } });
  const d = thing.deviceDetails;
  assert.equal(thing.serviceBroker, 'local');
  assert.equal(d.thingName, `para-${thing.id}`);
  assert.equal(d.clientId, d.thingName);
  assert.equal(d.thingId, thing.id);
  assert.match(d.clientCert, /^-----BEGIN CERTIFICATE-----/);
  assert.match(d.privateKey, /^-----BEGIN PRIVATE KEY-----/);
  assert.match(d.publicKey, /^-----BEGIN PUBLIC KEY-----/);
  assert.match(d.caCert, /^-----BEGIN CERTIFICATE-----/);
  assert.equal(d.host, 'localhost');
  assert.equal(d.port, server.iotPort);
  assert.match(d.clientCertId, /^[0-9a-f]{64}$/);
  assert.deepEqual(thing.deviceState, { led: 'on' });
  assert.deepEqual(thing.deviceShadow.state.desired, { led: 'on' });
  assert.equal(thing.deviceMetadata, undefined);

  for (const res of [await para.get(`things/${thing.id}`), await para.get(`_id/${thing.id}`),
    await para.get('things'), await para.get(`things/${thing.id}`, { select: 'deviceMetadata,deviceDetails,id' })]) {
    assert.equal(res.status, 200);
    assert.ok(!res.text.includes('deviceMetadata'), 'deviceMetadata is never returned');
    assert.ok(!res.text.includes('deviceDetails'), 'deviceDetails only in the create response');
    assert.ok(!res.text.includes('PRIVATE KEY'), 'the private key is shown once');
  }
  const db = fs.readFileSync(path.join(server.dataDir, 'para.db')).toString('latin1');
  assert.ok(!db.includes(d.privateKey.split('\n')[1]), 'the private key is not stored');
});

test('mosquitto clients: report, read over REST, PATCH desired -> delta, version conflict -> 409', async () => {
  const thing = await createThing();
  const name = thing.deviceDetails.thingName;
  const files = dev.writeDeviceFiles(thing.deviceDetails);
  const T = (s) => dev.shadowTopic(name, s);

  const accepted = await dev.mosquittoRR(files, server.iotPort, T('update'), T('update/accepted'),
    '{"state":{"reported":{"temp":21,"led":"off"}},"clientToken":"c1"}');
  assert.equal(accepted.code, 0, accepted.stderr);
  const acc = JSON.parse(accepted.stdout);
  assert.deepEqual(acc.state, { reported: { temp: 21, led: 'off' } });
  assert.equal(acc.version, 1);
  assert.equal(acc.clientToken, 'c1');

  const read = await para.get(`things/${thing.id}`);
  assert.deepEqual(read.body.deviceState, { temp: 21, led: 'off' });
  assert.deepEqual(read.body.deviceShadow.state.reported, { temp: 21, led: 'off' });
  assert.equal(read.body.deviceShadow.version, 1);

  // A device waiting for its delta while the API asks for a change.
  const sub = dev.run('mosquitto_sub', ['-h', 'localhost', '-p', String(server.iotPort), '--cafile', files.ca,
    '--cert', files.cert, '--key', files.key, '-t', T('update/delta'), '-C', '1', '-W', '5']);
  await sleep(300);
  const patched = await para.patch(`things/${thing.id}`, { deviceState: { temp: 21, led: 'on' } });
  assert.equal(patched.status, 200, patched.text);
  assert.deepEqual(patched.body.deviceShadow.state.delta, { led: 'on' });
  const delta = await sub;
  assert.equal(delta.code, 0, delta.stderr);
  const deltaDoc = JSON.parse(delta.stdout);
  assert.deepEqual(deltaDoc.state, { led: 'on' });
  assert.equal(deltaDoc.version, 2);

  const conflict = await dev.mosquittoRR(files, server.iotPort, T('update'), T('update/rejected'),
    '{"state":{"reported":{"led":"on"}},"version":1,"clientToken":"stale"}');
  assert.equal(conflict.code, 0, conflict.stderr);
  assert.deepEqual(JSON.parse(conflict.stdout).code, 409);
  assert.equal(JSON.parse(conflict.stdout).message, 'Version conflict');
  assert.equal(JSON.parse(conflict.stdout).clientToken, 'stale');
  assert.equal((await para.get(`things/${thing.id}`)).body.deviceShadow.version, 2, 'a rejected update changes nothing');

  // Removing a key from deviceState removes it from desired.
  const removed = await para.patch(`things/${thing.id}`, { deviceState: { temp: 25 } });
  assert.deepEqual(removed.body.deviceShadow.state.desired, { temp: 25 });
  assert.deepEqual(removed.body.deviceState, { temp: 25, led: 'off' }, 'reported merged under desired');
});

test('aws-iot-device-sdk thingShadow: register, get, update, delta, delete', { timeout: 30000 }, async () => {
  const thing = await createThing({ deviceState: { mode: 'eco' } });
  const name = thing.deviceDetails.thingName;
  const files = dev.writeDeviceFiles(thing.deviceDetails);
  const shadows = awsIot.thingShadow({
    keyPath: files.key, certPath: files.cert, caPath: files.ca, clientId: name, host: 'localhost',
    port: server.iotPort, reconnectPeriod: 1000, operationTimeout: 5000,
  });
  const statuses = [];
  const deltas = [];
  const waitFor = async (list, pred) => {
    for (let i = 0; i < 100; i++) {
      const hit = list.find(pred);
      if (hit) return hit;
      await sleep(50);
    }
    throw new Error('timed out: ' + JSON.stringify(list));
  };
  shadows.on('status', (thingName, stat, clientToken, stateObject) => statuses.push({ stat, clientToken, stateObject }));
  shadows.on('delta', (thingName, stateObject) => deltas.push(stateObject));
  try {
    await new Promise((resolve, reject) => {
      shadows.once('connect', () => shadows.register(name, {}, (err, failed) => (err || (failed && failed.length) ? reject(err || failed) : resolve())));
      shadows.once('error', reject);
    });
    const getToken = shadows.get(name);
    const got = await waitFor(statuses, (s) => s.clientToken === getToken);
    assert.equal(got.stat, 'accepted');
    assert.deepEqual(got.stateObject.state.desired, { mode: 'eco' });
    assert.deepEqual(got.stateObject.state.delta, { mode: 'eco' });

    const updateToken = shadows.update(name, { state: { reported: { mode: 'eco', fw: '1.0' } } });
    const updated = await waitFor(statuses, (s) => s.clientToken === updateToken);
    assert.equal(updated.stat, 'accepted');
    const rest = await para.get(`things/${thing.id}`);
    assert.deepEqual(rest.body.deviceState, { mode: 'eco', fw: '1.0' });

    await para.patch(`things/${thing.id}`, { deviceState: { mode: 'boost', fw: '1.0' } });
    const delta = await waitFor(deltas, (d) => d.state && d.state.mode === 'boost');
    assert.ok(delta.version >= 3);

    const deleteToken = shadows.delete(name);
    const deleted = await waitFor(statuses, (s) => s.clientToken === deleteToken);
    assert.equal(deleted.stat, 'accepted');
    const afterDelete = await para.get(`things/${thing.id}`);
    assert.deepEqual(afterDelete.body.deviceState, {});
    assert.equal(afterDelete.body.deviceShadow, undefined);
  } finally {
    shadows.end(true);
  }
});

test('a device cannot touch another device\'s shadow', async () => {
  const a = await createThing({ deviceState: { secret: 1 } });
  const b = await createThing();
  const filesA = dev.writeDeviceFiles(a.deviceDetails);
  const filesB = dev.writeDeviceFiles(b.deviceDetails);
  const nameA = a.deviceDetails.thingName;
  const intruder = await dev.connect(filesB, { port: server.iotPort, clientId: b.deviceDetails.thingName, protocolVersion: 5 });
  const owner = await dev.connect(filesA, { port: server.iotPort, clientId: nameA });
  try {
    const seen = dev.collect(intruder);
    await dev.subscribe(intruder, [dev.shadowTopic(nameA, '#'), '#', '$aws/#']);
    const before = (await para.get(`things/${a.id}`)).body.deviceShadow.version;
    await assert.rejects(dev.publish(intruder, dev.shadowTopic(nameA, 'update'), { state: { desired: { secret: 2 } } }),
      (e) => e.code === 135, 'MQTT 5 PUBACK 0x87: not authorized');
    await dev.subscribe(owner, [dev.shadowTopic(nameA, 'update/accepted')]);
    const accepted = dev.nextMessage(owner, dev.shadowTopic(nameA, 'update/accepted'));
    await dev.publish(owner, dev.shadowTopic(nameA, 'update'), { state: { reported: { secret: 1 } } });
    await accepted;
    await sleep(300);
    assert.deepEqual(seen, [], 'the intruder receives nothing of A');
    const after = (await para.get(`things/${a.id}`)).body;
    assert.equal(after.deviceShadow.version, before + 1, 'only the owner\'s update was applied');
    assert.deepEqual(after.deviceShadow.state.desired, { secret: 1 });
    // Client id spoofing: B connecting with A's client id still is B.
    const spoof = await dev.connect(filesB, { port: server.iotPort, clientId: nameA });
    await sleep(200);
    assert.ok(owner.connected, 'A is not kicked by B claiming its client id');
    spoof.end(true);
  } finally {
    intruder.end(true);
    owner.end(true);
  }
});

test('DELETE cuts the device off at once and it can never reconnect', async () => {
  const thing = await createThing();
  const files = dev.writeDeviceFiles(thing.deviceDetails);
  const client = await dev.connect(files, { port: server.iotPort, clientId: thing.deviceDetails.thingName });
  const closed = new Promise((resolve) => client.once('close', () => resolve(Date.now())));
  const started = Date.now();
  const del = await para.delete(`things/${thing.id}`);
  assert.equal(del.status, 200, del.text);
  const closedAt = await closed;
  assert.ok(closedAt - started < 1000, `disconnected after ${closedAt - started} ms`);
  client.end(true);
  await assert.rejects(dev.connect(files, { port: server.iotPort, clientId: thing.deviceDetails.thingName }));
  const sub = await dev.run('mosquitto_sub', ['-h', 'localhost', '-p', String(server.iotPort), '--cafile', files.ca,
    '--cert', files.cert, '--key', files.key, '-t', 'x', '-C', '1', '-W', '3']);
  assert.notEqual(sub.code, 0);
  assert.match(sub.stderr, /certificate revoked|connection was lost|Protocol error/i);
  assert.equal((await para.get(`things/${thing.id}`)).status, 404);
  assert.equal((await para.delete(`things/${thing.id}`)).status, 404);
});

test('CSR mode and RSA keys give certificates devices can connect with', async () => {
  const dir = fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'para-csr-'));
  const keyPath = path.join(dir, 'k.pem');
  const csrPath = path.join(dir, 'c.csr');
  const gen = await dev.run('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-subj', '/CN=i-choose-my-own-name', '-keyout', keyPath, '-out', csrPath]);
  assert.equal(gen.code, 0, gen.stderr);
  const csrThing = await createThing({ deviceMetadata: { csr: fs.readFileSync(csrPath, 'utf8') } });
  assert.equal(csrThing.deviceDetails.privateKey, undefined, 'the key never left the device');
  const csrFiles = dev.writeDeviceFiles(csrThing.deviceDetails, { privateKey: fs.readFileSync(keyPath, 'utf8') });
  const c1 = await dev.connect(csrFiles, { port: server.iotPort, clientId: csrThing.deviceDetails.thingName });
  c1.end(true);
  const info = await dev.run('openssl', ['x509', '-noout', '-subject', '-in', csrFiles.cert]);
  assert.match(info.stdout, new RegExp(`CN ?= ?${csrThing.deviceDetails.thingName}`), 'the CA sets the identity, not the CSR');

  const rsa = await createThing({ deviceMetadata: { keyType: 'RSA' } });
  const rsaFiles = dev.writeDeviceFiles(rsa.deviceDetails);
  const key = await dev.run('openssl', ['pkey', '-noout', '-text', '-in', rsaFiles.key]);
  assert.match(key.stdout, /2048 bit/);
  const c2 = await dev.connect(rsaFiles, { port: server.iotPort, clientId: rsa.deviceDetails.thingName });
  c2.end(true);
});

test('bad Thing input gets a clear 400 and leaves nothing behind', async () => {
  const before = (await para.get('things', { limit: 1 })).body.totalHits;
  const cases = [
    [{ serviceBroker: 'Azure' }, /Invalid serviceBroker 'Azure'/],
    [{ serviceBroker: 7 }, /serviceBroker' must be a string/],
    [{ deviceState: 'on' }, /'deviceState' must be an object/],
    [{ deviceMetadata: 'x' }, /'deviceMetadata' must be an object/],
    [{ deviceMetadata: { keyType: 'DSA' } }, /keyType/],
    [{ deviceMetadata: { csr: 'not a csr' } }, /CSR/i],
    [{ deviceState: { a: { b: { c: { d: { e: { f: { g: 1 } } } } } } } }, /too many levels of nesting/],
    [{ deviceState: { big: 'x'.repeat(9000) } }, /exceeds the maximum size/],
    [{ id: 'a/b' }, /Thing id/],
    [{ properties: { deviceState: { forged: 1 } } }, /'properties' cannot hold 'deviceState'/],
    [{ properties: { deviceShadow: {} } }, /'properties' cannot hold 'deviceShadow'/],
  ];
  for (const [body, message] of cases) {
    const res = await para.post('things', { name: 'bad', ...body });
    assert.equal(res.status, 400, `${JSON.stringify(body).slice(0, 80)}: ${res.text}`);
    assert.match(res.body.message, message);
  }
  assert.equal((await para.get('things', { limit: 1 })).body.totalHits, before, 'no Thing was stored');
  const crl = await dev.run('openssl', ['crl', '-noout', '-text', '-in', path.join(server.dataDir, 'iot/broker/crl.pem')]);
  assert.equal(crl.code, 0);
});

test('PUT and PATCH keep serviceBroker and deviceMetadata; the device stays manageable', async () => {
  const thing = await createThing({ deviceState: { a: 1 } });
  const files = dev.writeDeviceFiles(thing.deviceDetails);
  const put = await para.put(`things/${thing.id}`, { name: 'renamed', deviceState: { b: 2 } });
  assert.equal(put.status, 200, put.text);
  assert.equal(put.body.serviceBroker, 'local');
  assert.deepEqual(put.body.deviceShadow.state.desired, { b: 2 });
  const sneaky = await para.patch(`things/${thing.id}`, { serviceBroker: 'AWS' });
  assert.equal(sneaky.status, 400);
  assert.match(sneaky.body.message, /serviceBroker cannot be changed/);
  const meta = await para.patch(`things/${thing.id}`, { deviceMetadata: { clientCert: 'x' }, name: 'n2' });
  assert.equal(meta.status, 200);
  const cat = await para.put(`cats/${thing.id}`, { name: 'not a thing' });
  assert.equal(cat.status, 409, cat.text);
  const client = await dev.connect(files, { port: server.iotPort, clientId: thing.deviceDetails.thingName });
  const closed = new Promise((resolve) => client.once('close', resolve));
  assert.equal((await para.delete(`things/${thing.id}`)).status, 200);
  await closed;
  await assert.rejects(dev.connect(files, { port: server.iotPort, clientId: thing.deviceDetails.thingName }));
});

test('batch writes of Things go through the broker like single writes', async () => {
  const created = await para.post('_batch', [
    { type: 'thing', name: 'batch-a', deviceState: { on: true } },
    { type: 'thing', name: 'batch-bad', serviceBroker: 'nope' },
    { type: 'note', name: 'not a thing' },
  ]);
  assert.equal(created.status, 200, created.text);
  const thing = created.body.find((o) => o.type === 'thing');
  assert.equal(created.body.length, 2, 'the invalid Thing is skipped');
  assert.match(thing.deviceDetails.privateKey, /PRIVATE KEY/, 'a batch create returns the credentials once');
  const files = dev.writeDeviceFiles(thing.deviceDetails);
  const client = await dev.connect(files, { port: server.iotPort, clientId: thing.deviceDetails.thingName });
  await dev.subscribe(client, [dev.shadowTopic(thing.deviceDetails.thingName, 'update/delta')]);
  const delta = dev.nextMessage(client, dev.shadowTopic(thing.deviceDetails.thingName, 'update/delta'), (d) => d.state.on === false);
  const patched = await para.patch('_batch', [{ id: thing.id, deviceState: { on: false } }]);
  assert.equal(patched.status, 200, patched.text);
  assert.deepEqual(patched.body[0].deviceShadow.state.desired, { on: false });
  await delta;
  const read = await para.get('_batch', { ids: [thing.id] });
  assert.deepEqual(read.body[0].deviceState, { on: false });
  assert.ok(!read.text.includes('deviceMetadata'));
  const closed = new Promise((resolve) => client.once('close', resolve));
  assert.equal((await para.delete('_batch', { ids: [thing.id] })).status, 200);
  await closed;
  await assert.rejects(dev.connect(files, { port: server.iotPort, clientId: thing.deviceDetails.thingName }));
  assert.equal((await para.get(`things/${thing.id}`)).status, 404);
});

test('a device report updates the copy that lists and search return', async () => {
  const thing = await createThing();
  const files = dev.writeDeviceFiles(thing.deviceDetails);
  const T = (s) => dev.shadowTopic(thing.deviceDetails.thingName, s);
  await dev.mosquittoRR(files, server.iotPort, T('update'), T('update/accepted'), '{"state":{"reported":{"zone":"kitchen42"}}}');
  // The synced copy follows within a second (it is written off the device's round trip).
  let found;
  for (let i = 0; i < 40; i++) {
    found = await para.get('things', { q: 'kitchen42' });
    if (found.body.totalHits === 1) break;
    await sleep(100);
  }
  assert.deepEqual(found.body.items.map((o) => o.id), [thing.id]);
  assert.deepEqual(found.body.items[0].deviceState, { zone: 'kitchen42' });
  const byField = await para.get('things', { q: 'deviceState.zone:kitchen42' });
  assert.equal(byField.body.totalHits, 1);
  assert.equal((await para.get('things', { q: 'deviceMetadata.thingName:*' })).body.totalHits, 0, 'deviceMetadata is never searchable');
});

test('apps never see each other\'s things', async () => {
  const { body: keys } = await para.get('_setup/iot-other');
  const other = new ParaClient(server.endpoint, keys.accessKey, keys.secretKey);
  const mine = await createThing();
  assert.equal((await other.get(`things/${mine.id}`)).status, 404);
  assert.equal((await other.delete(`things/${mine.id}`)).status, 404);
  assert.equal((await other.patch(`things/${mine.id}`, { deviceState: { x: 1 } })).status, 404);
  const theirs = await other.post('things', { name: 'theirs' });
  assert.equal(theirs.status, 201);
  assert.equal(theirs.body.deviceDetails.thingName, `iot-other-${theirs.body.id}`);
  assert.equal((await para.get(`things/${theirs.body.id}`)).status, 404);
  // Deleting the app removes its devices too.
  const files = dev.writeDeviceFiles(theirs.body.deviceDetails);
  assert.equal((await para.delete(`app/${urlEncode('app:iot-other')}`)).status, 200);
  await assert.rejects(dev.connect(files, { port: server.iotPort, clientId: theirs.body.deviceDetails.thingName }));
});

test('two apps can never share a device name', async () => {
  // Device names are "{appid}-{id}": app "iot-x" with thing "a-lamp" and app
  // "iot-x-a" with thing "lamp" both ask for "iot-x-a-lamp".
  const clients = {};
  for (const app of ['iot-x', 'iot-x-a']) {
    const { body: keys } = await para.get(`_setup/${app}`);
    clients[app] = new ParaClient(server.endpoint, keys.accessKey, keys.secretKey);
  }
  const first = await clients['iot-x'].post('things', { id: 'a-lamp', name: 'lamp', deviceState: { on: true } });
  assert.equal(first.status, 201, first.text);
  assert.equal(first.body.deviceDetails.thingName, 'iot-x-a-lamp');
  const second = await clients['iot-x-a'].post('things', { id: 'lamp', name: 'lamp', deviceState: { on: false } });
  assert.equal(second.status, 409, second.text);
  assert.equal(second.body.message, "The device name 'iot-x-a-lamp' (app id, '-', thing id) is taken; choose another id.");
  assert.equal((await clients['iot-x-a'].get('things/lamp')).status, 404, 'nothing is left behind');
  // The first Thing is untouched and its device still works.
  const read = await clients['iot-x'].get('things/a-lamp');
  assert.deepEqual(read.body.deviceState, { on: true });
  const files = dev.writeDeviceFiles(first.body.deviceDetails);
  const T = (s) => dev.shadowTopic('iot-x-a-lamp', s);
  const got = await dev.mosquittoRR(files, server.iotPort, T('get'), T('get/accepted'), '{}');
  assert.equal(got.code, 0, got.stderr);
  assert.deepEqual(JSON.parse(got.stdout).state.desired, { on: true });
  // Once the name is free again, the other app may take it.
  assert.equal((await clients['iot-x'].delete('things/a-lamp')).status, 200);
  const third = await clients['iot-x-a'].post('things', { id: 'lamp', name: 'lamp' });
  assert.equal(third.status, 201, third.text);
});

test('no device can take over the shadow service\'s connection', async () => {
  // Client ids are unique across the broker and a device's is its thing
  // name: "para-shadow-service" was the service's own id.
  const squatter = await createThing({ id: 'shadow-service' });
  assert.equal(squatter.deviceDetails.thingName, 'para-shadow-service');
  const client = await dev.connect(dev.writeDeviceFiles(squatter.deviceDetails), { port: server.iotPort, clientId: 'para-shadow-service', reconnectPeriod: 50 });
  try {
    await sleep(300);
    const other = await createThing();
    const name = other.deviceDetails.thingName;
    const files = dev.writeDeviceFiles(other.deviceDetails);
    for (let i = 0; i < 3; ++i) {
      const res = await dev.mosquittoRR(files, server.iotPort, dev.shadowTopic(name, 'update'), dev.shadowTopic(name, 'update/accepted'),
        JSON.stringify({ state: { reported: { n: i } } }));
      assert.equal(res.code, 0, `update ${i} unanswered: ${res.stderr}`);
    }
    assert.equal((await para.patch(`things/${other.id}`, { deviceState: { n: 9 } })).status, 200);
  } finally {
    client.end(true);
  }
});

test('concurrent POSTs of one Thing id provision one device', async () => {
  const results = await Promise.all(Array.from({ length: 8 }, () => para.post('things', { id: 'twice', name: 'twice' })));
  const created = results.filter((r) => r.status === 201);
  assert.equal(created.length, 1, results.map((r) => `${r.status} ${r.text.slice(0, 80)}`).join('\n'));
  for (const r of results.filter((x) => x.status !== 201)) assert.equal(r.status, 409, r.text);
  // The one certificate handed out is the one the server knows (and revokes on DELETE).
  const files = dev.writeDeviceFiles(created[0].body.deviceDetails);
  const client = await dev.connect(files, { port: server.iotPort, clientId: created[0].body.deviceDetails.thingName });
  client.end(true);
  assert.equal((await para.delete('things/twice')).status, 200);
  await assert.rejects(dev.connect(files, { port: server.iotPort, clientId: created[0].body.deviceDetails.thingName }));
});

test('concurrent batches with one Thing id provision it once', async () => {
  const results = await Promise.all(Array.from({ length: 6 }, () => para.post('_batch', [{ id: 'batched', type: 'thing', name: 'b' }])));
  const provisioned = results.filter((r) => r.status === 200 && r.body.length === 1);
  assert.equal(provisioned.length, 1, results.map((r) => `${r.status} ${r.text.slice(0, 60)}`).join('\n'));
  for (const r of results.filter((x) => x !== provisioned[0])) {
    assert.ok((r.status === 200 && r.body.length === 0) || r.status === 409, `${r.status} ${r.text}`);
  }
  // The one provisioned is whole: its shadow answers.
  const patched = await para.patch('things/batched', { deviceState: { on: true } });
  assert.equal(patched.status, 200, patched.text);
  assert.deepEqual(patched.body.deviceState, { on: true });
  assert.equal((await para.delete('things/batched')).status, 200);
});

test('after a restart shadows and certificates still work', { timeout: 60000 }, async () => {
  const thing = await createThing({ deviceState: { keep: true } });
  const files = dev.writeDeviceFiles(thing.deviceDetails);
  const T = (s) => dev.shadowTopic(thing.deviceDetails.thingName, s);
  await dev.mosquittoRR(files, server.iotPort, T('update'), T('update/accepted'), '{"state":{"reported":{"r":1}}}');
  const exit = await server.stop();
  assert.equal(exit.code, 0);
  server = await new ServerProcess({ iot: true, dataDir: server.dataDir, iotPort: server.iotPort }).start();
  para = new ParaClient(server.endpoint, 'app:para', ROOT_SECRET);
  const read = await para.get(`things/${thing.id}`);
  assert.deepEqual(read.body.deviceState, { keep: true, r: 1 });
  const got = await dev.mosquittoRR(files, server.iotPort, T('get'), T('get/accepted'), '{}');
  assert.equal(got.code, 0, got.stderr);
  assert.deepEqual(JSON.parse(got.stdout).state.reported, { r: 1 });
});

test('after kill -9, lists and search catch up with the shadows', { timeout: 60000 }, async () => {
  // The copy lists and search show is written from memory every 500 ms; a
  // report accepted just before the kill is in the shadow, not the copy.
  const thing = await createThing({ deviceState: { n: 0 } });
  const files = dev.writeDeviceFiles(thing.deviceDetails);
  const T = (s) => dev.shadowTopic(thing.deviceDetails.thingName, s);
  const acc = await dev.mosquittoRR(files, server.iotPort, T('update'), T('update/accepted'), '{"state":{"reported":{"crash":1}}}');
  assert.equal(acc.code, 0, acc.stderr);
  assert.equal((await server.kill9()).signal, 'SIGKILL');
  server = await new ServerProcess({ iot: true, dataDir: server.dataDir, iotPort: server.iotPort }).start();
  para = new ParaClient(server.endpoint, 'app:para', ROOT_SECRET);
  assert.deepEqual((await para.get(`things/${thing.id}`)).body.deviceState, { n: 0, crash: 1 }, 'the shadow survived');
  let listed;
  for (let i = 0; i < 30; ++i) {
    listed = (await para.get('things', { limit: 256 })).body.items.find((t) => t.id === thing.id);
    if (listed && listed.deviceState.crash === 1) break;
    await sleep(100);
  }
  assert.deepEqual(listed.deviceState, { n: 0, crash: 1 }, 'the listed copy caught up');
  const found = await para.get('things/search', { q: `id:${thing.id}` });
  assert.deepEqual(found.body.items[0].deviceState, { n: 0, crash: 1 });
});

test('named shadows are separate documents of the same device', async () => {
  const thing = await createThing();
  const files = dev.writeDeviceFiles(thing.deviceDetails);
  const name = thing.deviceDetails.thingName;
  const N = (s) => dev.shadowTopic(name, `name/config/${s}`);
  const res = await dev.mosquittoRR(files, server.iotPort, N('update'), N('update/accepted'), '{"state":{"reported":{"rate":5}}}');
  assert.equal(res.code, 0, res.stderr);
  assert.equal(JSON.parse(res.stdout).version, 1);
  const got = await dev.mosquittoRR(files, server.iotPort, N('get'), N('get/accepted'), '');
  assert.deepEqual(JSON.parse(got.stdout).state.reported, { rate: 5 });
  const classic = await dev.mosquittoRR(files, server.iotPort, dev.shadowTopic(name, 'get'), dev.shadowTopic(name, 'get/rejected'), '');
  assert.equal(JSON.parse(classic.stdout).code, 404);
  assert.equal(JSON.parse(classic.stdout).message, `No shadow exists with name: '${name}'`);
  assert.deepEqual((await para.get(`things/${thing.id}`)).body.deviceState, {}, 'deviceState is the classic shadow');
});

test('replies go at the QoS of the request; deltas at QoS 1, documents at QoS 0', async () => {
  const thing = await createThing();
  const name = thing.deviceDetails.thingName;
  const T = (s) => dev.shadowTopic(name, s);
  const client = await dev.connect(dev.writeDeviceFiles(thing.deviceDetails), { port: server.iotPort, clientId: name });
  try {
    // Subscribed at QoS 1: what arrives at QoS 0 was published at QoS 0 by the server.
    await dev.subscribe(client, ['update/accepted', 'update/rejected', 'update/delta', 'update/documents',
      'get/accepted', 'get/rejected'].map(T), 1);
    const packets = [];
    client.on('message', (topic, payload, packet) => packets.push({ topic, body: JSON.parse(payload.toString()), qos: packet.qos }));
    const replyTo = async (topic, token) => {
      for (let i = 0; i < 100; ++i) {
        const got = packets.find((p) => p.topic === topic && p.body.clientToken === token);
        if (got) return got;
        await sleep(20);
      }
      throw new Error(`no reply on ${topic} for ${token}`);
    };
    await dev.publish(client, T('update'), { state: { reported: { on: false } }, clientToken: 'q0' }, { qos: 0 });
    assert.equal((await replyTo(T('update/accepted'), 'q0')).qos, 0);
    await dev.publish(client, T('update'), { state: { reported: { on: true } }, clientToken: 'q1' }, { qos: 1 });
    assert.equal((await replyTo(T('update/accepted'), 'q1')).qos, 1);
    await dev.publish(client, T('update'), { state: { desired: { on: false } }, clientToken: 'd0' }, { qos: 0 });
    assert.equal((await replyTo(T('update/accepted'), 'd0')).qos, 0);
    const delta = await replyTo(T('update/delta'), 'd0');
    assert.equal(delta.qos, 1, 'a delta asks the device to act: at least once');
    assert.deepEqual(delta.body.state, { on: false });
    const documents = packets.filter((p) => p.topic === T('update/documents'));
    assert.ok(documents.length >= 3 && documents.every((p) => p.qos === 0));
    await dev.publish(client, T('update'), { state: { reported: 1 }, clientToken: 'bad0' }, { qos: 0 });
    const rejected = await replyTo(T('update/rejected'), 'bad0');
    assert.deepEqual([rejected.qos, rejected.body.code], [0, 400]);
    await dev.publish(client, T('get'), { clientToken: 'g0' }, { qos: 0 });
    assert.equal((await replyTo(T('get/accepted'), 'g0')).qos, 0);
    await dev.publish(client, T('get'), { clientToken: 'g1' }, { qos: 1 });
    assert.equal((await replyTo(T('get/accepted'), 'g1')).qos, 1);
  } finally {
    client.end(true);
  }
});

test('bursts from several devices are applied in order, each update once', { timeout: 30000 }, async () => {
  const N = 120;
  const things = await Promise.all([1, 2, 3, 4, 5, 6].map(() => createThing()));
  const clients = [];
  try {
    await Promise.all(things.map(async (thing) => {
      const name = thing.deviceDetails.thingName;
      const files = dev.writeDeviceFiles(thing.deviceDetails);
      const client = await dev.connect(files, { port: server.iotPort, clientId: name });
      clients.push(client);
      const T = (s) => dev.shadowTopic(name, s);
      await dev.subscribe(client, [T('update/accepted'), T('update/rejected'), T('get/accepted')]);
      const replies = [];
      client.on('message', (topic, payload) => replies.push({ topic, body: JSON.parse(payload.toString()) }));
      // Published back to back: the server sees them queued together.
      const sent = [];
      for (let i = 0; i < N; ++i) {
        const update = { state: { reported: { n: i } }, clientToken: `t${i}` };
        if (i === 20) update.version = 1;  // stale by then: 409 on update/rejected
        sent.push(dev.publish(client, T('update'), update));
        if (i === 30) sent.push(dev.publish(client, T('get'), { clientToken: 'g30' }));
      }
      await Promise.all(sent);
      for (let i = 0; i < 100 && replies.length < N + 1; ++i) await sleep(50);
      const accepted = replies.filter((r) => r.topic === T('update/accepted'));
      const rejected = replies.filter((r) => r.topic === T('update/rejected'));
      const got = replies.filter((r) => r.topic === T('get/accepted'));
      assert.equal(accepted.length, N - 1, `${name}: every valid update accepted once`);
      accepted.forEach((r, k) => {
        const i = k < 20 ? k : k + 1;
        assert.equal(r.body.clientToken, `t${i}`, 'accepted in the order sent');
        assert.equal(r.body.version, k + 1, 'versions advance by one per update');
        assert.deepEqual(r.body.state.reported, { n: i });
      });
      assert.equal(rejected.length, 1);
      assert.equal(rejected[0].body.code, 409);
      assert.equal(rejected[0].body.clientToken, 't20');
      assert.equal(got.length, 1);
      assert.deepEqual(got[0].body.state.reported, { n: 30 }, 'a get sees the updates sent before it');
      const rest = (await para.get(`things/${thing.id}`)).body;
      assert.equal(rest.deviceShadow.version, N - 1);
      assert.deepEqual(rest.deviceShadow.state.reported, { n: N - 1 });
    }));
  } finally {
    clients.forEach((c) => c.end(true));
  }
});

// DELETE of `thing` while the broker is stopped (SIGSTOP), which then resumes.
async function deleteWhileBrokerHung(thing) {
  const pid = Number(fs.readFileSync(path.join(server.dataDir, 'iot/broker/mosquitto.pid'), 'utf8'));
  process.kill(pid, 'SIGSTOP');
  try {
    return await para.delete(`things/${thing.id}`);
  } finally {
    process.kill(pid, 'SIGCONT');
  }
}

test('a device whose DELETE failed at a hung broker is cut off once it answers', { timeout: 60000 }, async () => {
  const thing = await createThing();
  const name = thing.deviceDetails.thingName;
  const files = dev.writeDeviceFiles(thing.deviceDetails);
  const client = await dev.connect(files, { port: server.iotPort, clientId: name });
  let closed = false;
  client.on('close', () => { closed = true; });
  const res = await deleteWhileBrokerHung(thing);
  assert.equal(res.status, 503, res.text);
  // Nobody sends the DELETE again: the server's own retry disconnects it.
  for (let i = 0; i < 150 && !closed; ++i) await sleep(100);
  assert.ok(closed, 'the revoked device was disconnected');
  client.end(true);
  await assert.rejects(dev.connect(files, { port: server.iotPort, clientId: name }), 'and cannot reconnect');
  assert.match(server.log, /revoked device .* disconnected on attempt/);
  // The DELETE itself can be repeated and completes.
  assert.equal((await para.delete(`things/${thing.id}`)).status, 200);
  assert.equal((await para.get(`things/${thing.id}`)).status, 404);
});

// The retry the failed DELETE left behind must end with the DELETE that
// succeeds: else it would later cut off a new Thing given the same id.
test('a DELETE repeated at once leaves no retry to cut off a new Thing of that id', { timeout: 60000 }, async () => {
  const thing = await createThing({ id: 'reborn' });
  const name = thing.deviceDetails.thingName;
  const res = await deleteWhileBrokerHung(thing);
  assert.equal(res.status, 503, res.text);
  assert.equal((await para.delete(`things/${thing.id}`)).status, 200, 'repeated before the retry ran');
  const again = await createThing({ id: 'reborn' });
  const client = await dev.connect(dev.writeDeviceFiles(again.deviceDetails), { port: server.iotPort, clientId: name });
  let closed = false;
  client.on('close', () => { closed = true; });
  await sleep(5000);  // more than twice the retry interval (2 s)
  client.end(true);
  assert.equal(closed, false, 'the new device stays connected');
  assert.doesNotMatch(server.log, new RegExp(`revoked device ${name} disconnected on attempt`));
});

test('a broker that dies is restarted and devices reconnect', { timeout: 30000 }, async () => {
  const thing = await createThing();
  const files = dev.writeDeviceFiles(thing.deviceDetails);
  const pid = Number(fs.readFileSync(path.join(server.dataDir, 'iot/broker/mosquitto.pid'), 'utf8'));
  process.kill(pid, 'SIGKILL');
  let connected = null;
  for (let i = 0; i < 60 && !connected; i++) {
    await sleep(250);
    connected = await dev.connect(files, { port: server.iotPort, clientId: thing.deviceDetails.thingName }).catch(() => null);
  }
  assert.ok(connected, 'the device reconnects to the restarted broker');
  connected.end(true);
  assert.match(server.log, /mosquitto exited \(signal 9\); restarting/);
  // The shadow service reconnected and subscribed again: devices get answers.
  const T = (s) => dev.shadowTopic(thing.deviceDetails.thingName, s);
  let answered;
  for (let i = 0; i < 20; i++) {
    // A request published before the service is subscribed again goes unanswered.
    answered = await dev.mosquittoRR(files, server.iotPort, T('update'), T('update/accepted'), '{"state":{"reported":{"up":1}}}', 1);
    if (answered.code === 0) break;
    await sleep(250);
  }
  assert.equal(answered.code, 0, answered.stderr);
  assert.deepEqual(JSON.parse(answered.stdout).state.reported, { up: 1 });
  const patched = await para.patch(`things/${thing.id}`, { deviceState: { after: 'restart' } });
  assert.equal(patched.status, 200, patched.text);
});

test('without Mosquitto the server says why, Things get 503 and the rest works', async () => {
  const broken = await new ServerProcess({ iot: true, env: { para_iot_local_mosquitto: '/nonexistent/mosquitto' } }).start();
  try {
    assert.match(broken.log, /needs Mosquitto, which is not installed at \/nonexistent\/mosquitto/);
    const client = new ParaClient(broken.endpoint, 'app:para', ROOT_SECRET);
    const res = await client.post('things', { name: 'x' });
    assert.equal(res.status, 503);
    assert.match(res.body.message, /Mosquitto/);
    assert.equal((await client.post('cats', { name: 'still fine' })).status, 201);
  } finally {
    await broken.stop();
    broken.cleanup();
  }
});
