'use strict';
/**
 * index.d.ts is hand-written: check it against what index.js really exports, so neither drifts. The
 * TypeScript side (that the .d.ts compiles and types real usage) is `npm run check:types`.
 */
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const lib = require('../..');
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
  // Every code of the contract's error table is exported (the contract lives at the repository root).
  const contract = path.join(__dirname, '..', '..', '..', 'docs', 'contract.md');
  if (fs.existsSync(contract)) {
    const text = fs.readFileSync(contract, 'utf8');
    const table = text.slice(text.indexOf('## Errors of the functions'), text.indexOf('## Lambda functions'));
    const codes = [...table.matchAll(/^\| \d{3} \| `([A-Z_]+)` \|/gm)].map((m) => m[1]).sort();
    assert.ok(codes.length >= 18);
    assert.deepEqual(Object.keys(lib.ErrorCodes).sort(), codes);
  }
});

test('the client object has exactly the declared members', () => {
  const body = /export interface WxAuthClient \{([\s\S]*?)\n\}/.exec(dts)[1];
  const declared = [...body.matchAll(/^ {2}(?:readonly )?(\w+)[(<:]/gm)].map((m) => m[1]).sort();
  const client = lib.createClient({ baseUrl: 'https://api.example.com', wx: createWxFake({ codeProvider: () => 'x' }) });
  assert.deepEqual(Object.keys(client).sort(), declared);
});
