'use strict';
// Device-side helpers: certificate files from a Thing's deviceDetails, MQTT
// connections with the npm `mqtt` client, and Mosquitto's command-line clients.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFile } = require('node:child_process');
const mqtt = require('mqtt');

// Writes cert, key (if present) and CA of a provisioned device; returns their paths.
function writeDeviceFiles(details, extra = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'para-dev-'));
  const files = { dir, cert: path.join(dir, 'device.crt'), key: path.join(dir, 'device.key'), ca: path.join(dir, 'ca.crt') };
  fs.writeFileSync(files.cert, details.clientCert);
  fs.writeFileSync(files.ca, details.caCert);
  const key = extra.privateKey || details.privateKey;
  if (key) fs.writeFileSync(files.key, key, { mode: 0o600 });
  return files;
}

// Connects with mqtt.js over TLS; resolves the client once connected, rejects on error/close.
function connect(files, { port, clientId, protocolVersion = 4, reconnectPeriod = 0 } = {}) {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect({
      protocol: 'mqtts', host: 'localhost', port, clientId, protocolVersion, reconnectPeriod,
      key: fs.readFileSync(files.key), cert: fs.readFileSync(files.cert), ca: fs.readFileSync(files.ca),
      connectTimeout: 5000,
    });
    const fail = (e) => { client.end(true); reject(e || new Error('connection closed')); };
    client.once('connect', () => { client.removeListener('error', fail); client.removeListener('close', fail); resolve(client); });
    client.once('error', fail);
    client.once('close', fail);
  });
}

function subscribe(client, topics, qos = 1) {
  return new Promise((resolve, reject) => client.subscribe(topics, { qos }, (e, granted) => (e ? reject(e) : resolve(granted))));
}

function publish(client, topic, payload, opts = { qos: 1 }) {
  return new Promise((resolve, reject) => client.publish(topic, typeof payload === 'string' ? payload : JSON.stringify(payload), opts,
    (e, packet) => (e ? reject(e) : resolve(packet))));
}

// Resolves the first message on `topic` whose parsed payload passes `match`.
function nextMessage(client, topic, match = () => true, timeoutMs = 5000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { client.removeListener('message', onMessage); reject(new Error(`no message on ${topic}`)); }, timeoutMs);
    function onMessage(t, payload) {
      if (t !== topic) return;
      let body;
      try { body = JSON.parse(payload.toString()); } catch (e) { return; }
      if (!match(body)) return;
      clearTimeout(timer);
      client.removeListener('message', onMessage);
      resolve(body);
    }
    client.on('message', onMessage);
  });
}

// Collects every message received on the client (for "nothing arrived" checks).
function collect(client) {
  const seen = [];
  client.on('message', (topic, payload) => seen.push({ topic, payload: payload.toString() }));
  return seen;
}

function run(cmd, args, timeoutMs = 10000) {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs }, (error, stdout, stderr) => {
      resolve({ code: error ? (error.code ?? 1) : 0, stdout: stdout.toString(), stderr: stderr.toString() });
    });
  });
}

// mosquitto_rr: publish a request and print the first response, over one TLS connection.
function mosquittoRR(files, port, requestTopic, responseTopic, message, waitSeconds = 5) {
  return run('mosquitto_rr', ['-h', 'localhost', '-p', String(port), '--cafile', files.ca, '--cert', files.cert,
    '--key', files.key, '-t', requestTopic, '-e', responseTopic, '-m', message, '-W', String(waitSeconds)]);
}

function shadowTopic(thingName, suffix) {
  return `$aws/things/${thingName}/shadow/${suffix}`;
}

module.exports = { writeDeviceFiles, connect, subscribe, publish, nextMessage, collect, run, mosquittoRR, shadowTopic };
