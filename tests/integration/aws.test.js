'use strict';
// Things on AWS IoT, against moto (the AWS emulator) with boto3 as the
// outside observer, and a proxy in between that injects failures.
const { test: nodeTest, before, after, beforeEach } = require('node:test');
const { spawnSync } = require('node:child_process');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { ServerProcess, ROOT_SECRET } = require('./lib/server');
const { ParaClient } = require('./lib/para_client');
const { startMoto, startFaultProxy, boto } = require('./lib/aws');
const { run } = require('./lib/device');

// moto and boto3 come with the machine (they cannot be installed from PyPI
// here); without them this suite says so and skips instead of failing.
const HAS_MOTO = spawnSync('python3', ['-c', 'import moto, boto3']).status === 0;
const test = HAS_MOTO ? nodeTest : (name, ...rest) => nodeTest(name, { skip: 'python3 with moto and boto3 is not installed' }, () => {});
if (!HAS_MOTO) console.log('# SKIP: the AWS suite needs python3 with moto and boto3');

let moto;
let proxy;
let server;
let para;

function awsEnv(proxyUrl) {
  return {
    AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing', AWS_REGION: 'us-east-1',
    para_iot_aws_endpoint: proxyUrl, para_iot_aws_data_endpoint: proxyUrl,
    para_iot_aws_reconcile_interval: '1', para_iot_aws_timeout: '1500',
  };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function audit() { return boto(moto.url, 'audit'); }

async function createAwsThing(body = {}) {
  const res = await para.post('things', { name: 'aws-device', serviceBroker: 'AWS', ...body });
  assert.equal(res.status, 201, res.text);
  return res.body;
}

async function waitFor(check, what, timeoutMs = 20000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error('timed out waiting for ' + what);
    await sleep(250);
  }
}

before(async () => {
  if (!HAS_MOTO) return;
  moto = await startMoto();
  proxy = await startFaultProxy(moto.port);
  server = await new ServerProcess({ env: awsEnv(proxy.url) }).start();
  para = new ParaClient(server.endpoint, 'app:para', ROOT_SECRET);
});

after(async () => {
  if (!HAS_MOTO) return;
  const exit = await server.stop();
  await proxy.stop();
  moto.stop();
  assert.equal(exit.code, 0, server.log);
  assert.doesNotMatch(server.log, / -> 500 /);
  assert.doesNotMatch(server.log, /BEGIN RSA PRIVATE KEY|testing\b.*secret/i, 'no key or secret in the log');
  server.cleanup();
});

beforeEach(() => proxy && proxy.clear());

test('create provisions thing, active certificate and least-privilege policy in AWS', async () => {
  const thing = await createAwsThing();
  const d = thing.deviceDetails;
  const name = `para-${thing.id}`;
  assert.equal(thing.serviceBroker, 'AWS');
  assert.equal(d.thingName, name);
  assert.equal(d.clientId, name);
  assert.match(d.thingARN, new RegExp(`^arn:aws:iot:us-east-1:\\d+:thing/${name}$`));
  assert.match(d.clientCertARN, /^arn:aws:iot:us-east-1:\d+:cert\/[0-9a-f]{64}$/);
  assert.match(d.privateKey, /BEGIN RSA PRIVATE KEY/);
  assert.match(d.publicKey, /BEGIN PUBLIC KEY/);
  assert.equal(d.region, 'us-east-1');
  assert.equal(d.port, 8883);
  assert.match(d.host, /-ats\.iot\.us-east-1\.amazonaws\.com$/);
  assert.equal(thing.deviceMetadata, undefined);

  const aws = await audit();
  const awsThing = aws.things.find((t) => t.name === name);
  assert.ok(awsThing, 'the thing exists in AWS');
  assert.deepEqual(awsThing.attributes, { appid: 'para' });
  const cert = aws.certificates.find((c) => c.arn === d.clientCertARN);
  assert.equal(cert.status, 'ACTIVE');
  assert.equal(cert.pem, d.clientCert, 'the returned certificate is the one in AWS');
  assert.deepEqual(cert.policies, [`${name}-Policy`], 'the policy is attached to the certificate');
  assert.deepEqual(awsThing.principals, [d.clientCertARN], 'the certificate is attached to the thing');
  const policy = aws.policies.find((p) => p.name === `${name}-Policy`);
  const resources = policy.document.Statement.flatMap((s) => [].concat(s.Resource));
  for (const r of resources) assert.ok(r.includes(name), `policy resource ${r} is limited to the device`);
  assert.equal(proxy.count('CreateThing'), 1);

  const read = await para.get(`things/${thing.id}`);
  assert.ok(!read.text.includes('PRIVATE KEY') && !read.text.includes('deviceMetadata'));
});

