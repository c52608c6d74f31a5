'use strict';
// The HTTP server's limits and its graceful shutdown, against the real process.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const { ServerProcess } = require('./lib/server');

function connect(port) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => resolve(socket));
    socket.on('error', reject);
  });
}

// Resolves with everything the server sent once it closes the connection.
function untilClosed(socket) {
  return new Promise((resolve) => {
    let data = '';
    socket.on('data', (d) => { data += d.toString(); });
    socket.on('close', () => resolve(data));
    socket.on('error', () => {});
  });
}

test('a client that never finishes its headers is cut off after the read timeout', async () => {
  const server = await new ServerProcess({ env: { para_http_read_timeout: '1' } }).start();
  const socket = await connect(server.port);
  const closed = untilClosed(socket);
  socket.write('GET /v1/_health HTTP/1.1\r\nHost: x\r\n');  // no blank line, ever
  const started = Date.now();
  await closed;
  const elapsed = Date.now() - started;
  assert.ok(elapsed >= 900 && elapsed < 3000, `closed after ${elapsed} ms`);
  await server.stop();
  server.cleanup();
});

test('an idle keep-alive connection is closed after the idle timeout', async () => {
  const server = await new ServerProcess({ env: { para_http_idle_timeout: '1' } }).start();
  const socket = await connect(server.port);
  const closed = untilClosed(socket);
  socket.write('GET /v1/_health HTTP/1.1\r\nHost: x\r\n\r\n');
  const data = await closed;
  assert.match(data, /^HTTP\/1.1 200/);
  await server.stop();
  server.cleanup();
});

test('malformed HTTP gets a Para-shaped 400', async () => {
  const server = await new ServerProcess().start();
  const socket = await connect(server.port);
  const closed = untilClosed(socket);
  socket.write('GET /v1/_health HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n');
  const data = await closed;
  assert.match(data, /^HTTP\/1.1 400/);
  assert.match(data, /\{"code":400,"message":"Malformed HTTP request: [^"]+"\}/);
  const big = await connect(server.port);
  const bigClosed = untilClosed(big);
  big.write(`GET /v1/_health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20000)}\r\n\r\n`);
  assert.match(await bigClosed, /Request headers are too large/);
  await server.stop();
  server.cleanup();
});

test('SIGTERM closes idle connections and finishes the request in flight', async () => {
  const server = await new ServerProcess().start();
  const idle = await connect(server.port);
  const idleClosed = untilClosed(idle);
  const busy = await connect(server.port);
  const busyClosed = untilClosed(busy);
  busy.write('GET /v1/_health HTTP/1.1\r\nHost: x\r\n');  // request started, not finished
  await new Promise((r) => setTimeout(r, 100));
  server.child.kill('SIGTERM');
  await idleClosed;  // the idle connection goes first
  await new Promise((r) => setTimeout(r, 200));
  busy.write('\r\n');  // the client completes its request during the grace period
  const response = await busyClosed;
  assert.match(response, /^HTTP\/1.1 200/);
  assert.match(response, /Connection: close/i);
  assert.match(response, /"healthy"/);
  const exit = await server.exited;
  assert.equal(exit.code, 0, server.log);
  assert.match(server.log, /HTTP server stopped/);
  server.cleanup();
});

test('a second server cannot take a port in use, and says why', async () => {
  const first = await new ServerProcess().start();
  const second = new ServerProcess({ env: { para_port: String(first.port) } });
  await assert.rejects(second.start(), /Cannot listen on 127.0.0.1:\d+/);
  await first.stop();
  first.cleanup();
  second.cleanup();
});

test('a bad configuration stops the start with a clear message', async () => {
  const server = new ServerProcess({ env: { para_max_items_per_page: 'many' } });
  await assert.rejects(server.start(), /para.max_items_per_page must be an integer, got "many"/);
  const exit = await server.exited;
  assert.equal(exit.code, 2);
  server.cleanup();
});

test('the README documents every configuration key', () => {
  const { execFileSync } = require('node:child_process');
  const fs = require('node:fs');
  const path = require('node:path');
  const { SERVER_BIN } = require('./lib/server');
  const keys = execFileSync(SERVER_BIN, ['--config-keys']).toString().match(/^para\.\S+/gm);
  assert.ok(keys.length > 10);
  const readme = fs.readFileSync(path.resolve(__dirname, '../../README.md'), 'utf8');
  for (const key of keys) assert.ok(readme.includes('`' + key + '`'), `README.md does not document ${key}`);
});
