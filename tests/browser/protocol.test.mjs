// The protocol once (issue 19): pkg/protocol.js names every public call; index.d.ts must
// declare each, on the same class, with the same parameters, and nothing else; the page's
// classes carry exactly the table's methods; a wrong argument type is a SimilError "input"
// naming the argument, before anything reaches the worker.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { CALLS, bindArgs, compact } from '../../pkg/protocol.js';

const DTS = readFileSync(new URL('../../pkg/index.d.ts', import.meta.url), 'utf8');

/** The text from `open` (at `from`) to its matching close, counting ({[< nesting. */
function balanced(text, from) {
  let depth = 0;
  for (let i = from; i < text.length; i++) {
    if ('({[<'.includes(text[i])) depth++;
    if (')}]>'.includes(text[i]) && text[i - 1] !== '=' && --depth === 0) return text.slice(from + 1, i);
  }
  throw new Error(`unbalanced from ${from}`);
}

/** Splits `text` at the commas outside any nesting. */
function topLevel(text, separator = ',') {
  const parts = [];
  let level = 0;
  let current = '';
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if ('({[<'.includes(ch)) level++;
    if (')}]>'.includes(ch) && text[i - 1] !== '=') level--;
    if (ch === separator && level === 0) { parts.push(current); current = ''; } else current += ch;
  }
  if (current.trim()) parts.push(current);
  return parts.map((p) => p.trim());
}

