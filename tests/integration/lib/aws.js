'use strict';
// moto (the AWS emulator) behind a fault-injecting proxy, and boto3 as the
// outside observer of what AWS IoT holds.
const http = require('node:http');
const net = require('node:net');
const path = require('node:path');
const { spawn, execFile } = require('node:child_process');

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => { const { port } = srv.address(); srv.close(() => resolve(port)); });
    srv.on('error', reject);
  });
}

async function startMoto() {
  const port = await freePort();
  const child = spawn('python3', ['-m', 'moto.server', '-H', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
  const deadline = Date.now() + 30000;
  while (Date.now() < deadline) {
    const ok = await new Promise((resolve) => {
      http.get({ host: '127.0.0.1', port, path: '/moto-api/' }, (res) => { res.resume(); resolve(true); })
        .on('error', () => resolve(false));
    });
    if (ok) return { port, url: `http://127.0.0.1:${port}`, stop: () => child.kill('SIGTERM') };
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error('moto did not start');
}

// The AWS operation a request is, from method and path (aws-iot.md 2 and 3).
function operationOf(method, url) {
  const p = url.split('?')[0];
  const table = [
    ['GET', /^\/endpoint$/, 'DescribeEndpoint'],
    ['POST', /^\/things\/[^/]+$/, 'CreateThing'],
    ['DELETE', /^\/things\/[^/]+$/, 'DeleteThing'],
    ['POST', /^\/keys-and-certificate$/, 'CreateKeysAndCertificate'],
    ['POST', /^\/certificates$/, 'CreateCertificateFromCsr'],
    ['PUT', /^\/certificates\/[^/]+$/, 'UpdateCertificate'],
    ['DELETE', /^\/certificates\/[^/]+$/, 'DeleteCertificate'],
    ['POST', /^\/policies\/[^/]+$/, 'CreatePolicy'],
    ['DELETE', /^\/policies\/[^/]+$/, 'DeletePolicy'],
    ['GET', /^\/policies\/[^/]+\/version$/, 'ListPolicyVersions'],
    ['PUT', /^\/target-policies\/[^/]+$/, 'AttachPolicy'],
    ['POST', /^\/target-policies\/[^/]+$/, 'DetachPolicy'],
    ['PUT', /^\/things\/[^/]+\/principals$/, 'AttachThingPrincipal'],
    ['DELETE', /^\/things\/[^/]+\/principals$/, 'DetachThingPrincipal'],
    ['GET', /^\/things\/[^/]+\/shadow$/, 'GetThingShadow'],
    ['POST', /^\/things\/[^/]+\/shadow$/, 'UpdateThingShadow'],
    ['DELETE', /^\/things\/[^/]+\/shadow$/, 'DeleteThingShadow'],
  ];
  for (const [m, re, op] of table) if (m === method && re.test(p)) return op;
  return `${method} ${p}`;
}

// A proxy in front of moto that counts calls per operation and fails the
// ones a test asks for: {op, times, kind: '500'|'throttle'|'reset'|'timeout'}.
async function startFaultProxy(target) {
  const port = await freePort();
  const state = { calls: [], faults: [], latencyMs: 0, times: [] };
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const op = operationOf(req.method, req.url);
      state.calls.push(op);
      state.times.push({ op, at: Date.now() });
      const fault = state.faults.find((f) => f.op === op && f.times > 0);
      if (fault) {
        fault.times -= 1;
        if (fault.kind === 'reset') return req.socket.destroy();
        if (fault.kind === 'timeout') return;  // never answer; the client must time out
        const throttle = fault.kind === 'throttle';
        res.writeHead(throttle ? 400 : 500, {
          'Content-Type': 'application/json',
          'x-amzn-ErrorType': throttle ? 'ThrottlingException:' : 'InternalFailureException:',
        });
        return res.end(JSON.stringify({ message: throttle ? 'Rate exceeded' : 'Internal failure' }));
      }
      const forward = () => {
      const upstream = http.request({ host: '127.0.0.1', port: target, method: req.method, path: req.url, headers: req.headers }, (up) => {
        res.writeHead(up.statusCode, up.headers);
        up.pipe(res);
      });
      upstream.on('error', () => req.socket.destroy());
      upstream.end(Buffer.concat(chunks));
      };
      // An injected network latency per call, as between a server and AWS.
      if (state.latencyMs > 0) setTimeout(forward, state.latencyMs); else forward();
    });
  });
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    state,
    fail(op, kind, times = 1) { state.faults.push({ op, kind, times }); },
    clear() { state.faults = []; state.calls = []; state.times = []; },
    count(op) { return state.calls.filter((c) => c === op).length; },
    stop() { return new Promise((resolve) => { server.closeAllConnections(); server.close(resolve); }); },
  };
}

function boto(endpoint, ...args) {
  return new Promise((resolve, reject) => {
    execFile('python3', [path.join(__dirname, 'aws_audit.py'), '--endpoint', endpoint, ...args], { timeout: 60000 },
      (error, stdout, stderr) => (error ? reject(new Error(stderr || error.message)) : resolve(JSON.parse(stdout))));
  });
}

module.exports = { startMoto, startFaultProxy, boto, operationOf };
