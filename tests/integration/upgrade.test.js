'use strict';
// Databases written by older para-servers (fixtures/schema-v3.db, two
// releases back; fixtures/schema-v5.db, the last release) are upgraded in
// place at start: nothing is lost, and search, counts and listings on the
// upgraded data are what they would be on fresh data.
const { test, describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { ServerProcess, ROOT_SECRET } = require('./lib/server');
const { ParaClient } = require('./lib/para_client');

let server;
let para;
const ids = (res) => res.body.items.map((o) => o.id).sort();

// A server started on a copy of fixtures/<name>, and a client of it.
async function startOn(name) {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'para-upgrade-'));
  fs.copyFileSync(path.join(__dirname, 'fixtures', name), path.join(dataDir, 'para.db'));
  const started = await new ServerProcess({ dataDir }).start();
  return [started, new ParaClient(started.endpoint, 'app:para', ROOT_SECRET)];
}

// Stops it, and checks that it stopped cleanly and never answered 500.
async function stopCleanly(started) {
  const exit = await started.stop();
  assert.equal(exit.code, 0, started.log);
  assert.doesNotMatch(started.log, / -> 500 /);
  started.cleanup();
}

before(async () => {
  [server, para] = await startOn('schema-v3.db');
});

after(() => stopCleanly(server));

test('the upgrade says what it does and keeps every object', async () => {
  for (const version of [4, 5, 6, 7]) {
    assert.match(server.log, new RegExp(`upgrading the schema to version ${version}\\.\\.\\.`));
    assert.match(server.log, new RegExp(`schema version ${version} in \\d+ ms`));
  }
  const b1 = await para.get('book/b1');
  assert.equal(b1.status, 200);
  assert.deepEqual(b1.body.tags, ['x', 'y', 'x']);
  assert.deepEqual(b1.body.color, ['Red', 'red']);
  assert.equal((await para.get('book/b2')).body.color, 'red', 'the patched value');
  assert.equal((await para.get('book/b4')).status, 404, 'the deleted object stays deleted');
});

test('listings and counts on upgraded data', async () => {
  const books = await para.get('book', { limit: 2 });
  assert.equal(books.body.totalHits, 3);
  assert.deepEqual(books.body.items.map((o) => o.id), ['b3', 'b2'], 'newest first');
  for (const item of books.body.items) {
    assert.deepEqual(item, (await para.get(`book/${item.id}`)).body, 'a listed object is what GET returns');
  }
  assert.equal((await para.get('search', { q: '*' })).body.totalHits, 5, 'four objects and the app itself');
});

test('tag and property searches on upgraded data', async () => {
  const tagged = await para.get('book/search/tagged', { tags: 'x', limit: 1 });
  assert.equal(tagged.body.totalHits, 2, 'b1 once although it has x twice; b4 is gone');
  assert.deepEqual(ids(await para.get('book/search/tagged', { tags: 'x' })), ['b1', 'b2']);
  assert.deepEqual(ids(await para.get('search/tagged', { tags: 'x' })), ['b1', 'b2', 'p1']);
  assert.deepEqual(ids(await para.get('book/search/tagged', { tags: 'z' })), ['b2'], 'tags of the patch');
  assert.deepEqual(ids(await para.get('book/search/terms', { terms: 'color:red' })), ['b1', 'b2', 'b3']);
  assert.equal((await para.get('book/search/terms', { terms: 'color:red', limit: 1 })).body.totalHits, 3);
  assert.deepEqual(ids(await para.get('book/search/terms', { terms: 'n:5' })), ['b1']);
  assert.deepEqual(ids(await para.get('book/search', { q: 'tags:x AND color:red' })), ['b1', 'b2']);
  assert.deepEqual(ids(await para.get('book/search/prefix', { field: 'name', prefix: 'alp' })), ['b1', 'b2']);
  // Prefixes of up to 3 characters come from the name-prefix index of schema 7.
  const named = await para.get('search/prefix', { field: 'name', prefix: 'AL', limit: 1 });
  assert.equal(named.body.totalHits, 3, 'b1, b2 and p1, counted from the index');
  assert.deepEqual(ids(await para.get('search/prefix', { field: 'name', prefix: 'a' })), ['b1', 'b2', 'p1']);
  assert.deepEqual(ids(await para.get('pen/search/prefix', { field: 'name', prefix: 'alp' })), ['p1']);
  assert.deepEqual(ids(await para.get('book/search/prefix', { field: 'name', prefix: 'alpi' })), ['b2']);
  assert.equal((await para.get('book/search/count', { q: 'color:blue' })).body.totalHits, 0);
});

