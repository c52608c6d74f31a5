'use strict';
// The bad-input catalog: malformed and hostile requests. Every one must get a
// clear 4xx in Para's shape {"code":N,"message":"..."}, never a 5xx; the
// server must stay up and its data must not change.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const aws4 = require('aws4');
const { ServerProcess, ROOT_SECRET } = require('./lib/server');
const { ParaClient, send, urlEncode } = require('./lib/para_client');
const { signJwt } = require('./lib/jwt');

let server;
let para;
let snapshot;

// Sends raw bytes and returns {status, body} of the first response.
function rawHttp(bytes) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(server.port, '127.0.0.1');
    let data = Buffer.alloc(0);
    socket.on('data', (d) => { data = Buffer.concat([data, d]); });
    socket.on('error', () => {});
    socket.on('close', () => {
      const text = data.toString('latin1');
      const status = Number((text.match(/^HTTP\/1\.1 (\d{3})/) || [])[1]);
      const body = text.slice(text.indexOf('\r\n\r\n') + 4);
      resolve({ status, text: body, body: (() => { try { return JSON.parse(body); } catch { return undefined; } })() });
    });
    socket.setTimeout(10000, () => { socket.destroy(); reject(new Error('no answer')); });
    socket.end(bytes);
  });
}

function signedHeaders(method, path, body = '', extra = {}) {
  const opts = { service: 'para', method, host: `127.0.0.1:${server.port}`, path, body, headers: { ...extra }, doNotEncodePath: true };
  if (body) opts.headers['Content-Type'] = 'application/json';
  aws4.sign(opts, { accessKeyId: 'app:para', secretAccessKey: ROOT_SECRET });
  return opts.headers;
}

const json = (body) => ({ rawBody: body, headers: { 'Content-Type': 'application/json' } });
const deep = (n) => '['.repeat(n) + ']'.repeat(n);
const oldDate = () => new Date(Date.now() - 3600e3).toISOString().replace(/[:-]|\.\d{3}/g, '');

