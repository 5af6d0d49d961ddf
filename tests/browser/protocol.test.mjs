// The protocol once (issue 19): pkg/protocol.js names every public call; index.d.ts must
// declare each, on the same class, with the same parameters, and nothing else; the page's
// classes carry exactly the table's methods; a wrong argument type is a SimilError "input"
// naming the argument, before anything reaches the worker.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { CALLS, bindArgs } from '../../pkg/protocol.js';

const DTS = readFileSync(new URL('../../pkg/index.d.ts', import.meta.url), 'utf8');

/** `{ method: [param names] }` of `export class name { … }` in index.d.ts (methods at 2 spaces). */
function declaredMethods(name) {
  const start = DTS.indexOf(`export class ${name} {`);
  assert.ok(start >= 0, `index.d.ts declares class ${name}`);
  const body = DTS.slice(start, DTS.indexOf('\n}\n', start));
  const methods = {};
  for (const m of body.matchAll(/^ {2}(\w+)\(/gm)) {
    let depth = 0;
    let i = m.index + m[0].length - 1;
    const from = i + 1;
    for (; i < body.length; i++) {
      if ('({['.includes(body[i])) depth++;
      if (')}]'.includes(body[i]) && --depth === 0) break;
    }
    const params = [];
    let level = 0;
    let current = '';
    for (const ch of body.slice(from, i)) {
      if ('({[<'.includes(ch)) level++;
      if (')}]>'.includes(ch)) level--;
      if (ch === ',' && level === 0) { params.push(current); current = ''; } else current += ch;
    }
    if (current.trim()) params.push(current);
    methods[m[1]] = params.map((p) => p.trim().match(/^(\w+)/)[1]);
  }
  return methods;
}

for (const cls of ['Simil', 'Collection']) {
  test(`index.d.ts's ${cls} declares exactly the table's calls, with the table's parameters`, () => {
    const declared = declaredMethods(cls);
    delete declared.terminate; // the page's own, no call
    const table = Object.entries(CALLS).filter(([, spec]) => spec.on === cls);
    for (const [name, spec] of table) {
      assert.ok(declared[name], `${cls}.${name} is in the table but not in index.d.ts`);
      assert.deepEqual(declared[name], spec.params.map(([p]) => p), `${cls}.${name}'s parameters`);
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