test('GET reads the shadow from AWS in the request (one call); PATCH writes desired', async () => {
  const thing = await createAwsThing({ deviceState: { fan: 'low' } });
  const name = `para-${thing.id}`;
  assert.deepEqual((await boto(moto.url, 'shadow', name)).state.desired, { fan: 'low' });
  await boto(moto.url, 'report', name, JSON.stringify({ temp: 30, fan: 'low' }));
  proxy.clear();
  const read = await para.get(`things/${thing.id}`);
  assert.equal(read.status, 200, read.text);
  assert.deepEqual(read.body.deviceState, { temp: 30, fan: 'low' });
  assert.deepEqual(read.body.deviceShadow.state.reported, { temp: 30, fan: 'low' });
  assert.equal(proxy.state.calls.length, 1, `calls: ${proxy.state.calls}`);
  assert.equal(proxy.count('GetThingShadow'), 1);

  const patched = await para.patch(`things/${thing.id}`, { deviceState: { fan: 'high', mode: 'auto' } });
  assert.equal(patched.status, 200, patched.text);
  const shadow = await boto(moto.url, 'shadow', name);
  assert.deepEqual(shadow.state.desired, { fan: 'high', mode: 'auto' });
  const removed = await para.patch(`things/${thing.id}`, { deviceState: { mode: 'auto' } });
  assert.equal(removed.status, 200);
  assert.deepEqual((await boto(moto.url, 'shadow', name)).state.desired, { mode: 'auto' }, 'removed keys leave desired');
});

test('a missing shadow is an empty state, not an error', async () => {
  const thing = await createAwsThing();
  const read = await para.get(`things/${thing.id}`);
  assert.equal(read.status, 200, read.text);
  assert.deepEqual(read.body.deviceState, {});
});

test('DELETE removes thing, certificate, policy and shadow from AWS', async () => {
  const thing = await createAwsThing({ deviceState: { a: 1 } });
  const name = `para-${thing.id}`;
  proxy.clear();
  const del = await para.delete(`things/${thing.id}`);
  assert.equal(del.status, 200, del.text);
  const aws = await audit();
  assert.ok(!aws.things.some((t) => t.name === name));
  assert.ok(!aws.certificates.some((c) => c.arn === thing.deviceDetails.clientCertARN));
  assert.ok(!aws.policies.some((p) => p.name === `${name}-Policy`));
  assert.equal(aws.shadows[name], undefined);
  assert.equal((await para.get(`things/${thing.id}`)).status, 404);
  const order = proxy.state.calls.filter((c) => !c.startsWith('Get') && c !== 'ListPolicyVersions');
  assert.deepEqual(order, ['UpdateCertificate', 'DetachThingPrincipal', 'DetachPolicy', 'DeleteCertificate',
    'DeletePolicy', 'DeleteThing', 'DeleteThingShadow']);
});

test('CSR mode keeps the key on the device; a custom policy is validated', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'para-awscsr-'));
  const gen = await run('openssl', ['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=dev',
    '-keyout', path.join(dir, 'k.pem'), '-out', path.join(dir, 'c.csr')]);
  assert.equal(gen.code, 0, gen.stderr);
  const thing = await createAwsThing({ deviceMetadata: { csr: fs.readFileSync(path.join(dir, 'c.csr'), 'utf8') } });
  assert.equal(thing.deviceDetails.privateKey, undefined);
  assert.equal(proxy.count('CreateCertificateFromCsr'), 1);
  assert.equal(proxy.count('CreateKeysAndCertificate'), 0);

  const before = await audit();
  const bad = await para.post('things', { name: 'x', serviceBroker: 'AWS', deviceMetadata: { policyJSON: { Statement: [] } } });
  assert.equal(bad.status, 400);
  assert.match(bad.body.message, /policyJSON/);
  const custom = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'iot:Connect', Resource: '*' }] };
  const ok = await createAwsThing({ deviceMetadata: { policyJSON: custom } });
  const after = await audit();
  assert.equal(after.things.length, before.things.length + 1, 'the bad create left nothing');
  const policy = after.policies.find((p) => p.name === `para-${ok.id}-Policy`);
  assert.deepEqual(policy.document, custom);
});

const CREATE_STEPS = ['CreateThing', 'CreateKeysAndCertificate', 'CreatePolicy', 'AttachPolicy', 'AttachThingPrincipal'];