// [name, request] where request is a function returning a response promise.
function catalog() {
  const c = [];
  const post = (name, body, type = 'cat') => c.push([name, () => para.request('POST', type, json(body))]);
  const patch = (name, body) => c.push([name, () => para.request('PATCH', 'cat/c1', json(body))]);
  const put = (name, body) => c.push([name, () => para.request('PUT', 'cat/c1', json(body))]);
  const get = (name, path, params) => c.push([name, () => para.get(path, params)]);
  const raw = (name, bytes) => c.push([name, () => rawHttp(bytes)]);
  const hdr = (name, method, path, headers) => c.push([name, () => send({ host: '127.0.0.1', port: server.port, method, path, headers })]);

  // Broken JSON
  for (const body of ['{', '}', '{"a":}', '{"a" 1}', "{'a':1}", '{"a":1,}', '[1,]', 'nul', 'tru', '{"a":"\\x"}',
    '{"a":"unterminated}', '{"a":1}{"b":2}', '\u0000', '{"a":NaN}', '{"a":Infinity}', '{"a":-}', '{"a":01}', '{"a":1e}', '"str"', '42']) {
    post(`POST broken JSON ${JSON.stringify(body).slice(0, 30)}`, body);
  }
  // Deep nesting and huge values
  post('POST nesting 65 deep', `{"a":${deep(64)}}`);
  post('POST nesting 10000 deep', `{"a":${deep(10000)}}`);
  post('PATCH nesting deep', `{"a":${deep(500)}}`);
  post('number 1e400', '{"n":1e400}');
  post('number -1e400', '{"n":-1e400}');
  post('timestamp beyond int64', '{"timestamp":99999999999999999999999}');
  post('version beyond int64', '{"version":18446744073709551616}');
  // Properties named like the object's own fields (a forged id, appid, type)
  for (const key of ['id', 'appid', 'type', 'version', 'objectURI']) {
    post(`POST properties.${key}`, JSON.stringify({ name: 'x', properties: { [key]: 'forged' } }));
    patch(`PATCH properties.${key}`, JSON.stringify({ properties: { [key]: 'forged' } }));
  }
  // Invalid UTF-8
  for (const bytes of [[0xff], [0xc3, 0x28], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80]]) {
    c.push([`invalid UTF-8 ${bytes}`, () => para.request('POST', 'cat', json(Buffer.concat([Buffer.from('{"name":"'), Buffer.from(bytes), Buffer.from('"}')])))]);
  }
  // Wrong field types
  for (const [field, value] of [['name', 1], ['name', []], ['name', {}], ['tags', 'x'], ['tags', [1]], ['tags', [{}]],
    ['timestamp', 'now'], ['timestamp', 1.5], ['timestamp', true], ['updated', 'x'], ['votes', 'x'], ['version', '1'],
    ['version', -1], ['stored', 'yes'], ['indexed', 0], ['cached', null === 1], ['properties', 'x'], ['properties', [1]],
    ['id', 5], ['type', 7], ['parentid', {}], ['creatorid', []]]) {
    if (field === 'cached') continue;
    post(`POST ${field}=${JSON.stringify(value)}`, JSON.stringify({ [field]: value }));
  }
  patch('PATCH tags string', '{"tags":"x"}');
  patch('PATCH version string', '{"version":"2"}');
  patch('PATCH body array', '[1,2]');
  patch('PATCH vote', '{"_voteup":"u1"}');
  put('PUT body string', '"x"');
  put('PUT stale version', '{"name":"x","version":999}');
  // Types and ids
  post('POST type starting with _', '{"name":"x"}', '_hidden');
  post('POST type with space', '{"name":"x"}', urlEncode('a b'));
  post('POST reserved id', '{"id":"app:evil"}');
  post('POST control char id', JSON.stringify({ id: 'a\u0001b' }));
  post('POST 300-char id', JSON.stringify({ id: 'x'.repeat(300) }));
  post('POST an app', '{"name":"x"}', 'app');
  post('POST user without email', '{"identifier":"x"}', 'user');
  c.push(['PUT app', () => para.put(`app/${urlEncode('app:para')}`, { name: 'x' })]);
  c.push(['DELETE root app', () => para.delete(`app/${urlEncode('app:para')}`)]);
  c.push(['POST _newkeys root with override', () => para.post('_newkeys')]);
  // Empty and oversized bodies
  c.push(['POST empty body', () => para.request('POST', 'cat', json(''))]);
  c.push(['POST whitespace body', () => para.request('POST', 'cat', json('  \n '))]);
  c.push(['POST 2 MiB body', () => para.request('POST', 'cat', json(JSON.stringify({ blob: 'x'.repeat(2 << 20) })))]);
  raw('Content-Length beyond limit', 'POST /v1/cat HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n');
  raw('header block over 16 KB', `GET /v1/_health HTTP/1.1\r\nHost: x\r\nX-A: ${'a'.repeat(17000)}\r\n\r\n`);
  raw('thousands of headers', `GET /v1/_health HTTP/1.1\r\nHost: x\r\n${'X-H: v\r\n'.repeat(3000)}\r\n`);
  // Malformed HTTP
  raw('garbage request line', 'HELLO\r\n\r\n');
  raw('two Host headers', 'GET /v1/ HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n');
  raw('HTTP/1.1 without Host', 'GET /v1/ HTTP/1.1\r\n\r\n');
  raw('bad version', 'GET /v1/ HTTP/9.9\r\nHost: x\r\n\r\n');
  raw('bad Content-Length', 'POST /v1/cat HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n');
  raw('two Content-Lengths', 'POST /v1/cat HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}');
  raw('bad chunk size', 'POST /v1/cat HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n');
  raw('space in header name', 'GET /v1/ HTTP/1.1\r\nHo st: x\r\n\r\n');
  raw('absolute-form target', 'GET http://evil/v1/ HTTP/1.1\r\nHost: x\r\n\r\n');
  raw('asterisk target', 'OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n');
  // Paths
  for (const path of ['/v1/../etc/passwd', '/v1/%2e%2e/%2e%2e/etc/passwd', '/v1/cats/..%2f..%2f', '/v1/cat/%00', '/v1/%zz',
    '/v1/cat/a%2', '/v2/cats', '/', '/etc/passwd', '/v1/a/b/c/d', '/v1//cats']) {
    c.push([`path ${path}`, () => {
      let headers = {};
      try { headers = signedHeaders('GET', path); } catch (e) { /* aws4 cannot sign a malformed path: send it unsigned */ }
      return send({ host: '127.0.0.1', port: server.port, method: 'GET', path, headers });
    }]);
  }
  c.push(['method not allowed', () => para.request('PATCH', '_types', json('{}'))]);
  c.push(['method not allowed on _id', () => para.request('DELETE', '_id/x')]);
  c.push(['unknown method', () => send({ host: '127.0.0.1', port: server.port, method: 'BREW', path: '/v1/', headers: {} })]);
  // Authentication
  hdr('no Authorization', 'GET', '/v1/_me', {});
  hdr('empty Authorization', 'GET', '/v1/_me', { Authorization: '' });
  hdr('Basic auth', 'GET', '/v1/_me', { Authorization: 'Basic YTpi' });
  hdr('Anonymous', 'GET', '/v1/_me', { Authorization: 'Anonymous app:para' });
  hdr('accessKey param only', 'GET', '/v1/_me?accessKey=app:para', {});
  hdr('AWS4 no fields', 'GET', '/v1/_me', { Authorization: 'AWS4-HMAC-SHA256' });
  hdr('AWS4 garbage', 'GET', '/v1/_me', { Authorization: 'AWS4-HMAC-SHA256 ,,,===///' });
  hdr('AWS4 no Signature', 'GET', '/v1/_me', { Authorization: 'AWS4-HMAC-SHA256 Credential=app:para/20240101/us-east-1/para/aws4_request, SignedHeaders=host' });
  hdr('AWS4 short Signature', 'GET', '/v1/_me', { Authorization: 'AWS4-HMAC-SHA256 Credential=app:para/x, SignedHeaders=host, Signature=abc' });
  hdr('AWS4 no date', 'GET', '/v1/_me', { Authorization: `AWS4-HMAC-SHA256 Credential=app:para/x, SignedHeaders=host, Signature=${'0'.repeat(64)}` });
  hdr('AWS4 bad date', 'GET', '/v1/_me', { 'X-Amz-Date': 'yesterday', Authorization: `AWS4-HMAC-SHA256 Credential=app:para/x, SignedHeaders=host, Signature=${'0'.repeat(64)}` });
  hdr('AWS4 wrong signature', 'GET', '/v1/_me', { ...signedHeaders('GET', '/v1/_me'), Authorization: signedHeaders('GET', '/v1/_me').Authorization.replace(/Signature=\w+/, `Signature=${'a'.repeat(64)}`) });
  hdr('AWS4 expired', 'GET', '/v1/_me', signedHeaders('GET', '/v1/_me', '', { 'X-Amz-Date': oldDate() }));
  hdr('AWS4 unknown app', 'GET', '/v1/_me', { ...signedHeaders('GET', '/v1/_me'), Authorization: signedHeaders('GET', '/v1/_me').Authorization.replace('app:para', 'app:nobody') });
  hdr('AWS4 empty access key', 'GET', '/v1/_me', { ...signedHeaders('GET', '/v1/_me'), Authorization: signedHeaders('GET', '/v1/_me').Authorization.replace('app:para', '') });
  hdr('signed for another path', 'GET', '/v1/_types', signedHeaders('GET', '/v1/_me'));
  hdr('signed for another host', 'GET', '/v1/_me', { ...signedHeaders('GET', '/v1/_me'), Host: 'evil.example' });
  hdr('Bearer empty', 'GET', '/v1/_me', { Authorization: 'Bearer ' });
  hdr('Bearer garbage', 'GET', '/v1/_me', { Authorization: 'Bearer !!!.???.***' });
  hdr('Bearer no appid', 'GET', '/v1/_me', { Authorization: `Bearer ${signJwt({ exp: 9999999999 }, ROOT_SECRET)}` });
  hdr('Bearer unknown app', 'GET', '/v1/_me', { Authorization: `Bearer ${signJwt({ appid: 'app:nope', exp: 9999999999 }, ROOT_SECRET)}` });
  hdr('Bearer alg none', 'GET', '/v1/_me', { Authorization: `Bearer ${signJwt({ appid: 'app:para', exp: 9999999999 }, '', { alg: 'none' })}` });
  hdr('Bearer HS512', 'GET', '/v1/_me', { Authorization: `Bearer ${signJwt({ appid: 'app:para', exp: 9999999999 }, ROOT_SECRET, { alg: 'HS512', typ: 'JWT' })}` });
  hdr('Bearer not yet valid', 'GET', '/v1/_me', { Authorization: `Bearer ${signJwt({ appid: 'app:para', exp: 9999999999, nbf: 9999999998 }, ROOT_SECRET)}` });
  hdr('Bearer without exp', 'GET', '/v1/_me', { Authorization: `Bearer ${signJwt({ appid: 'app:para' }, ROOT_SECRET)}` });
  // Query parameters
  get('limit negative', 'cats', { limit: -5 });
  get('limit text', 'cats', { limit: 'ten' });
  get('page text', 'cats', { page: 'x' });
  get('page huge', 'cats', { page: '99999999999999999999999' });
  get('lastKey garbage', 'cats', { lastKey: '%%%' });
  get('lastKey valid base64 not a cursor', 'cats', { lastKey: 'e30' });
  get('sort on hidden chars', 'cats', { sort: 'a;DROP TABLE objects' });
  get('q unbalanced', 'cats', { q: '(a' });
  get('q dangling operator', 'cats', { q: 'a AND' });
  get('q too long', 'cats', { q: 'a '.repeat(3000) });
  get('q too deep', 'search', { q: '('.repeat(50) + 'a' + ')'.repeat(50) });
  get('id query without id', 'cats/search/id', {});
  get('prefix without field', 'cats/search/prefix', { prefix: 'a' });
  get('nearby bad latlng', 'search/nearby', { latlng: 'x,y' });
  get('terms without colon', 'cats/search/terms', { terms: 'nocolon' });
  // Batch
  c.push(['batch object body', () => para.request('POST', '_batch', json('{"a":1}'))]);
  c.push(['batch broken JSON', () => para.request('POST', '_batch', json('[{'))]);
  c.push(['batch read without ids', () => para.get('_batch')]);
  c.push(['batch delete without ids', () => para.delete('_batch')]);
  c.push(['batch patch all stale', () => para.request('PATCH', '_batch', json('[{"id":"c1","version":777}]'))]);
  c.push(['setup child with no usable name', () => para.get(`_setup/${urlEncode('!!!')}`)]);
  return c;
}

