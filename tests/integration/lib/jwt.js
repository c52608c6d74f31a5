'use strict';
// HS256 tokens as para-cli makes "super tokens": {appid, iat, nbf, exp}.
const crypto = require('node:crypto');

const b64url = (buf) => Buffer.from(buf).toString('base64url');

function signJwt(claims, secret, header = { alg: 'HS256', typ: 'JWT' }) {
  const head = b64url(JSON.stringify(header));
  const body = b64url(JSON.stringify(claims));
  const sig = crypto.createHmac('sha256', secret).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${sig}`;
}

function superToken(appid, secret, { ttlSec = 7 * 24 * 3600, nbfOffsetSec = -5 } = {}) {
  const now = Math.floor(Date.now() / 1000);
  return signJwt({ appid, iat: now, nbf: now + nbfOffsetSec, exp: now + ttlSec }, secret);
}

module.exports = { signJwt, superToken };
