'use strict';
/**
 * Keeps test/e2e.test.js honest while the real local server does not run here: it must skip without
 * WXAUTH_E2E, FAIL (not skip) when WXAUTH_E2E=1 and nothing answers, and pass against a server that
 * follows the contract (the unit tests' fake server).
 */
const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { startFakeServer, closedPort } = require('../fake-server');

const E2E = path.join(__dirname, '..', 'e2e.test.js');

/** Runs the e2e file in its own `node --test`; resolves {code, output}. */
function runE2e(extraEnv) {
  const env = Object.assign({}, process.env, extraEnv);
  delete env.NODE_TEST_CONTEXT; // set by the parent runner; would change the child's reporting
  for (const key of Object.keys(extraEnv)) if (extraEnv[key] === undefined) delete env[key];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--test', '--test-reporter=tap', E2E], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c) => { output += c; });
    child.stderr.on('data', (c) => { output += c; });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

test('without WXAUTH_E2E the e2e tests are skipped, with the reason', async () => {
  const { code, output } = await runE2e({ WXAUTH_E2E: undefined, WXAUTH_E2E_URL: undefined });
  assert.equal(code, 0, output);
  assert.match(output, /# SKIP end-to-end tests need the local server/);
  assert.match(output, /# pass 0/);
  assert.match(output, /# skipped 9/);
});

test('with WXAUTH_E2E=1 and no server answering, the e2e tests fail', async () => {
  const port = await closedPort();
  const { code, output } = await runE2e({ WXAUTH_E2E: '1', WXAUTH_E2E_URL: 'http://127.0.0.1:' + port });
  assert.notEqual(code, 0, output);
  assert.match(output, /the local server does not answer at http:\/\/127\.0\.0\.1:\d+/);
  assert.match(output, /# fail 9/);
  assert.match(output, /# skipped 0/);
});

test('with WXAUTH_E2E=1 against a server that follows the contract, every e2e test passes', async (t) => {
  const server = await startFakeServer();
  t.after(() => server.close());
  const { code, output } = await runE2e({ WXAUTH_E2E: '1', WXAUTH_E2E_URL: server.url });
  assert.equal(code, 0, output);
  assert.match(output, /# pass 9/);
  assert.match(output, /# fail 0/);
});

test('WXAUTH_E2E_APPID: the e2e phones report that appid and the client sends it with POST /login', async (t) => {
  const server = await startFakeServer({ appids: ['wxe2eappid0000001'] });
  t.after(() => server.close());
  const { code, output } = await runE2e({ WXAUTH_E2E: '1', WXAUTH_E2E_URL: server.url, WXAUTH_E2E_APPID: 'wxe2eappid0000001' });
  assert.equal(code, 0, output);
  const logins = server.requests('POST', '/login').map((r) => JSON.parse(r.body));
  assert.ok(logins.length > 0);
  assert.ok(logins.every((body) => body.appid === 'wxe2eappid0000001'), 'every login carried the appid');

  // A wrong appid against a multi-app server is UNKNOWN_APP at once: proof that the field really goes out.
  const wrong = await runE2e({ WXAUTH_E2E: '1', WXAUTH_E2E_URL: server.url, WXAUTH_E2E_APPID: 'wxnotserved000001' });
  assert.notEqual(wrong.code, 0);
  assert.match(wrong.output, /UNKNOWN_APP/);
});

test('without WXAUTH_E2E_APPID the e2e phones send no appid (any server\'s appid works)', async (t) => {
  const server = await startFakeServer({ appids: ['wxsomeotherapp0001'] });
  t.after(() => server.close());
  const { code, output } = await runE2e({ WXAUTH_E2E: '1', WXAUTH_E2E_URL: server.url, WXAUTH_E2E_APPID: undefined });
  assert.equal(code, 0, output);
  assert.ok(server.requests('POST', '/login').every((r) => !('appid' in JSON.parse(r.body))));
});
