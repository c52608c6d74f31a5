'use strict';
// Things and their device connections: provisioning over REST, certificate
// files for the C++ load generator, mqtt.js connections for Node scenarios.
const fs = require('node:fs');
const path = require('node:path');
const mqtt = require('mqtt');
const { pool } = require('./para');

async function createThings(para, n, { prefix = 'dev', concurrency = 4, deviceMetadata } = {}) {
  const things = new Array(n);
  await pool(n, concurrency, async (i) => {
    const entity = { name: `${prefix}-${i}` };
    if (deviceMetadata) entity.deviceMetadata = typeof deviceMetadata === 'function' ? deviceMetadata(i) : deviceMetadata;
    const res = await para.must('POST', 'things', { entity }, [201]);
    things[i] = { id: res.body.id, ...res.body.deviceDetails };
  });
  return things;
}

// Writes cert/key files and a devices file ("<client id> <cert> <key>" per line).
function writeDeviceFiles(dir, things) {
  fs.mkdirSync(dir, { recursive: true });
  const lines = [];
  for (const t of things) {
    const cert = path.join(dir, `${t.thingName}.crt`);
    const key = path.join(dir, `${t.thingName}.key`);
    fs.writeFileSync(cert, t.clientCert);
    fs.writeFileSync(key, t.privateKey, { mode: 0o600 });
    lines.push(`${t.thingName} ${cert} ${key}`);
  }
  const ca = path.join(dir, 'ca.crt');
  fs.writeFileSync(ca, things[0].caCert);
  const list = path.join(dir, 'devices.txt');
  fs.writeFileSync(list, lines.join('\n') + '\n');
  return { ca, list };
}

// Connects a device with mqtt.js over mutual TLS; resolves the client once
// connected and subscribed to `topics` (QoS 1).
function connectDevice(thing, port, topics = [], { keepalive = 300 } = {}) {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect({
      protocol: 'mqtts', host: 'localhost', port, clientId: thing.thingName, protocolVersion: 4,
      key: thing.privateKey, cert: thing.clientCert, ca: thing.caCert,
      reconnectPeriod: 0, connectTimeout: 30000, keepalive, clean: true,
    });
    const fail = (e) => { client.end(true); reject(e || new Error('connection closed')); };
    client.once('error', fail);
    client.once('close', fail);
    client.once('connect', () => {
      const done = () => {
        client.removeListener('error', fail);
        client.removeListener('close', fail);
        resolve(client);
      };
      if (!topics.length) return done();
      client.subscribe(topics, { qos: 1 }, (e, granted) => {
        if (e) return fail(e);
        if (granted.some((g) => g.qos > 2)) return fail(new Error('subscription refused'));
        done();
      });
    });
  });
}

function endAll(clients) {
  return Promise.all(clients.filter(Boolean).map((c) => new Promise((r) => c.end(true, {}, r))));
}

module.exports = { createThings, writeDeviceFiles, connectDevice, endAll };
