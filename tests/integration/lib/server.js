'use strict';
// Starts and stops a real para-server process on a free port with a fresh
// data directory.
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const net = require('node:net');
const path = require('node:path');
const { send } = require('./para_client');

const SERVER_BIN = process.env.PARA_SERVER || path.resolve(__dirname, '../../../build/para-server');
const ROOT_SECRET = 'test-root-secret-0123456789abcdefghijklmnopqrstuv';

// A TCP port that was free a moment ago (for the broker's device listener).
function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

class ServerProcess {
  // iot: run the built-in IoT broker (on a free port); off by default to keep
  // the suites that do not need it fast.
  constructor({ dataDir, env = {}, args = [], iot = false, iotPort } = {}) {
    this.dataDir = dataDir || fs.mkdtempSync(path.join(os.tmpdir(), 'para-it-'));
    this.env = env;
    this.args = args;
    this.iot = iot;
    this.iotPort = iotPort;
    this.log = '';
  }

  get endpoint() { return `http://127.0.0.1:${this.port}`; }

  // Starts the server and resolves once it answers /v1/_health.
  async start() {
    if (this.iot && !this.iotPort) this.iotPort = await freePort();
    const env = {
      ...process.env,
      para_port: '0',
      para_bind_address: '127.0.0.1',
      para_data_dir: this.dataDir,
      para_root_secret_override: ROOT_SECRET,
      para_log_level: 'debug',
      para_iot_local_enabled: this.iot ? 'true' : 'false',
      ...(this.iot ? { para_iot_local_port: String(this.iotPort), para_iot_local_bind_address: '127.0.0.1' } : {}),
      ...this.env,
    };
    this.child = spawn(SERVER_BIN, this.args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.exited = new Promise((resolve) => this.child.on('exit', (code, signal) => resolve({ code, signal })));
    const onData = (d) => { this.log += d.toString(); };
    this.child.stdout.on('data', onData);
    this.child.stderr.on('data', onData);
    const deadline = Date.now() + 30000;
    while (Date.now() < deadline) {
      const m = this.log.match(/listening on [^:]+:(\d+)/);
      if (m) {
        this.port = Number(m[1]);
        const health = await send({ host: '127.0.0.1', port: this.port, method: 'GET', path: '/v1/_health' }).catch(() => null);
        if (health && health.status === 200) return this;
      }
      if (this.child.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error('para-server did not start:\n' + this.log);
  }

  // SIGTERM and wait for a clean exit; resolves the exit status.
  async stop(signal = 'SIGTERM') {
    if (!this.child || this.child.exitCode !== null) return this.exited;
    this.child.kill(signal);
    return this.exited;
  }

  kill9() { return this.stop('SIGKILL'); }

  cleanup() { fs.rmSync(this.dataDir, { recursive: true, force: true }); }
}

module.exports = { ServerProcess, ROOT_SECRET, SERVER_BIN };