test('writes after the upgrade keep the new indexes and counts', async () => {
  assert.equal((await para.post('book', { id: 'b5', tags: ['x'], color: 'red' })).status, 201);
  assert.equal((await para.delete('book/b1')).status, 200);
  const tagged = await para.get('book/search/tagged', { tags: 'x', limit: 1 });
  assert.equal(tagged.body.totalHits, 2);
  assert.deepEqual(ids(await para.get('book/search/tagged', { tags: 'x' })), ['b2', 'b5']);
  assert.equal((await para.get('book', { limit: 1 })).body.totalHits, 3);
  const alp = await para.get('book/search/prefix', { field: 'name', prefix: 'alp', limit: 1 });
  assert.equal(alp.body.totalHits, 1, 'b1 is gone from the name-prefix counts');
  assert.deepEqual(alp.body.items.map((o) => o.id), ['b2']);
});

describe('from schema 5 (the last release)', () => {
  let v5;
  let client;
  const near = async (type, latlng, radius) => {
    const res = await client.get(`${type}/search/nearby`, { latlng, radius });
    assert.equal(res.status, 200);
    assert.equal(res.body.totalHits, res.body.items.length);
    return ids(res);
  };

  before(async () => {
    [v5, client] = await startOn('schema-v5.db');
  });

  after(() => stopCleanly(v5));

  test('the places index is built from the stored positions', async () => {
    assert.match(v5.log, /upgrading the schema to version 6\.\.\./);
    assert.doesNotMatch(v5.log, /upgrading the schema to version 5\.\.\./);
    assert.deepEqual(await near('place', '48.8566,2.3522', 25), ['moved', 'paris', 'versailles'],
      'the patched position, not the first one; the deleted place is gone');
    assert.deepEqual(await near('place', '48.8566,2.3522', 5), ['moved', 'paris']);
    assert.deepEqual(await near('place', '-18.1416,178.4419', 300), ['suva', 'taveuni'],
      'properties.latlng, and across the antimeridian');
    assert.deepEqual(await near('place', '0,0', 100), [], 'where "moved" was before its patch');
    assert.deepEqual(await near('book', '48.8566,2.3522', 25), [], 'other types are not places here');
    assert.deepEqual(await near('place', '51.5074,-0.1278', 1), ['london']);
  });

  test('the full-text index is rebuilt within each app and type', async () => {
    assert.deepEqual(ids(await client.get('place/search', { q: 'versailles' })), ['versailles']);
    assert.deepEqual(ids(await client.get('search', { q: 'london OR paris' })), ['london', 'paris']);
    assert.deepEqual(ids(await client.get('book/search', { q: 'place' })), ['b1'], '"No place"');
    assert.deepEqual(ids(await client.get('place/search', { q: 'place' })), ['bad'], 'latlng "not a place"');
  });

  test('writes after the upgrade keep the places index', async () => {
    assert.equal((await client.post('place', { id: 'louvre', latlng: '48.8606,2.3376' })).status, 201);
    assert.equal((await client.patch('place/london', { latlng: '48.85,2.34' })).status, 200);
    assert.equal((await client.delete('place/paris')).status, 200);
    assert.deepEqual(await near('place', '48.8566,2.3522', 5), ['london', 'louvre', 'moved']);
    assert.deepEqual(await near('place', '51.5074,-0.1278', 1), []);
  });
});
