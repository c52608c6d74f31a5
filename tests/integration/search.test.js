'use strict';
// Search, listing and batch: every query type and paging mode, read-your-writes,
// batch rules, and isolation between apps.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { ServerProcess, ROOT_SECRET } = require('./lib/server');
const { ParaClient } = require('./lib/para_client');

let server;
let para;
let other;

const ids = (res) => res.body.items.map((o) => o.id).sort();
const names = (res) => res.body.items.map((o) => o.name).sort();

function assert400(res, message) {
  assert.equal(res.status, 400, res.text);
  assert.equal(res.body.code, 400);
  assert.match(res.body.message, message);
}

before(async () => {
  server = await new ServerProcess().start();
  para = new ParaClient(server.endpoint, 'app:para', ROOT_SECRET);
  const { body: keys } = await para.get('_setup/searcher');
  other = new ParaClient(server.endpoint, keys.accessKey, keys.secretKey);
  const created = await para.post('_batch', [
    { id: 'b1', type: 'book', name: 'The Hobbit', tags: ['fantasy', 'classic'], author: 'Tolkien', pages: 310, year: 1937 },
    { id: 'b2', type: 'book', name: 'The Lord of the Rings', tags: ['fantasy'], author: 'Tolkien', pages: 1178, year: 1954 },
    { id: 'b3', type: 'book', name: 'Dune', tags: ['scifi', 'classic'], author: 'Herbert', pages: 412, year: 1965 },
    { id: 'b4', type: 'book', name: 'Neuromancer', tags: ['scifi', 'cyberpunk'], author: 'Gibson', pages: 271, year: 1984,
      details: { publisher: { name: 'Ace' }, isbn: '0-441-56959-5' } },
    { id: 'p1', type: 'place', name: 'Sofia', latlng: '42.6977,23.3219' },
    { id: 'p2', type: 'place', name: 'Plovdiv', latlng: '42.1354,24.7453' },
    { id: 'p3', type: 'place', name: 'Paris', latlng: '48.8566,2.3522' },
  ]);
  assert.equal(created.status, 200, created.text);
  assert.equal(created.body.length, 7);
  await other.post('_batch', [{ id: 'x1', type: 'book', name: 'The Hobbit', tags: ['fantasy'], author: 'Tolkien' }]);
});

after(async () => {
  const exit = await server.stop();
  assert.equal(exit.code, 0, server.log);
  assert.doesNotMatch(server.log, / -> 500 /);
  server.cleanup();
});

test('default query string: terms, fields, phrases, booleans, wildcards, ranges', async () => {
  const q = async (query, params = {}) => {
    const res = await para.get('books', { q: query, ...params });
    assert.equal(res.status, 200, `${query}: ${res.text}`);
    return ids(res);
  };
  assert.deepEqual(await q('*'), ['b1', 'b2', 'b3', 'b4']);
  assert.deepEqual(await q('hobbit'), ['b1'], 'full text, case-insensitive');
  assert.deepEqual(await q('tolkien'), ['b1', 'b2'], 'full text covers properties');
  assert.deepEqual(await q('author:tolkien'), ['b1', 'b2'], 'field match ignores case');
  assert.deepEqual(await q('properties.author:Herbert'), ['b3']);
  assert.deepEqual(await q('"lord of the rings"'), ['b2']);
  assert.deepEqual(await q('name:"The Hobbit"'), ['b1']);
  assert.deepEqual(await q('tolkien AND NOT hobbit'), ['b2']);
  assert.deepEqual(await q('tolkien -hobbit'), ['b2']);
  assert.deepEqual(await q('dune OR neuromancer'), ['b3', 'b4']);
  assert.deepEqual(await q('(dune OR hobbit) AND tags:classic'), ['b1', 'b3']);
  assert.deepEqual(await q('neuro*'), ['b4'], 'prefix');
  assert.deepEqual(await q('name:Neu*'), ['b4']);
  assert.deepEqual(await q('-name:d*'), ['b1', 'b2', 'b4'], 'NOT of a name prefix');
  assert.deepEqual(await q('name:D?ne'), ['b3'], 'wildcard');
  assert.deepEqual(await q('pages:[300 TO 500]'), ['b1', 'b3']);
  assert.deepEqual(await q('year:{1937 TO *]'), ['b2', 'b3', 'b4']);
  assert.deepEqual(await q('pages:310'), ['b1'], 'numbers compare by value');
  assert.deepEqual(await q('details.publisher.name:ace'), ['b4'], 'nested property paths');
  assert.deepEqual(await q('tags:scifi'), ['b3', 'b4']);
  assert.deepEqual(await q('-tags:fantasy'), ['b3', 'b4'], 'a purely negative query');
  assert.deepEqual(await q('id:b2'), ['b2']);
  assert.deepEqual(await q('secret:x'), [], 'hidden fields are never searchable');
});

