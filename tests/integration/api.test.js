'use strict';
// The Para REST API over the network: apps, authentication, object CRUD,
// errors and isolation, driven by a client that signs like para-client-js.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const { ServerProcess, ROOT_SECRET } = require('./lib/server');
const { ParaClient, send, urlEncode } = require('./lib/para_client');
const { superToken, signJwt } = require('./lib/jwt');

let server;
let root;
let child;
let childKeys;

function assertError(res, status, messagePart) {
  assert.equal(res.status, status, `expected ${status}, got ${res.status}: ${res.text}`);
  assert.equal(typeof res.body, 'object', `error body must be JSON: ${res.text}`);
  assert.equal(res.body.code, status);
  assert.equal(typeof res.body.message, 'string');
  if (messagePart) assert.match(res.body.message, messagePart instanceof RegExp ? messagePart : new RegExp(escape(messagePart)));
}

function escape(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function raw(method, path, headers = {}, body) {
  return send({ host: '127.0.0.1', port: server.port, method, path, headers, body });
}

before(async () => {
  server = await new ServerProcess().start();
  root = new ParaClient(server.endpoint, 'app:para', ROOT_SECRET);
  const setup = await root.get('_setup/child-app', { name: 'Child App' });
  assert.equal(setup.status, 200, setup.text);
  childKeys = setup.body;
  child = new ParaClient(server.endpoint, childKeys.accessKey, childKeys.secretKey);
});

after(async () => {
  const exit = await server.stop();
  assert.equal(exit.code, 0, 'SIGTERM must end the server cleanly:\n' + server.log);
  assert.doesNotMatch(server.log, / -> 500 /, 'no request may end in a 500');
  server.cleanup();
});

test('public endpoints: info, health, setup', async () => {
  const info = await raw('GET', '/v1/');
  assert.equal(info.status, 200);
  assert.equal(info.body.info, 'Para - the backend for busy developers.');
  assert.match(info.body.version, /^\d+\.\d+\.\d+/);
  const health = await raw('GET', '/v1/_health');
  assert.deepEqual([health.status, health.body], [200, { message: 'healthy' }]);
  // The root app exists (root_secret_override creates it at start): keys are never shown again.
  const setup = await raw('GET', '/v1/_setup');
  assert.deepEqual([setup.status, setup.body], [200, { message: 'All set!' }]);
});

test('child app setup returns keys once and only the root app may create apps', async () => {
  assert.equal(childKeys.accessKey, 'app:child-app');
  assert.equal(Buffer.from(childKeys.secretKey, 'base64').length, 40);
  assert.equal(childKeys.message, 'Save these keys - they are shown only once!');
  const again = await root.get('_setup/child-app');
  assert.deepEqual(again.body, { message: 'All set!' });
  assertError(await child.get('_setup/grandchild'), 403, 'Only root app can create and initialize other apps.');
  assertError(await root.get(`_setup/${'b'.repeat(255)}`), 400, 'App name is too long: its identifier has 255 characters, at most 128 are allowed.');
});

test('_me returns the calling app without its secret', async () => {
  const me = await child.get('_me');
  assert.equal(me.status, 200);
  assert.equal(me.body.id, 'app:child-app');
  assert.equal(me.body.type, 'app');
  assert.equal(me.body.name, 'Child App');
  assert.equal(me.body.secret, undefined);
  assert.ok(!me.text.includes(childKeys.secretKey), 'the secret must never be returned');
});

test('object CRUD with Para status codes and bodies', async () => {
  const created = await child.post('cat', { type: 'cat', name: 'Tom', color: 'grey', tags: ['a', 'b'] });
  assert.equal(created.status, 201, created.text);
  const cat = created.body;
  assert.match(cat.id, /^\d{15,20}$/);
  assert.equal(cat.type, 'cat');
  assert.equal(cat.appid, 'child-app');
  assert.equal(cat.color, 'grey', 'custom fields are flattened to top level');
  assert.equal(cat.plural, 'cats');
  assert.equal(cat.objectURI, `/cat/${cat.id}`);
  assert.equal(cat.version, 0);
  assert.deepEqual(cat.tags, ['a', 'b']);
  assert.ok(Math.abs(cat.timestamp - Date.now()) < 60000);
  assert.equal(created.headers.location, `/v1/cat/${cat.id}`);
  // A Location a client can follow: percent-encoded, not form-encoded ('+' is another id).
  const spaced = await child.post('cat', { id: 'tom cat+1', name: 'Spaced' });
  assert.equal(spaced.status, 201, spaced.text);
  assert.equal(spaced.headers.location, '/v1/cat/tom%20cat%2B1');

  const read = await child.get(`cats/${cat.id}`);
  assert.equal(read.status, 200);
  assert.deepEqual(read.body, cat);
  const byId = await child.get(`_id/${cat.id}`);
  assert.deepEqual(byId.body, cat);

  const patched = await child.patch(`cat/${cat.id}`, { name: 'Tom II', age: 3, id: 'ignored', type: 'dog' });
  assert.equal(patched.status, 200, patched.text);
  assert.equal(patched.body.name, 'Tom II');
  assert.equal(patched.body.age, 3);
  assert.equal(patched.body.color, 'grey', 'PATCH keeps fields it does not name');
  assert.equal(patched.body.id, cat.id, 'locked fields are ignored by PATCH');
  assert.equal(patched.body.type, 'cat');
  assert.equal(patched.body.version, 1);
  assert.ok(patched.body.updated >= cat.timestamp);

  const removedProp = await child.patch(`cat/${cat.id}`, { age: null });
  assert.equal(removedProp.body.age, undefined, 'a null custom field is removed');

  const put = await child.put(`cat/${cat.id}`, { name: 'Replaced' });
  assert.equal(put.status, 200, put.text);
  assert.equal(put.body.name, 'Replaced');
  assert.equal(put.body.color, undefined, 'PUT replaces the whole object');
  assert.equal(put.body.id, cat.id);

  const upsert = await child.put('cat/put-created-1', { name: 'New by PUT' });
  assert.equal(upsert.status, 200);
  assert.equal((await child.get('cat/put-created-1')).body.name, 'New by PUT');

  const del = await child.delete(`cat/${cat.id}`);
  assert.equal(del.status, 200);
  assertError(await child.get(`cat/${cat.id}`), 404, cat.id);
  assertError(await child.delete(`cat/${cat.id}`), 404);
  assertError(await child.patch(`cat/${cat.id}`, { name: 'x' }), 404);
});

test('optimistic locking: a stale version gets 412 and changes nothing', async () => {
  const { body: obj } = await child.post('doc', { name: 'v0' });
  const first = await child.patch(`doc/${obj.id}`, { name: 'v1', version: obj.version });
  assert.equal(first.status, 200);
  assert.equal(first.body.version, obj.version + 1);
  const stale = await child.patch(`doc/${obj.id}`, { name: 'stale', version: obj.version + 5 });
  assertError(stale, 412, "Update failed due to 'version' mismatch.");
  const now = await child.get(`doc/${obj.id}`);
  assert.equal(now.body.name, 'v1');
  assert.equal(now.body.version, first.body.version);
  const stalePut = await child.put(`doc/${obj.id}`, { name: 'stale put', version: 99 });
  assertError(stalePut, 412);
});

test('_types lists core types and the custom types created', async () => {
  await child.post('zebra', { name: 'z' });
  const types = await child.get('_types');
  assert.equal(types.status, 200);
  assert.equal(types.body.things, 'thing');
  assert.equal(types.body.users, 'user');
  assert.equal(types.body.zebras, 'zebra');
  assert.equal(types.body.cats, 'cat');
  const rootTypes = await root.get('_types');
  assert.equal(rootTypes.body.zebras, undefined, "one app's types are not another's");
});

test('first objects of many new types at once all succeed and all register', async () => {
  const created = await Promise.all(Array.from({ length: 30 }, (_, i) => child.post(`kind${i}`, { name: 'x' })));
  assert.deepEqual(created.map((r) => r.status), Array(30).fill(201), created.map((r) => r.text).find((t) => !t.includes('"id"')));
  const types = (await child.get('_types')).body;
  for (let i = 0; i < 30; ++i) assert.equal(types[`kind${i}s`], `kind${i}`);
});

test('HEAD answers as GET without the body', async () => {
  const { body: cat } = await child.post('cat', { name: 'Headless' });
  const get = await child.get(`cat/${cat.id}`);
  const head = await child.request('HEAD', `cat/${cat.id}`);
  assert.equal(head.status, 200);
  assert.equal(head.text, '');
  assert.equal(head.headers['content-length'], String(Buffer.byteLength(get.text)));
  assert.equal(head.headers['content-type'], get.headers['content-type']);
  assert.equal((await child.request('HEAD', 'cat/no-such-cat')).status, 404);
  assert.equal((await child.request('HEAD', '_newkeys')).status, 405, 'POST-only stays POST-only');
  // On one connection, a HEAD sends no body bytes: the next answer follows its headers.
  const raw = await new Promise((resolve, reject) => {
    const socket = net.connect(server.port, '127.0.0.1');
    let data = '';
    socket.on('data', (d) => { data += d.toString('latin1'); });
    socket.on('close', () => resolve(data));
    socket.on('error', reject);
    socket.end('HEAD /v1/ HTTP/1.1\r\nHost: x\r\n\r\nGET /v1/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  });
  const answers = raw.split(/(?=HTTP\/1\.1 )/);
  assert.equal(answers.length, 2, raw);
  assert.ok(answers[0].endsWith('\r\n\r\n'), answers[0]);
  const length = Number(answers[0].match(/content-length: (\d+)/i)[1]);
  assert.equal(Buffer.byteLength(answers[1].split('\r\n\r\n')[1]), length, 'GET sends what HEAD announced');
});

test('browsers may call the API from another origin (CORS)', async () => {
  // The preflight comes without credentials, before the signed request.
  const pre = await send({ host: '127.0.0.1', port: server.port, method: 'OPTIONS', path: '/v1/cats',
    headers: { Origin: 'https://app.example', 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'authorization,content-type,x-amz-date' } });
  assert.equal(pre.status, 200, pre.text);
  assert.equal(pre.headers['access-control-allow-origin'], '*');
  assert.match(pre.headers['access-control-allow-methods'], /\bPOST\b/);
  assert.equal(pre.headers['access-control-allow-headers'], 'authorization,content-type,x-amz-date');
  const created = await child.request('POST', 'cat', { entity: { name: 'From a page' }, headers: { Origin: 'https://app.example' } });
  assert.equal(created.status, 201, created.text);
  assert.equal(created.headers['access-control-allow-origin'], '*');
  assert.equal(created.headers['access-control-expose-headers'], 'Location');
  const plain = await child.get(`cat/${created.body.id}`);
  assert.equal(plain.headers['access-control-allow-origin'], undefined, 'only for requests from an origin');
  const notPreflight = await send({ host: '127.0.0.1', port: server.port, method: 'OPTIONS', path: '/v1/cats', headers: {} });
  assert.equal(notPreflight.status, 405);
  // Refusals of the HTTP layer (too large, two Host headers) reach the page too.
  const rawAnswer = (text) => new Promise((resolve, reject) => {
    const socket = net.connect(server.port, '127.0.0.1');
    let data = '';
    socket.on('data', (d) => { data += d.toString('latin1'); });
    socket.on('close', () => resolve(data));
    socket.on('error', reject);
    socket.end(text);
  });
  const tooLarge = 'POST /v1/cats HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n';
  for (const [request, status] of [[tooLarge, 400], ['GET /v1/ HTTP/1.1\r\nHost: x\r\nHost: y\r\n', 400]]) {
    const fromPage = await rawAnswer(`${request}Origin: https://app.example\r\n\r\n`);
    assert.match(fromPage, new RegExp(`^HTTP/1\\.1 ${status} `), fromPage);
    assert.match(fromPage, /\r\naccess-control-allow-origin: \*\r\n/i, fromPage);
    assert.doesNotMatch(await rawAnswer(`${request}\r\n`), /access-control-allow-origin/i);
  }
});

test('select= reduces objects to the named fields', async () => {
  const { body: obj } = await child.post('cat', { name: 'Sel', color: 'red', size: 5 });
  const sel = await child.get(`cat/${obj.id}`, { select: 'name,color' });
  assert.deepEqual(sel.body, { name: 'Sel', color: 'red' });
});

test('ids with ":" and "@" work in paths', async () => {
  for (const id of ['test:1', 'user@domain.com', 'a b+c', 'é:ü']) {
    const put = await child.put(`thingy/${urlEncode(id)}`, { name: id });
    assert.equal(put.status, 200, `${id}: ${put.text}`);
    assert.equal(put.body.id, id);
    const read = await child.get(`_id/${urlEncode(id)}`);
    assert.equal(read.status, 200, `${id}: ${read.text}`);
    assert.equal(read.body.name, id);
    const typed = await child.get(`thingy/${urlEncode(id)}`);
    assert.equal(typed.body.id, id);
  }
});

test('JSON numbers round-trip exactly', async () => {
  const values = [0.1, 1e-7, 12.5, 0.30000000000000004, 1.7976931348623157e308, 5e-324, 123456789.12345679,
    2.2250738585072014e-308, 9007199254740993, -0.000001234];
  const body = `{"name":"nums","d":[${values.map((v) => v.toString()).join(',')}],"big":9223372036854775807,"neg":-9223372036854775808,"seventeen":0.12345678901234568}`;
  const created = await child.request('POST', 'num', { rawBody: body, headers: { 'Content-Type': 'application/json' } });
  assert.equal(created.status, 201, created.text);
  const read = await child.get(`num/${created.body.id}`);
  assert.match(read.text, /"big":9223372036854775807/);
  assert.match(read.text, /"neg":-9223372036854775808/);
  assert.match(read.text, /"seventeen":0.12345678901234568/);
  assert.deepEqual(read.body.d, values);
  assert.doesNotMatch(read.text, /\dE\d/, 'no Java-style exponents');
});

test('bad JSON, wrong field types and empty bodies get 400 and change nothing', async () => {
  const before = (await child.get('badthings')).body.totalHits;
  const cases = [
    ['{"name": "x",', /Malformed JSON/],
    ['{"name": "x"} trailing', /Malformed JSON/],
    ['[1,2,3]', /Expected a JSON object/],
    ['', /empty/],
    ['{"name": 5}', /'name' must be a string/],
    ['{"tags": "a"}', /'tags' must be an array of strings/],
    ['{"tags": [1]}', /'tags' must be an array of strings/],
    ['{"timestamp": "yesterday"}', /'timestamp' must be an integer/],
    ['{"version": 1.5}', /'version' must be an integer/],
    ['{"stored": "yes"}', /'stored' must be true or false/],
    ['{"properties": [1]}', /'properties' must be an object/],
    ['{"n": 1e999}', /number out of range/],
    ['{"a":' + '['.repeat(100) + ']'.repeat(100) + '}', /nesting deeper/],
    [Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d]), /Malformed JSON/],
  ];
  for (const [body, message] of cases) {
    const res = await child.request('POST', 'badthing', { rawBody: body, headers: { 'Content-Type': 'application/json' } });
    assertError(res, 400, message);
  }
  const { body: obj } = await child.post('badthing', { name: 'ok' });
  assertError(await child.request('PATCH', `badthing/${obj.id}`, { rawBody: '{"name":', headers: {} }), 400, /Malformed JSON/);
  assertError(await child.patch(`badthing/${obj.id}`, { tags: 'x' }), 400);
  assert.equal((await child.get(`badthing/${obj.id}`)).body.name, 'ok');
  assert.equal((await child.get('badthings')).body.totalHits, before + 1);
});

test('an oversized body gets 400 "Request is too large"', async () => {
  const big = JSON.stringify({ name: 'big', blob: 'x'.repeat(1024 * 1024 + 10) });
  const res = await child.request('POST', 'blob', { rawBody: big, headers: { 'Content-Type': 'application/json' } });
  assertError(res, 400, 'Request is too large - the maximum is 1024 KB.');
  const health = await raw('GET', '/v1/_health');
  assert.equal(health.status, 200, 'the server stays up');
});

test('authentication failures', async () => {
  assertError(await raw('GET', '/v1/_me'), 401, /Missing credentials/);
  assertError(await raw('GET', '/v1/_me', { Authorization: 'Anonymous app:child-app' }), 401, /Anonymous access/);
  assertError(await raw('GET', '/v1/_me', { Authorization: 'Basic Zm9vOmJhcg==' }), 401, /Unsupported Authorization/);
  assertError(await raw('GET', '/v1/_me', { Authorization: 'AWS4-HMAC-SHA256 garbage' }), 401);

  const wrongSecret = new ParaClient(server.endpoint, 'app:child-app', 'not-the-secret');
  assertError(await wrongSecret.get('_me'), 403, 'Invalid signature for request GET /v1/_me coming from app child-app');

  const unknown = new ParaClient(server.endpoint, 'app:nope', 'whatever');
  assertError(await unknown.get('_me'), 404, 'App not found.');

  const old = new Date(Date.now() - 20 * 60 * 1000).toISOString().replace(/[:-]|\.\d{3}/g, '');
  assertError(await child.request('GET', '_me', { date: old }), 400, 'Request has expired.');
  const future = new Date(Date.now() + 60 * 60 * 1000).toISOString().replace(/[:-]|\.\d{3}/g, '');
  assertError(await child.request('GET', '_me', { date: future }), 400, /too far in the future/);

  // A signature over different content does not verify.
  const signed = await child.request('GET', '_me', { params: { a: '1' } });
  assert.equal(signed.status, 200);
});

test('a tampered request fails the signature check', async () => {
  const aws4 = require('aws4');
  const opts = { service: 'para', method: 'POST', host: `127.0.0.1:${server.port}`, path: '/v1/cat', body: '{"name":"a"}',
    headers: { 'Content-Type': 'application/json; charset=UTF-8' }, doNotEncodePath: true };
  aws4.sign(opts, { accessKeyId: childKeys.accessKey, secretAccessKey: childKeys.secretKey });
  const res = await raw('POST', '/v1/cat', opts.headers, '{"name":"b"}');
  assertError(res, 403, /Invalid signature/);
});

test('JWT super tokens', async () => {
  const token = superToken('app:child-app', childKeys.secretKey);
  const jwtClient = new ParaClient(server.endpoint, '', '', { jwt: token });
  const me = await jwtClient.get('_me');
  assert.equal(me.status, 200, me.text);
  assert.equal(me.body.id, 'app:child-app');
  const expired = signJwt({ appid: 'app:child-app', iat: 1, nbf: 1, exp: 2 }, childKeys.secretKey);
  const refused = await new ParaClient(server.endpoint, '', '', { jwt: expired }).get('_me');
  // Para's message and header, then which check failed.
  assertError(refused, 401, "You don't have permission to access this resource. [GET /v1/_me] Invalid token: expired");
  assert.equal(refused.headers['www-authenticate'], 'Bearer error="invalid_token"');
  // The same for a token passed as the Authorization query parameter.
  const inQuery = await send({ host: '127.0.0.1', port: server.port, method: 'GET', path: `/v1/_me?Authorization=${encodeURIComponent(`Bearer ${expired}`)}`, headers: {} });
  assertError(inQuery, 401, /Invalid token: expired$/);
  assert.equal(inQuery.headers['www-authenticate'], 'Bearer error="invalid_token"');
  const forged = superToken('app:child-app', 'wrong-secret');
  assertError(await new ParaClient(server.endpoint, '', '', { jwt: forged }).get('_me'), 401, /Invalid token: bad signature$/);
  assert.equal((await root.get('_me')).headers['www-authenticate'], undefined);
  const none = signJwt({ appid: 'app:child-app', exp: 9999999999 }, '', { alg: 'none', typ: 'JWT' });
  assertError(await new ParaClient(server.endpoint, '', '', { jwt: none }).get('_me'), 401);
  assertError(await new ParaClient(server.endpoint, '', '', { jwt: 'a.b' }).get('_me'), 401);
});

test('apps never see each other\'s objects', async () => {
  const { body: secret } = await root.post('vault', { name: 'root only' });
  assertError(await child.get(`vault/${secret.id}`), 404);
  assertError(await child.get(`_id/${secret.id}`), 404);
  assertError(await child.patch(`vault/${secret.id}`, { name: 'hacked' }), 404);
  assertError(await child.delete(`vault/${secret.id}`), 404);
  // Writing the same id in the child app creates the child's own object.
  const own = await child.put(`vault/${secret.id}`, { name: 'child copy' });
  assert.equal(own.status, 200);
  assert.equal((await root.get(`vault/${secret.id}`)).body.name, 'root only');
  const { body: mine } = await child.post('vault', { name: 'child only' });
  assertError(await root.get(`_id/${mine.id}`), 404);
  assert.equal((await root.get('vaults')).body.items.every((o) => o.appid === 'para'), true);
  // An app reads its own record, not another app's.
  assert.equal((await child.get(`app/${urlEncode('app:child-app')}`)).body.id, 'app:child-app');
  assertError(await child.get(`_id/${urlEncode('app:para')}`), 404);
});

test('apps cannot be created or overwritten through object endpoints', async () => {
  assertError(await root.post('app', { id: 'app:sneaky', name: 'x' }), 400, /_setup/);
  assertError(await root.put(`app/${urlEncode('app:child-app')}`, { name: 'x' }), 400, /PATCH/);
  assertError(await child.post('cat', { id: 'app:fake' }), 400, /reserved/);
});

test('new keys replace the old secret', async () => {
  const { body: k } = await root.get('_setup/rotating');
  const before = new ParaClient(server.endpoint, k.accessKey, k.secretKey);
  assert.equal((await before.get('_me')).status, 200);
  const rotated = await before.post('_newkeys');
  assert.equal(rotated.status, 200);
  assert.equal(rotated.body.accessKey, 'app:rotating');
  assert.equal(rotated.body.info, 'Save the secret key! It is showed only once!');
  assert.notEqual(rotated.body.secretKey, k.secretKey);
  assertError(await before.get('_me'), 403, /Invalid signature/);
  const after = new ParaClient(server.endpoint, k.accessKey, rotated.body.secretKey);
  assert.equal((await after.get('_me')).status, 200);
  assertError(await root.post('_newkeys'), 400, /root_secret_override/);
});

test('inactive and read-only apps', async () => {
  const { body: k } = await root.get('_setup/flags');
  const app = new ParaClient(server.endpoint, k.accessKey, k.secretKey);
  const { body: obj } = await app.post('note', { name: 'n' });
  const ro = await root.patch(`app/${urlEncode('app:flags')}`, { readOnly: true });
  assert.equal(ro.status, 200, ro.text);
  assert.equal(ro.body.secret, undefined);
  assertError(await app.post('note', { name: 'no' }), 403, 'App is in read-only mode. [app:flags]');
  assertError(await app.delete(`note/${obj.id}`), 403);
  assert.equal((await app.get(`note/${obj.id}`)).status, 200, 'reads still work');
  await root.patch(`app/${urlEncode('app:flags')}`, { readOnly: false, active: false });
  assertError(await app.get(`note/${obj.id}`), 403, 'App not active. [app:flags]');
  await root.patch(`app/${urlEncode('app:flags')}`, { active: true });
  assert.equal((await app.get(`note/${obj.id}`)).status, 200);
});

test('deleting an app removes its objects and its keys', async () => {
  const { body: k } = await root.get('_setup/doomed');
  const app = new ParaClient(server.endpoint, k.accessKey, k.secretKey);
  const { body: obj } = await app.post('note', { name: 'n' });
  assertError(await root.delete(`app/${urlEncode('app:para')}`), 403, 'The root app cannot be deleted.');
  assert.equal((await root.delete(`app/${urlEncode('app:doomed')}`)).status, 200);
  assertError(await app.get(`note/${obj.id}`), 404, 'App not found.');
  const { body: again } = await root.get('_setup/doomed');
  const reborn = new ParaClient(server.endpoint, again.accessKey, again.secretKey);
  assertError(await reborn.get(`note/${obj.id}`), 404, obj.id);
});

test('unknown routes and methods get Para-shaped 404/405', async () => {
  assertError(await root.get('a/b/c'), 404, /No such endpoint/);
  assertError(await root.request('PATCH', '_types', { entity: {} }), 405, /not allowed/);
  assertError(await root.request('POST', '_id/123', { entity: {} }), 405);
  assertError(await root.post('_whatever', { name: 'x' }), 400, /Invalid type/);
  assertError(await raw('GET', '/v1/%zz'), 400, /Malformed request target/);
});

test('paging a list', async () => {
  for (let i = 0; i < 7; i++) await child.post('pageitem', { name: `p${i}` });
  const first = await child.get('pageitems', { limit: 3 });
  assert.equal(first.body.totalHits, 7);
  assert.equal(first.body.items.length, 3);
  assert.equal(first.body.items[0].name, 'p6', 'newest first by default');
  const third = await child.get('pageitems', { limit: 3, page: 3 });
  assert.deepEqual(third.body.items.map((o) => o.name), ['p0']);
  const asc = await child.get('pageitems', { limit: 2, desc: 'false' });
  assert.deepEqual(asc.body.items.map((o) => o.name), ['p0', 'p1']);
  assertError(await child.get('pageitems', { limit: 'lots' }), 400, /'limit'/);
});

test('things need an IoT broker', async () => {
  assertError(await child.post('thing', { name: 'dev' }), 503, /IoT broker/);
});

test('keep-alive: many requests over one connection', async () => {
  const http = require('node:http');
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const sockets = new Set();
  for (let i = 0; i < 20; i++) {
    await new Promise((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port: server.port, path: '/v1/_health', agent }, (res) => {
        sockets.add(res.socket);
        res.resume();
        res.on('end', resolve);
      });
      req.on('error', reject);
    });
  }
  agent.destroy();
  assert.equal(sockets.size, 1);
});
