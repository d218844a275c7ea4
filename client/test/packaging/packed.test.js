'use strict';
/**
 * Tested as it ships (issue 17.9): `npm pack` -> installed as a copy into a mini program project ->
 * miniprogram-ci's npm build (the DevTools' "Build npm") -> miniprogram_npm/wxauth-client/index.js. That
 * file is checked to be ES5, is run in a separate realm that has nothing but what a mini program has
 * (wx, timers, console, the JS built-ins: no process, Buffer, require...), and the whole unit suite runs
 * again against it.
 */
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const vm = require('node:vm');
const { spawn } = require('node:child_process');
const acorn = require('acorn');
const { CLIENT_DIR, buildMiniprogramNpm } = require('../build');
const { startFakeServer } = require('../fake-server');
const { createWxFake } = require('../wx-fake');

let build;
test.before(async () => { build = await buildMiniprogramNpm(); });
test.after(() => build && build.cleanup());

test('npm pack ships index.js, index.d.ts, README.md and package.json, nothing else', () => {
  assert.deepEqual(build.files, ['README.md', 'index.d.ts', 'index.js', 'package.json']);
  const installed = fs.readdirSync(path.join(build.project, 'node_modules', 'wxauth-client')).sort();
  assert.deepEqual(installed, ['README.md', 'index.d.ts', 'index.js', 'package.json']);
  assert.equal(fs.lstatSync(path.join(build.project, 'node_modules', 'wxauth-client')).isSymbolicLink(), false, 'a copy');
});

test('the DevTools npm build (miniprogram-ci packNpmManually) wraps index.js and needs nothing else', () => {
  const built = fs.readFileSync(build.built, 'utf8');
  assert.match(built, /^module\.exports = \(function\(\) \{/, 'the npm builder\'s module wrapper');
  assert.match(built, /miniprogram-npm-outsideDeps=\[\]/, 'no dependency outside the package');
  assert.ok(built.includes('function createClient(options)'));
  assert.equal(build.result.otherNpmPackNum, 1);
  assert.deepEqual(build.result.warnList, []);
});

test('index.js and the built file are ES5 (acorn, ecmaVersion 5)', () => {
  for (const file of [path.join(CLIENT_DIR, 'index.js'), build.built]) {
    const source = fs.readFileSync(file, 'utf8');
    assert.doesNotThrow(() => acorn.parse(source, { ecmaVersion: 5, sourceType: 'script' }), file);
  }
});

/** The built file in a fresh realm with only the mini program's globals. */
function loadInSandbox(file, wx) {
  const sandbox = {
    wx,
    setTimeout: (fn, ms) => setTimeout(fn, ms),
    clearTimeout: (id) => clearTimeout(id),
    console: { log() {}, warn() {}, error() {} }
  };
  const context = vm.createContext(sandbox);
  const module = { exports: {} };
  const wrapper = vm.runInContext('(function (require, module, exports) {' + fs.readFileSync(file, 'utf8') + '\n})', context,
    { filename: file });
  wrapper((name) => { throw new Error('required ' + name); }, module, module.exports);
  for (const name of ['process', 'Buffer', 'global', 'setImmediate', 'require']) {
    assert.equal(vm.runInContext('typeof ' + name, context), 'undefined', name + ' is not there');
  }
  return { lib: module.exports, context };
}

test('the built file runs in a realm without Node globals: login, renewal, business error, upload, logout', async (t) => {
  const server = await startFakeServer();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wxauth-sandbox-'));
  t.after(() => { fs.rmSync(dir, { recursive: true, force: true }); return server.close(); });
  const wx = createWxFake({ codeProvider: () => server.mintCode('sandboxed') });
  const { lib, context } = loadInSandbox(build.built, wx);
  const client = lib.createClient({ baseUrl: server.url }); // the global wx of the sandbox

  const me = await client.me();
  assert.equal(me.openid, server.openidOf('sandboxed'));
  server.revoke(client.getSkey());
  await client.request({ url: '/orders' });
  assert.equal(server.count('POST', '/login'), 2);

  let err;
  try {
    await client.request({ url: '/orders/42', method: 'DELETE' });
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof lib.WxAuthError, 'instanceof WxAuthError in the built file');
  assert.ok(vm.runInContext('(function (e) { return e instanceof Error; })', context)(err), 'an Error of its realm');
  assert.equal(err.code, 'HTTP_ERROR');
  assert.equal(err.status, 403);
  assert.deepEqual(JSON.parse(JSON.stringify(err.data)), { code: 40301, msg: 'not your order' });
  assert.equal(server.count('POST', '/login'), 2);

  const file = path.join(dir, 'a.png');
  fs.writeFileSync(file, Buffer.from('89504e470d0a1a0a00', 'hex'));
  const profile = await client.updateAvatar(file);
  assert.match(profile.avatarUrl, /\/avatars\/u[A-Za-z0-9_-]{21}\/[0-9a-f]{64}\.png$/, 'uploadFile\'s string data parsed');

  await client.logout();
  let out;
  try {
    await client.me();
  } catch (e) {
    out = e;
  }
  assert.equal(out.code, 'NOT_LOGGED_IN');
});

test('the whole unit suite passes against the built file (WXAUTH_CLIENT_BUILD)', async () => {
  const result = await new Promise((resolve) => {
    const env = Object.assign({}, process.env, { WXAUTH_CLIENT_BUILD: build.built });
    delete env.NODE_TEST_CONTEXT; // set by the parent runner; would change the child's reporting
    const child = spawn(process.execPath, ['--test', '--test-reporter=tap', 'test/unit/'], {
      cwd: CLIENT_DIR,
      env,
      stdio: ['ignore', 'pipe', 'pipe']
    });
    let output = '';
    child.stdout.on('data', (c) => { output += c; });
    child.stderr.on('data', (c) => { output += c; });
    child.on('close', (code) => resolve({ code, output }));
  });
  const summary = /^# pass (\d+)\n# fail (\d+)/m.exec(result.output);
  assert.equal(result.code, 0, result.output.split('\n').filter((l) => /^not ok|^# (pass|fail)|Error/.test(l)).join('\n'));
  assert.ok(summary && Number(summary[1]) >= 80 && summary[2] === '0', 'ran the suite: ' + (summary && summary[0]));
});