test('a syntax error in q is a 400 that names the query and the request', async () => {
  for (const bad of ['name:(a', '"open', 'a AND', '[1 TO 2]', 'x:']) {
    const res = await para.get('books', { q: bad });
    assert400(res, /^Invalid query string syntax q=.* in request GET \/v1\/books/);
  }
  assert400(await para.get('search', { q: '(((' }), /Invalid query string syntax/);
});

test('every query type', async () => {
  const s = (querytype, params) => para.get(`books/search/${querytype}`, params);
  assert.deepEqual(ids(await s('id', { id: 'b3' })), ['b3']);
  assert.deepEqual(ids(await s('ids', { ids: ['b1', 'b4', 'nope'] })), ['b1', 'b4']);
  assert.deepEqual(ids(await s('prefix', { field: 'name', prefix: 'the' })), ['b1', 'b2']);
  assert.deepEqual(ids(await s('tagged', { tags: ['scifi', 'classic'] })), ['b3'], 'all tags');
  assert.deepEqual(ids(await s('in', { field: 'author', terms: ['Gibson', 'Herbert'] })), ['b3', 'b4']);
  assert.deepEqual(ids(await s('terms', { terms: ['author:Tolkien', 'pages >:400'] })), ['b2']);
  assert.deepEqual(ids(await s('terms', { terms: ['author:Gibson', 'year <=:1937'], matchall: 'false' })), ['b1', 'b4']);
  assert.deepEqual(ids(await s('wildcard', { field: 'name', q: '*of*' })), ['b2']);
  assert.deepEqual(ids(await s('nested', { field: 'details', q: 'publisher.name:Ace' })), ['b4']);
  assert.deepEqual(ids(await s('similar', { fields: ['name'], like: 'the lord of hobbits rings', filterid: 'b2' })), ['b1']);
  const count = await s('count', { q: 'tags:fantasy' });
  assert.equal(count.body.totalHits, 2);
  assert.deepEqual(count.body.items, []);
  const near = await para.get('search/nearby', { type: 'place', latlng: '42.6977,23.3219', radius: 200 });
  assert.deepEqual(ids(near), ['p1', 'p2'], 'Plovdiv is 132 km from Sofia, Paris is not near');
  const global = await para.get('search', { q: 'classic' });
  assert.deepEqual(ids(global), ['b1', 'b3'], '/v1/search searches every type');
  const byParam = await para.get('search', { querytype: 'id', id: 'p3' });
  assert.deepEqual(ids(byParam), ['p3']);
  assert400(await s('prefix', { prefix: 'x' }), /'field' is required/);
  assert400(await s('nearby', { latlng: 'north' }), /latlng/);
  assert400(await s('terms', { terms: 'novalue' }), /field:value/);
});

test('paging with page, limit, sort and desc', async () => {
  const first = await para.get('books', { limit: 2, sort: 'year', desc: 'false' });
  assert.deepEqual(first.body.items.map((o) => o.year), [1937, 1954]);
  assert.equal(first.body.totalHits, 4);
  assert.equal(first.body.page, 0);
  const second = await para.get('books', { limit: 2, page: 2, sort: 'year', desc: 'false' });
  assert.deepEqual(second.body.items.map((o) => o.year), [1965, 1984]);
  const byName = await para.get('books', { sort: 'name', desc: 'false' });
  assert.deepEqual(byName.body.items.map((o) => o.name), ['Dune', 'Neuromancer', 'The Hobbit', 'The Lord of the Rings']);
  assert400(await para.get('books', { limit: -1 }), /'limit'/);
});