before(async () => {
  server = await new ServerProcess().start();
  para = new ParaClient(server.endpoint, 'app:para', ROOT_SECRET);
  await para.put('cat/c1', { name: 'Tom', tags: ['a'] });
  await para.post('_batch', Array.from({ length: 5 }, (_, i) => ({ id: `d${i}`, type: 'dog', name: `dog${i}` })));
  snapshot = JSON.stringify((await para.get('search', { q: '*', limit: 100, sort: 'id', desc: 'false' })).body);
});

after(async () => {
  const exit = await server.stop();
  assert.equal(exit.code, 0, server.log.slice(-3000));
  server.cleanup();
});

test('every malformed or hostile request gets a Para-shaped 4xx and changes nothing', { timeout: 120000 }, async () => {
  const cases = catalog();
  assert.ok(cases.length >= 100, `the catalog has ${cases.length} cases`);
  const failures = [];
  for (const [name, request] of cases) {
    let res;
    try {
      res = await request();
    } catch (e) {
      failures.push(`${name}: ${e.message}`);
      continue;
    }
    const shaped = res.body && typeof res.body.code === 'number' && res.body.code === res.status &&
      typeof res.body.message === 'string' && res.body.message.length > 0;
    if (!(res.status >= 400 && res.status < 500) || !shaped) {
      failures.push(`${name}: ${res.status} ${String(res.text).slice(0, 160)}`);
    }
  }
  assert.deepEqual(failures, []);
  const health = await send({ host: '127.0.0.1', port: server.port, method: 'GET', path: '/v1/_health' });
  assert.equal(health.status, 200, 'the server is still up');
  const after = JSON.stringify((await para.get('search', { q: '*', limit: 100, sort: 'id', desc: 'false' })).body);
  assert.equal(after, snapshot, 'no data changed');
  assert.doesNotMatch(server.log, / -> 5\d\d /);
});
