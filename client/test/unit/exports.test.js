'use strict';
/**
 * index.d.ts is hand-written: check it against what index.js really exports, so neither drifts. The
 * TypeScript side (that the .d.ts compiles and types real usage) is `npm run check:types`.
 */
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const lib = require('../client');
const { createWxFake } = require('../wx-fake');

const dts = fs.readFileSync(path.join(__dirname, '..', '..', 'index.d.ts'), 'utf8');

function unionMembers(typeName) {
  const m = new RegExp('export type ' + typeName + ' =([^;]+);').exec(dts);
  assert.ok(m, typeName + ' in index.d.ts');
  return [...m[1].matchAll(/'([A-Z_]+)'/g)].map((x) => x[1]).sort();
}

test('the runtime exports are exactly the declared ones', () => {
  const declared = [...dts.matchAll(/^export declare (?:const|function|class) (\w+)/gm)].map((m) => m[1]).sort();
  assert.deepEqual(Object.keys(lib).sort(), declared);
  assert.equal(lib.DEFAULT_STORAGE_KEY, /DEFAULT_STORAGE_KEY: '([^']+)'/.exec(dts)[1]);
  assert.equal(lib.SKEY_HEADER, /SKEY_HEADER: '([^']+)'/.exec(dts)[1]);
});

test('error code constants match the declared unions and the contract', () => {
  assert.deepEqual(Object.keys(lib.ErrorCodes).sort(), unionMembers('ServerErrorCode'));
  assert.deepEqual(Object.keys(lib.ClientErrorCodes).sort(), unionMembers('ClientErrorCode'));
  for (const [k, v] of Object.entries(Object.assign({}, lib.ErrorCodes, lib.ClientErrorCodes))) assert.equal(k, v);
  // That ErrorCodes is exactly the server's list of codes (and the same as openapi.yaml, the README and
  // docs/contract.md) is held by the one test of all code lists: tests/tests/api/error_codes.rs.
});

test('index.js keeps the one-line-per-code form that the server\'s test parses', () => {
  const source = fs.readFileSync(path.join(__dirname, '..', '..', 'index.js'), 'utf8');
  for (const [name, object] of [['ErrorCodes', lib.ErrorCodes], ['ClientErrorCodes', lib.ClientErrorCodes]]) {
    const m = new RegExp('^var ' + name + ' = Object\\.freeze\\(\\{\\n([\\s\\S]*?)\\n\\}\\);$', 'm').exec(source);
    assert.ok(m, name + ' block');
    const lines = m[1].split('\n').filter((l) => !/^\s*(\/\*\*|\*)/.test(l));
    const listed = lines.map((l) => {
      const e = /^ {2}([A-Z_]+): '([A-Z_]+)',?$/.exec(l);
      assert.ok(e && e[1] === e[2], name + ': one NAME: \'NAME\', per line, got ' + JSON.stringify(l));
      return e[1];
    });
    assert.deepEqual(listed.sort(), Object.keys(object).sort());
  }
});

test('every client-only code is listed in the client README', () => {
  const readme = fs.readFileSync(path.join(__dirname, '..', '..', 'README.md'), 'utf8');
  const table = readme.slice(readme.indexOf('| client code |'));
  for (const code of Object.keys(lib.ClientErrorCodes)) {
    assert.match(table, new RegExp('^\\| `' + code + '` \\|', 'm'), code + ' in the README\'s client code table');
  }
  for (const code of Object.keys(lib.ErrorCodes)) assert.match(readme, new RegExp('`' + code + '`'), code + ' in the README');
});

test('the client object has exactly the declared members', () => {
  const body = /export interface WxAuthClient \{([\s\S]*?)\n\}/.exec(dts)[1];
  const declared = [...new Set([...body.matchAll(/^ {2}(?:readonly )?(\w+)[(<:]/gm)].map((m) => m[1]))].sort();
  const client = lib.createClient({ baseUrl: 'https://api.example.com', wx: createWxFake({ codeProvider: () => 'x' }) });
  assert.deepEqual(Object.keys(client).sort(), declared);
});