test('lastKey pages never skip or repeat, even while objects are inserted', async () => {
  const total = 25;
  await para.post('_batch', Array.from({ length: total }, (_, i) => ({ type: 'tick', name: `t${i}`, n: i })));
  const seen = [];
  let lastKey;
  for (let round = 0; round < 20; round++) {
    const res = await para.get('ticks', { limit: 4, sort: 'n', desc: 'false', ...(lastKey ? { lastKey } : {}) });
    assert.equal(res.status, 200, res.text);
    if (res.body.items.length === 0) break;
    seen.push(...res.body.items.map((o) => o.n));
    lastKey = res.body.lastKey;
    // Concurrent inserts that sort before the cursor must not shift the pages.
    await para.post('tick', { name: 'late', n: -round - 1 });
  }
  assert.deepEqual(seen, Array.from({ length: total }, (_, i) => i));
  assert400(await para.get('ticks', { lastKey: 'garbage!' }), /Invalid lastKey/);
});

test('search reads its own writes at once', async () => {
  const created = await para.post('memo', { name: 'quasar unicorn' });
  const found = await para.get('memos', { q: 'unicorn' });
  assert.deepEqual(ids(found), [created.body.id]);
  await para.patch(`memo/${created.body.id}`, { name: 'pulsar' });
  assert.equal((await para.get('memos', { q: 'unicorn' })).body.totalHits, 0);
  assert.equal((await para.get('memos', { q: 'pulsar' })).body.totalHits, 1);
  await para.delete(`memo/${created.body.id}`);
  assert.equal((await para.get('memos', { q: 'pulsar' })).body.totalHits, 0);
});

test('search results are exactly what GET returns for each object', async () => {
  const shapes = [
    { type: 'shape', name: 'plain' },
    { type: 'shape', name: 'Zürich "quoted" \\ back', tags: ['a', 'b'], n: 0.1, big: 9007199254740993, tiny: 1e-7 },
    { type: 'shape', nested: { deep: { list: [1, 'two', null, true] } }, empty: {}, votes: 3 },
  ];
  const created = [];
  for (const o of shapes) created.push((await para.post('shape', o)).body);
  await para.patch(`shape/${created[0].id}`, { extra: 'patched' });
  const list = await para.get('shape', { limit: 10 });
  assert.equal(list.status, 200);
  assert.equal(list.body.items.length, shapes.length);
  for (const item of list.body.items) {
    const one = await para.get(`shape/${item.id}`);
    assert.deepEqual(item, one.body, `listed ${item.id} differs from its GET`);
  }
  const tagged = await para.get('shape/search/tagged', { tags: 'a' });
  assert.deepEqual(tagged.body.items, [(await para.get(`shape/${created[1].id}`)).body]);
  const selected = await para.get('shape', { select: 'id,name' });
  for (const item of selected.body.items) assert.deepEqual(Object.keys(item).sort(), ['id', 'name']);
});

test('a search never returns another app\'s objects', async () => {
  assert.deepEqual(ids(await other.get('books', { q: 'hobbit' })), ['x1']);
  assert.deepEqual(ids(await para.get('books', { q: 'hobbit' })), ['b1']);
  assert.deepEqual(ids(await other.get('search', { q: '*' })), ['x1']);
  assert.deepEqual(ids(await other.get('books/search/ids', { ids: ['b1', 'b2', 'x1'] })), ['x1']);
  assert.deepEqual(ids(await other.get('books/search/tagged', { tags: 'fantasy' })), ['x1']);
  assert.equal((await other.get('_batch', { ids: ['b1', 'b2'] })).body.length, 0);
});

