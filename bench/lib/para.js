'use strict';
// Para request signing exactly as para-client-js does it (and as
// tests/integration/lib/para_client.js reproduces): npm aws4, service "para",
// region us-east-1 (aws4's default for an unknown host), the path re-encoded
// once more with doNotEncodePath, the first value of each query parameter,
// JSON bodies as "application/json; charset=UTF-8", User-Agent after signing.
//
// sign() returns {method, path, headers, body}: exactly what goes on the
// wire, so the same headers can be handed to wrk (valid for
// para.request_expires_after = 900 s from X-Amz-Date).
const http = require('node:http');
const aws4 = require('aws4');

// The encoding rules are the integration tests' own, so both sign the same way.
const { urlEncode, uriEncodeAWSV4, queryString } = require('../../tests/integration/lib/para_client');

class Signer {
  constructor({ host, port, accessKey, secretKey }) {
    this.host = host;
    this.port = port;
    this.hostHeader = `${host}:${port}`;
    this.accessKey = accessKey;
    this.secretKey = secretKey;
  }

  // resourcePath: after /v1/ ("" for /v1/), segments already urlEncode-d.
  sign(method, resourcePath, { params, entity, sign = true } = {}) {
    const reqPath = '/v1/' + resourcePath.replace(/^\//, '');
    const opts = { service: 'para', method, host: this.hostHeader, path: uriEncodeAWSV4(reqPath), headers: {} };
    const q = queryString(params, true);
    if (q) opts.path += '?' + q;
    let body;
    if (entity !== undefined) {
      body = typeof entity === 'string' ? entity : JSON.stringify(entity);
      opts.headers['Content-Type'] = 'application/json; charset=UTF-8';
      opts.body = body;
    }
    if (sign) {
      opts.doNotEncodePath = true;
      aws4.sign(opts, { accessKeyId: this.accessKey, secretAccessKey: this.secretKey });
    } else {
      opts.headers.Host = this.hostHeader;
      if (body !== undefined) opts.headers['Content-Length'] = Buffer.byteLength(body);
    }
    opts.headers['User-Agent'] = 'Para client for JavaScript';
    const fullQuery = queryString(params, false);
    return { method, path: reqPath + (fullQuery ? '?' + fullQuery : ''), headers: opts.headers, body };
  }
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

// Sends a signed request; resolves {status, text, body}.
function send(signer, req, { timeoutMs = 60000, keepAlive = true } = {}) {
  return new Promise((resolve, reject) => {
    const r = http.request(
      { host: signer.host, port: signer.port, method: req.method, path: req.path, headers: req.headers, agent: keepAlive ? agent : false },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed;
          try {
            parsed = text ? JSON.parse(text) : undefined;
          } catch (e) {
            parsed = undefined;
          }
          resolve({ status: res.statusCode, text, body: parsed, headers: res.headers });
        });
      },
    );
    r.setTimeout(timeoutMs, () => r.destroy(new Error(`timeout: ${req.method} ${req.path}`)));
    r.on('error', reject);
    if (req.body !== undefined) r.write(req.body);
    r.end();
  });
}

class Para {
  constructor(opts) {
    this.signer = new Signer(opts);
  }

  request(method, resourcePath, opts = {}) {
    return send(this.signer, this.signer.sign(method, resourcePath, opts), opts);
  }

  get(p, params) { return this.request('GET', p, { params }); }
  post(p, entity) { return this.request('POST', p, { entity }); }
  patch(p, entity) { return this.request('PATCH', p, { entity }); }
  put(p, entity) { return this.request('PUT', p, { entity }); }
  del(p, params) { return this.request('DELETE', p, { params }); }

  // Throws unless the response has one of the expected statuses.
  async must(method, p, opts = {}, expect = [200, 201]) {
    const res = await this.request(method, p, opts);
    if (!expect.includes(res.status)) {
      throw new Error(`${method} /v1/${p} -> ${res.status}: ${res.text.slice(0, 300)}`);
    }
    return res;
  }
}

// Runs `fn(i)` for i in [0, n) with at most `concurrency` in flight.
async function pool(n, concurrency, fn) {
  let next = 0;
  const workers = [];
  for (let w = 0; w < Math.min(concurrency, n); ++w) {
    workers.push((async () => {
      while (next < n) {
        const i = next++;
        await fn(i);
      }
    })());
  }
  await Promise.all(workers);
}

module.exports = { Signer, Para, send, pool, urlEncode, agent };