test('a create that fails at any step leaves nothing in AWS or in the store', { timeout: 180000 }, async () => {
  for (const op of CREATE_STEPS) {
    for (const kind of ['500', 'throttle', 'reset']) {
      const before = await audit();
      const thingsBefore = (await para.get('things', { limit: 1 })).body.totalHits;
      proxy.clear();
      proxy.fail(op, kind, 100);
      const res = await para.post('things', { name: 'doomed', serviceBroker: 'AWS' });
      proxy.clear();
      assert.ok([502, 503].includes(res.status), `${op}/${kind}: ${res.status} ${res.text}`);
      assert.match(res.body.message, new RegExp(op));
      await waitFor(async () => {
        const a = await audit();
        return a.things.length === before.things.length && a.certificates.length === before.certificates.length &&
          a.policies.length === before.policies.length;
      }, `no orphans after ${op}/${kind}`);
      assert.equal((await para.get('things', { limit: 1 })).body.totalHits, thingsBefore, 'nothing stored');
    }
  }
});

test('a transient failure is retried and the create succeeds', async () => {
  for (const op of CREATE_STEPS) {
    proxy.clear();
    proxy.fail(op, 'throttle', 1);
    const res = await para.post('things', { name: 'retried', serviceBroker: 'AWS' });
    assert.equal(res.status, 201, `${op}: ${res.text}`);
    assert.equal(proxy.count(op), 2, `${op} was tried twice`);
  }
  proxy.clear();
  proxy.fail('CreateThing', 'timeout', 1);
  const slow = await para.post('things', { name: 'after-timeout', serviceBroker: 'AWS' });
  assert.equal(slow.status, 201, slow.text);
});

const DELETE_STEPS = ['UpdateCertificate', 'DetachThingPrincipal', 'DetachPolicy', 'DeleteCertificate', 'DeletePolicy', 'DeleteThing', 'DeleteThingShadow'];

test('a delete that fails at any step is finished by the reconciler', { timeout: 240000 }, async () => {
  for (const op of DELETE_STEPS) {
    const thing = await createAwsThing({ deviceState: { x: 1 } });
    const name = `para-${thing.id}`;
    proxy.clear();
    proxy.fail(op, '500', 1000);
    const res = await para.delete(`things/${thing.id}`);
    assert.equal(res.status, 503, `${op}: ${res.text}`);
    assert.match(res.body.message, /retried in the background/);
    assert.equal((await para.get(`things/${thing.id}`)).status, 200, 'the Thing stays while AWS holds parts of it');
    proxy.clear();
    await waitFor(async () => (await para.get(`things/${thing.id}`)).status === 404, `reconciler after ${op}`);
    const aws = await audit();
    assert.ok(!aws.things.some((t) => t.name === name), `${op}: thing gone`);
    assert.ok(!aws.certificates.some((c) => c.arn === thing.deviceDetails.clientCertARN), `${op}: certificate gone`);
    assert.ok(!aws.policies.some((p) => p.name === `${name}-Policy`), `${op}: policy gone`);
  }
});

test('kill -9 in the middle of a delete: the restarted server finishes it', { timeout: 120000 }, async () => {
  const thing = await createAwsThing();
  const name = `para-${thing.id}`;
  proxy.clear();
  proxy.fail('DeleteCertificate', 'timeout', 1000);
  const pending = para.delete(`things/${thing.id}`).catch(() => null);
  await waitFor(async () => proxy.count('DeleteCertificate') > 0, 'the delete to reach DeleteCertificate');
  await server.kill9();
  await pending;
  proxy.clear();
  server = await new ServerProcess({ dataDir: server.dataDir, env: awsEnv(proxy.url) }).start();
  para = new ParaClient(server.endpoint, 'app:para', ROOT_SECRET);
  await waitFor(async () => (await para.get(`things/${thing.id}`)).status === 404, 'the reconciler after restart');
  const aws = await audit();
  assert.ok(!aws.things.some((t) => t.name === name));
  assert.ok(!aws.certificates.some((c) => c.arn === thing.deviceDetails.clientCertARN));
  assert.ok(!aws.policies.some((p) => p.name === `${name}-Policy`));
});

test('without AWS credentials, AWS Things get a clear 503', async () => {
  const plain = await new ServerProcess().start();
  try {
    const client = new ParaClient(plain.endpoint, 'app:para', ROOT_SECRET);
    const res = await client.post('things', { name: 'x', serviceBroker: 'aws' });
    assert.equal(res.status, 503);
    assert.match(res.body.message, /IoT broker 'AWS' is not configured/);
  } finally {
    await plain.stop();
    plain.cleanup();
  }
});
