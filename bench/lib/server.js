'use strict';
// Starts para-server from the build with a temporary data directory, and
// reads process memory. Every server started here is registered so that
// killAll() (called on exit and on signals) leaves nothing running.
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const net = require('node:net');
const path = require('node:path');
const http = require('node:http');

const SERVER_BIN = process.env.PARA_SERVER || path.resolve(__dirname, '../../build/para-server');
const ROOT_SECRET = 'bench-root-secret-0123456789abcdefghijklmnopqrstuv';
const CLK_TCK = Number(require('node:child_process').execSync('getconf CLK_TCK').toString().trim()) || 100;
const TMP_ROOT = process.env.PARA_BENCH_TMP || os.tmpdir();

const live = new Set();
// para-server processes that exited without stop() (see describeExit).
const unexpectedExits = [];

// Why a para-server went away, for failure messages.
function describeExit(e) {
  return `para-server pid ${e.pid} exited unexpectedly at ${e.at} (code ${e.code}, signal ${e.signal})` +
    (e.log.trim() ? `; last log: ${e.log.trim().split('\n').slice(-3).join(' | ')}` : '');
}
const tempDirs = new Set();

function tempDir(prefix) {
  const dir = fs.mkdtempSync(path.join(TMP_ROOT, prefix));
  tempDirs.add(dir);
  return dir;
}

function removeDir(dir) {
  fs.rmSync(dir, { recursive: true, force: true });
  tempDirs.delete(dir);
}

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

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

// One GET with a fresh connection; resolves the status or 0 on error.
function probe(port, p, timeoutMs = 1000) {
  return new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port, method: 'GET', path: p, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.setTimeout(timeoutMs, () => req.destroy());
    req.on('error', () => resolve(0));
    req.end();
  });
}

class Server {
  // env: extra para_* variables; iot: run the built-in broker.
  constructor({ dataDir, env = {}, iot = true } = {}) {
    this.ownDir = !dataDir;
    this.dataDir = dataDir || tempDir('para-bench-');
    this.env = env;
    this.iot = iot;
    this.log = '';
  }

  get endpoint() { return `http://127.0.0.1:${this.port}`; }

  async start({ timeoutMs = 60000 } = {}) {
    if (this.iot && !this.iotPort) this.iotPort = await freePort();
    // A port that was free a moment ago: with para.log_level=warn the
    // "listening on <addr>:<port>" line of para_port=0 is not printed.
    this.port = await freePort();
    const env = {
      ...process.env,
      para_port: String(this.port),
      para_bind_address: '127.0.0.1',
      para_data_dir: this.dataDir,
      para_root_secret_override: ROOT_SECRET,
      para_log_level: 'warn',
      para_iot_local_enabled: this.iot ? 'true' : 'false',
      ...(this.iot ? { para_iot_local_port: String(this.iotPort), para_iot_local_bind_address: '127.0.0.1' } : {}),
      ...this.env,
    };
    const t0 = process.hrtime.bigint();
    this.child = spawn(SERVER_BIN, [], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    live.add(this);
    this.stopping = false;
    this.exited = new Promise((resolve) => this.child.on('exit', (code, signal) => {
      live.delete(this);
      if (!this.stopping) {
        // Not stopped by us: a crash, or another process killed it.
        unexpectedExits.push({ pid: this.child.pid, code, signal, at: new Date().toISOString(), log: this.log.slice(-1500) });
      }
      resolve({ code, signal });
    }));
    this.child.stderr.on('data', (d) => {
      this.log += d.toString();
      if (this.log.length > 1 << 20) this.log = this.log.slice(-(1 << 19));
    });
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if ((await probe(this.port, '/v1/_health')) === 200) {
        this.startMs = Number(process.hrtime.bigint() - t0) / 1e6;
        return this;
      }
      if (this.child.exitCode !== null) break;
      await sleep(2);
    }
    this.stopping = true;
    await this.stop();
    throw new Error('para-server did not start:\n' + this.log.slice(-4000));
  }

  get pid() { return this.child && this.child.pid; }

  // The supervised mosquitto child, if any.
  mosquittoPid() {
    const m = [...this.log.matchAll(/mosquitto running \(pid (\d+)\)/g)].pop();
    if (m) return Number(m[1]);
    try {
      for (const tid of fs.readdirSync(`/proc/${this.pid}/task`)) {
        for (const c of fs.readFileSync(`/proc/${this.pid}/task/${tid}/children`, 'utf8').trim().split(/\s+/)) {
          if (c && fs.readFileSync(`/proc/${c}/comm`, 'utf8').trim() === 'mosquitto') return Number(c);
        }
      }
    } catch (e) { /* gone */ }
    return undefined;
  }

  async stop(signal = 'SIGTERM', timeoutMs = 20000) {
    if (!this.child || this.child.exitCode !== null || this.child.signalCode !== null) return this.exited;
    this.stopping = true;
    this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    const result = await this.exited;
    clearTimeout(timer);
    return result;
  }

  cleanup() {
    if (this.ownDir) removeDir(this.dataDir);
  }
}

// VmRSS / VmHWM of a process in MiB.
function memory(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k) => Number((status.match(new RegExp(`^${k}:\\s+(\\d+)`, 'm')) || [0, 0])[1]);
  // RssFile: file pages mapped and touched (the database, with
  // para.sqlite.mmap_mb), which the kernel can drop; RssAnon: the process's own.
  return {
    rssMiB: kb('VmRSS') / 1024, hwmMiB: kb('VmHWM') / 1024, threads: kb('Threads'),
    anonMiB: kb('RssAnon') / 1024, fileMiB: kb('RssFile') / 1024,
  };
}

// Total CPU seconds (user + system) a process has used.
function cpuSeconds(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

function killAll() {
  for (const s of live) {
    try { s.child.kill('SIGKILL'); } catch (e) { /* already gone */ }
  }
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
}

module.exports = { Server, unexpectedExits, describeExit, SERVER_BIN, ROOT_SECRET, memory, cpuSeconds, freePort, sleep, probe, tempDir, removeDir, killAll };