/** `{ method: { params, returns } }` of `export class name { … }` in index.d.ts (methods at 2 spaces). */
function declaredMethods(name) {
  const start = DTS.indexOf(`export class ${name} {`);
  assert.ok(start >= 0, `index.d.ts declares class ${name}`);
  const body = DTS.slice(start, DTS.indexOf('\n}\n', start));
  const methods = {};
  for (const m of body.matchAll(/^ {2}(\w+)\(/gm)) {
    const open = m.index + m[0].length - 1;
    const params = balanced(body, open);
    const after = body.slice(open + params.length + 2); // past "(" + params + ")"
    const returns = after.match(/^: ([^;]*);/s)[1].trim().replace(/^Promise<(.*)>$/s, '$1');
    methods[m[1]] = { params: topLevel(params).map((p) => p.match(/^(\w+)/)[1]), returns };
  }
  return methods;
}

/** The member names of `export interface name { … }` in index.d.ts. */
function interfaceKeys(name) {
  const start = DTS.indexOf(`export interface ${name} {`);
  assert.ok(start >= 0, `index.d.ts declares interface ${name}`);
  const body = DTS.slice(start, DTS.indexOf('\n}\n', start));
  return [...body.matchAll(/^ {2}(?:readonly )?(\w+)\??:/gm)].map((m) => m[1]).sort();
}

const WORKER = readFileSync(new URL('../../pkg/worker.js', import.meta.url), 'utf8');

/** The keys of the object literal the worker's handler `name` returns last. */
function workerResultKeys(name) {
  const start = WORKER.indexOf(`async ${name}(`);
  assert.ok(start >= 0, `worker.js has a handler ${name}`);
  const literal = WORKER.indexOf('return {', start);
  return topLevel(balanced(WORKER, literal + 'return '.length)).map((p) => p.match(/^(\w+)/)[1]).sort();
}

for (const cls of ['Simil', 'Collection']) {
  test(`index.d.ts's ${cls} declares exactly the table's calls, with the table's parameters`, () => {
    const declared = declaredMethods(cls);
    delete declared.terminate; // the page's own, no call
    const table = Object.entries(CALLS).filter(([, spec]) => spec.on === cls);
    for (const [name, spec] of table) {
      assert.ok(declared[name], `${cls}.${name} is in the table but not in index.d.ts`);
      assert.deepEqual(declared[name].params, spec.params.map(([p]) => p), `${cls}.${name}'s parameters`);
      assert.equal(declared[name].returns, spec.returns, `${cls}.${name} resolves to the table's type`);
    }
    for (const name of Object.keys(declared)) {
      assert.ok(CALLS[name]?.on === cls, `${cls}.${name} is in index.d.ts but not in the table`);
    }
  });
}

test('every long call documents onProgress or signal in its last parameter', () => {
  for (const [name, spec] of Object.entries(CALLS).filter(([, s]) => s.long)) {
    const start = DTS.indexOf(`  ${name}(`);
    let params = DTS.slice(start, DTS.indexOf('): Promise<', start));
    const named = params.match(/\w+\??: (\w+)$/); // an options interface declared apart
    if (named) params = DTS.slice(DTS.indexOf(`export interface ${named[1]} {`)).split('\n}\n')[0];
    assert.match(params, /signal\?: AbortSignal/, `${name} takes a signal`);
  }
});

test('a wrong argument type is a SimilError "input" naming the argument', () => {
  const fail = (code, message) => Object.assign(new Error(message), { code });
  assert.throws(() => bindArgs('createCollection', [42, {}], fail), (e) => e.code === 'input' && /`name` must be a string, got number/.test(e.message));
  assert.throws(() => bindArgs('loadCollection', ['c', [1, 2]], fail), (e) => e.code === 'input' && /`bytes` must be a Uint8Array/.test(e.message));
  assert.throws(() => bindArgs('setEfSearch', [1.5], fail), (e) => /`ef` must be an integer/.test(e.message));
  assert.throws(() => bindArgs('match', ['x', {}], fail), (e) => /`vector`/.test(e.message));
  assert.deepEqual(bindArgs('embedTexts', [['a']], fail), { texts: ['a'] });
  assert.deepEqual(bindArgs('search', [{ k: 1 }], fail), { query: { k: 1 } });
});

test('a posted view of part of a larger buffer carries only its own bytes', () => {
  const matrix = new Float32Array(1000 * 4).map((_, i) => i);
  const row = matrix.subarray(8, 12);
  const own = new Float32Array([1, 2]);
  const blob = new (class Image {})();
  const args = { query: { vector: row, k: 3 }, items: [{ id: 'a', vectors: { v: row, w: own } }, blob], n: 1 };
  const posted = compact(args);
  const v = posted.query.vector;
  assert.ok(v instanceof Float32Array);
  assert.deepEqual([...v], [8, 9, 10, 11]);
  assert.equal(v.buffer.byteLength, 16, 'the copy owns a buffer of its 4 floats, not the 16,000-byte matrix');
  assert.equal(posted.items[0].vectors.v.buffer.byteLength, 16);
  assert.equal(posted.items[0].vectors.w, own, 'an array owning its whole buffer is posted as it is');
  assert.equal(posted.items[1], blob, 'objects other than plain ones and arrays pass through');
  assert.equal(posted.query.k, 3);
  assert.equal(args.query.vector, row, "the caller's arguments are left alone");
});

test('the page builds one method per table entry, on the class the table names', async () => {
  // index.js needs a browser only to open; its classes can be read in node.
  const { Simil, Collection } = await import('../../pkg/index.js');
  for (const [name, spec] of Object.entries(CALLS)) {
    const cls = spec.on === 'Simil' ? Simil : Collection;
    assert.equal(typeof cls.prototype[name], 'function', `${spec.on}.${name}`);
  }
  const own = (cls) => Object.getOwnPropertyNames(cls.prototype).filter((n) => n !== 'constructor' && n !== 'terminate');
  assert.deepEqual(own(Simil).sort(), Object.keys(CALLS).filter((n) => CALLS[n].on === 'Simil').sort());
  assert.deepEqual(own(Collection).sort(), Object.keys(CALLS).filter((n) => CALLS[n].on === 'Collection').sort());
});

test("every type the table returns is declared in index.d.ts", () => {
  const builtin = new Set(['number', 'string', 'boolean', 'void', 'null', 'Required', 'Float32Array', 'Uint8Array', 'Blob']);
  for (const [name, spec] of Object.entries(CALLS)) {
    for (const type of spec.returns.match(/\w+/g)) {
      if (builtin.has(type)) continue;
      assert.match(DTS, new RegExp(`export (interface|type|class) ${type}\\b`), `${name} returns ${type}, which index.d.ts declares`);
    }
  }
});

test("TrainHeadResult names exactly what the worker's trainHead returns", () => {
  assert.deepEqual(interfaceKeys('TrainHeadResult'), workerResultKeys('trainHead'));
});

test('the model infos declare the `bytes` the worker adds to what the model module returns', () => {
  for (const [call, info] of [['loadImageModel', 'ImageModelInfo'], ['loadTextModel', 'TextModelInfo'], ['loadClip', 'ClipInfo']]) {
    assert.equal(CALLS[call].returns, info);
    assert.match(WORKER, new RegExp(`async ${call}\\([^]*?return \\{ \\.\\.\\.\\(await pool\\.load\\('${call}'[^]*?bytes: `), `worker's ${call} adds bytes`);
    assert.ok(interfaceKeys(info).includes('bytes'), `${info} declares bytes`);
  }
});

test('what the user sees is camelCase: no snake_case member in index.d.ts', () => {
  const members = [...DTS.matchAll(/^\s+(?:readonly )?([a-z]\w*)\??[:(]/gm)].map((m) => m[1]);
  assert.ok(members.length > 100, `found ${members.length} members`);
  assert.deepEqual(members.filter((m) => m.includes('_')), []);
  assert.deepEqual(Object.keys(CALLS).filter((m) => m.includes('_')), []);
});

test("every error code is in SimilErrorCode and in the README's table, and the JS raises no other", () => {
  const union = DTS.match(/export type SimilErrorCode =([^;]*);/)[1].match(/'(\w+)'/g).map((c) => c.slice(1, -1)).sort();
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const table = [...readme.matchAll(/^\| `(\w+)` \| /gm)].map((m) => m[1]);
  const documented = table.filter((c) => union.includes(c));
  assert.deepEqual([...new Set(documented)].sort(), union, "the README's code table lists every code");
  for (const file of ['index.js', 'worker.js', 'protocol.js', 'cache.js', 'pool.js', 'model-worker.js', 'pixels.js']) {
    const source = readFileSync(new URL(`../../pkg/${file}`, import.meta.url), 'utf8');
    for (const [, code] of source.matchAll(/fail\('(\w+)'/g)) assert.ok(union.includes(code), `${file} raises code ${code}`);
  }
});
