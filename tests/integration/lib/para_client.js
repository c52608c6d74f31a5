'use strict';
// A Para client that signs exactly as para-client-js does (para-api.md 6.3):
// the npm package aws4, service "para", the request path re-encoded once more
// with doNotEncodePath, the first value of each query parameter, a JSON body
// with "application/json; charset=UTF-8", User-Agent set after signing.
const http = require('node:http');
const aws4 = require('aws4');

// para-client-js's urlEncode: encodeURIComponent plus !'()*.
function urlEncode(s) {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
}

// para-client-js's uriEncodeAWSV4: RFC 3986 encoding of the whole path, keeping '/'.
function uriEncodeAWSV4(path) {
  return path.split('/').map(urlEncode).join('/');
}

function queryString(params, firstOnly) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params || {})) {
    const values = Array.isArray(value) ? value : [value];
    for (const v of firstOnly ? values.slice(0, 1) : values) search.append(key, v === null ? '' : String(v));
  }
  return search.toString();
}

// Sends a raw HTTP request and resolves {status, headers, text, body (parsed JSON or undefined)}.
function send({ host, port, method, path, headers, body, timeoutMs = 15000 }) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host, port, method, path, headers, agent: false }, (res) => {
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
        resolve({ status: res.statusCode, headers: res.headers, text, body: parsed });
      });
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`timeout: ${method} ${path}`)));
    req.on('error', reject);
    if (body !== undefined && body !== null) req.write(body);
    req.end();
  });
}

class ParaClient {
  constructor(endpoint, accessKey, secretKey, options = {}) {
    const url = new URL(endpoint);
    this.host = url.hostname;
    this.port = Number(url.port);
    this.hostHeader = url.host;
    this.accessKey = accessKey;
    this.secretKey = secretKey;
    this.jwt = options.jwt;
  }

  // resourcePath: after /v1/, with segments already urlEncode-d (as the
  // client library does), e.g. "_id/" + urlEncode("app:x").
  async request(method, resourcePath, { params, entity, rawBody, headers = {}, sign = true, date } = {}) {
    const reqPath = '/v1/' + resourcePath.replace(/^\//, '');
    const opts = { service: 'para', method, host: this.hostHeader, path: uriEncodeAWSV4(reqPath), headers: { ...headers } };
    const q = queryString(params, true);
    if (q) opts.path += '?' + q;
    let body;
    if (rawBody !== undefined) {
      body = rawBody;
    } else if (entity !== undefined) {
      body = JSON.stringify(entity);
      opts.headers['Content-Type'] = 'application/json; charset=UTF-8';
    }
    if (body !== undefined) opts.body = body;
    if (date) opts.headers['X-Amz-Date'] = date;
    if (this.jwt) {
      opts.headers.Authorization = 'Bearer ' + this.jwt;
    } else if (sign) {
      opts.doNotEncodePath = true;
      aws4.sign(opts, { accessKeyId: this.accessKey, secretAccessKey: this.secretKey });
    }
    opts.headers['User-Agent'] = 'Para client for JavaScript';
    const fullQuery = queryString(params, false);
    return send({
      host: this.host,
      port: this.port,
      method,
      path: reqPath + (fullQuery ? '?' + fullQuery : ''),
      headers: opts.headers,
      body,
    });
  }

  get(path, params) { return this.request('GET', path, { params }); }
  post(path, entity) { return this.request('POST', path, { entity }); }
  put(path, entity) { return this.request('PUT', path, { entity }); }
  patch(path, entity) { return this.request('PATCH', path, { entity }); }
  delete(path, params) { return this.request('DELETE', path, { params }); }
}

module.exports = { ParaClient, send, urlEncode, uriEncodeAWSV4, queryString };