test('batch: objects past the app\'s custom type limit are skipped, not the batch', async () => {
  const small = await new ServerProcess({ env: { para_max_datatypes_per_app: '2' } }).start();
  try {
    const root = new ParaClient(small.endpoint, 'app:para', ROOT_SECRET);
    const res = await root.post('_batch', [
      { id: 'a1', type: 'alpha', name: 'a' }, { id: 'b1', type: 'beta', name: 'b' },
      { id: 'g1', type: 'gamma', name: 'g' }, { id: 'a2', type: 'alpha', name: 'a again' }]);
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.body.map((o) => o.id), ['a1', 'b1', 'a2']);
    const types = (await root.get('_types')).body;
    assert.equal(types.gammas, undefined);
    assert.equal(types.alphas, 'alpha');
    assert.equal((await root.get('gamma/g1')).status, 404);
    const single = await root.post('gamma', { name: 'g' });
    assert.equal(single.status, 400, single.text);
    assert.match(single.body.message, /max_datatypes_per_app/);
  } finally {
    await small.stop();
    small.cleanup();
  }
});

test('batch: create, read, update, delete with Para\'s rules', async () => {
  const created = await para.post('_batch', [
    { type: 'gadget', name: 'ok1' },
    { type: 'gadget', name: 'ok2', tags: ['x'] },
    { type: 'gadget', name: 5 },
    'not an object',
    { type: 'app', id: 'app:sneaky' },
    { type: '_bad', name: 'bad type' },
  ]);
  assert.equal(created.status, 200, created.text);
  assert.deepEqual(created.body.map((o) => o.name).sort(), ['ok1', 'ok2'], 'invalid items and apps are skipped');
  const [a, b] = created.body;
  assert.equal((await para.get('_types')).body.gadgets, 'gadget', '_types sees types made by batch');
  assert.equal((await para.get(`app/${encodeURIComponent('app:sneaky')}`)).status, 404);

  const read = await para.get('_batch', { ids: [a.id, 'missing', b.id] });
  assert.deepEqual(read.body.map((o) => o.id), [a.id, b.id]);

  const updated = await para.patch('_batch', [{ id: a.id, color: 'red' }, { id: b.id, color: 'blue', version: 99 }, { id: 'missing', color: 'x' }]);
  assert.equal(updated.status, 200, updated.text);
  assert.deepEqual(updated.body.map((o) => [o.id, o.color]), [[a.id, 'red']], 'stale versions are left out');
  const allStale = await para.patch('_batch', [{ id: a.id, version: 42 }, { id: b.id, version: 42 }]);
  assert.equal(allStale.status, 412);
  assert.equal(allStale.body.message, "Update failed due to 'version' mismatch.");

  const put = await para.put('_batch', [{ id: a.id, type: 'gadget', name: 'replaced' }]);
  assert.equal(put.body[0].name, 'replaced');
  assert.equal(put.body[0].color, undefined);

  const del = await para.delete('_batch', { ids: [a.id, b.id] });
  assert.equal(del.status, 200);
  assert.equal((await para.get('_batch', { ids: [a.id, b.id] })).body.length, 0);
  assert.equal((await para.get('gadgets')).body.totalHits, 0);

  assert400(await para.get('_batch'), /Missing ids/);
  assert400(await para.delete('_batch'), /Missing ids/);
  assert400(await para.request('POST', '_batch', { entity: { not: 'an array' } }), /JSON array/);
  assert400(await para.request('POST', '_batch', { rawBody: '[{"a":', headers: { 'Content-Type': 'application/json' } }), /Malformed JSON/);
});

test('a batch may be larger than one object, but each item must fit', async () => {
  const items = Array.from({ length: 3 }, (_, i) => ({ type: 'blob', name: `b${i}`, data: 'x'.repeat(700 * 1024) }));
  items.push({ type: 'blob', name: 'too big', data: 'y'.repeat(1100 * 1024) });
  const res = await para.post('_batch', items);
  assert.equal(res.status, 200, res.text.slice(0, 200));
  assert.deepEqual(res.body.map((o) => o.name).sort(), ['b0', 'b1', 'b2']);
  const single = await para.post('blob', { data: 'z'.repeat(1100 * 1024) });
  assert400(single, /Request is too large/);
});
