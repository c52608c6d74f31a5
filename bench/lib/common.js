'use strict';
// Shared state of one benchmark run: configuration (full or quick), result
// rows, child processes to clean up, logging, deterministic test data.
const { spawn, execFile } = require('node:child_process');

const children = new Set();

// Spawns a helper process that killChildren() will stop.
function spawnTracked(cmd, args, opts = {}) {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  children.add(child);
  child.on('exit', () => children.delete(child));
  return child;
}

// Registers a child started elsewhere (execFile) for killChildren().
function track(child) {
  children.add(child);
  child.on('exit', () => children.delete(child));
  return child;
}

function killChildren() {
  for (const c of children) {
    try { c.kill('SIGKILL'); } catch (e) { /* gone */ }
  }
}

// Resolves {code, stdout, stderr, ms}; never rejects.
function run(cmd, args, { timeoutMs = 600000, env } = {}) {
  const t0 = process.hrtime.bigint();
  return new Promise((resolve) => {
    const child = execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 64 << 20, env: env || process.env }, (error, stdout, stderr) => {
      children.delete(child);
      resolve({
        code: error ? (typeof error.code === 'number' ? error.code : 1) : 0,
        stdout: String(stdout),
        stderr: String(stderr),
        ms: Number(process.hrtime.bigint() - t0) / 1e6,
      });
    });
    children.add(child);
  });
}

function log(...args) {
  const t = new Date().toISOString().slice(11, 19);
  process.stderr.write(`[bench ${t}] ${args.join(' ')}\n`);
}

// Deterministic PRNG (mulberry32) so every run loads the same data.
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = [
  'abbey', 'able', 'abyss', 'acorn', 'alpha', 'amber', 'anchor', 'apex', 'arch', 'azure', 'basil', 'beacon',
  'birch', 'bolt', 'brisk', 'cedar', 'cobalt', 'comet', 'coral', 'delta', 'dune', 'ember', 'fable', 'fern',
  'flint', 'frost', 'glade', 'granite', 'harbor', 'hazel', 'iris', 'ivory', 'jade', 'juniper', 'kelp', 'lagoon',
  'lark', 'lumen', 'maple', 'meadow', 'nectar', 'nova', 'oak', 'onyx', 'opal', 'orbit', 'pebble', 'pine',
  'quartz', 'quill', 'raven', 'ridge', 'sage', 'slate', 'spruce', 'summit', 'tide', 'topaz', 'umber', 'vale',
  'willow', 'xenon', 'yarrow', 'zephyr',
];
const COLORS = ['red', 'green', 'blue', 'black', 'white', 'yellow', 'orange', 'purple'];
const CITIES = [
  ['zurich', 47.3769, 8.5417], ['paris', 48.8566, 2.3522], ['berlin', 52.52, 13.405], ['madrid', 40.4168, -3.7038],
  ['rome', 41.9028, 12.4964], ['vienna', 48.2082, 16.3738], ['oslo', 59.9139, 10.7522], ['lisbon', 38.7223, -9.1393],
];

// One object of the search data set; `i` makes the name unique.
function makeObject(r, type, i) {
  const pick = (a) => a[Math.floor(r() * a.length)];
  const city = pick(CITIES);
  const words = Array.from({ length: 8 }, () => pick(WORDS));
  const t1 = Math.floor(r() * 40);
  const t2 = (t1 + 1 + Math.floor(r() * 39)) % 40;
  return {
    type,
    name: `${pick(WORDS)} ${pick(WORDS)} ${i}`,
    tags: [`tag${t1}`, `tag${t2}`],
    color: pick(COLORS),
    score: Math.floor(r() * 1000),
    description: words.join(' '),
    latlng: `${(city[1] + (r() - 0.5)).toFixed(4)},${(city[2] + (r() - 0.5)).toFixed(4)}`,
    location: { city: city[0], zip: 1000 + Math.floor(r() * 9000) },
  };
}

module.exports = { spawnTracked, track, killChildren, run, log, rng, makeObject, WORDS, COLORS, CITIES };
