'use strict';
/**
 * End to end in JWT mode (issue 16): the client, over real HTTP, against the wxauth local server started
 * with `--auth-mode jwt` in simulator mode, whose gateway checks session JWTs as API Gateway's JWT
 * authorizer does.
 *
 *   WXAUTH_E2E=1 WXAUTH_E2E_JWT_URL=http://127.0.0.1:3001 npm run test:e2e
 *
 * Without WXAUTH_E2E=1 every test is skipped. With it, every test FAILS when no JWT-mode server answers at
 * WXAUTH_E2E_JWT_URL: a CI that asked for e2e must not go green without running it.
 */
const test = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { createWxFake, countRequests, devCodeProvider, httpJson } = require('./wx-fake');
const { createClient } = require('./client');

const flag = process.env.WXAUTH_E2E;
const ENABLED = flag !== undefined && flag !== '' && flag !== '0' && flag !== 'false';
const BASE = (process.env.WXAUTH_E2E_JWT_URL || 'http://127.0.0.1:3001').replace(/\/+$/, '');
const skip = ENABLED ? false
  : 'JWT-mode end-to-end tests need `wxauth-local --auth-mode jwt --listen 127.0.0.1:3001`, then ' +
    'WXAUTH_E2E=1 WXAUTH_E2E_JWT_URL=http://127.0.0.1:3001';
const RUN = crypto.randomBytes(4).toString('hex');

let readiness = null;
/** Checks once that a JWT-mode server in simulator mode answers: its discovery document names it. */
function serverReady() {
  if (!readiness) {
    readiness = httpJson('GET', BASE + '/.well-known/openid-configuration').then((res) => {
      if (res.status !== 200 || !res.body || res.body.issuer !== BASE) {
        throw new Error('GET ' + BASE + '/.well-known/openid-configuration answered ' + res.status + ' ' +
          JSON.stringify(res.body) + ': is the local server running with --auth-mode jwt?');
      }
    }, (err) => {
      throw new Error('no server at ' + BASE + ' (WXAUTH_E2E_JWT_URL): ' + err.message);
    });
  }
  return readiness;
}

/**
 * A phone whose client talks to the JWT-mode server; every request's method, path and credential headers
 * are recorded. `tamperLoginToken`: the token of the first POST /login answer is damaged on its way to the
 * client (so the gateway refuses it, as it would an expired one).
 */
function phone(name, { now, tamperLoginToken } = {}) {
  const wx = createWxFake({ codeProvider: devCodeProvider(BASE, 'e2e-jwt-' + RUN + '-' + name) });
  const counter = countRequests(wx);
  const sent = [];
  let tampered = false;
  const wrapped = Object.create(counter.wx);
  wrapped.request = (opts) => {
    const header = opts.header || {};
    const get = (name) => {
      const key = Object.keys(header).find((k) => k.toLowerCase() === name);
      return key ? header[key] : null;
    };
    const entry = { method: (opts.method || 'GET').toUpperCase(), path: new URL(opts.url).pathname,
      authorization: get('authorization'), skey: get('x-wx-skey'), status: null };
    sent.push(entry);
    const success = opts.success;
    return counter.wx.request(Object.assign({}, opts, {
      success: (res) => {
        entry.status = res.statusCode;
        if (tamperLoginToken && !tampered && entry.path === '/login' && res.data && res.data.token) {
          tampered = true;
          res = Object.assign({}, res, { data: Object.assign({}, res.data, { token: res.data.token.slice(0, -4) + 'AAAA' }) });
        }
        if (success) success(res);
      }
    }));
  };
  const options = { baseUrl: BASE, wx: wrapped };
  if (now) options.now = now;
  const client = createClient(options);
  return { wx, counter, client, sent };
}

test('JWT mode: a cold start logs in once and GET /me goes with the session JWT, no skey', { skip }, async () => {
  await serverReady();
  const p = phone('cold');
  const me = await p.client.me();
  assert.ok(me.openid.length > 0);
  const token = p.client.getToken();
  assert.equal(token.split('.').length, 3, 'a JWT');
  const meCalls = p.sent.filter((e) => e.path === '/me');
  assert.equal(meCalls.length, 1);
  assert.equal(meCalls[0].authorization, 'Bearer ' + token);
  assert.equal(meCalls[0].skey, null);
  assert.equal(p.counter.count('POST', '/login'), 1);
  assert.equal(p.counter.count('POST', '/token'), 0, 'the login answered the first token');
  // The token is the server's: its claims name the caller.
  const claims = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8'));
  assert.equal(claims.sub, me.openid);
  assert.equal(claims.iss, BASE);
});

test('JWT mode: renewed with POST /token and the skey shortly before exp; state changes keep the skey', { skip }, async () => {
  await serverReady();
  let clock = Date.now();
  const p = phone('renew', { now: () => clock });
  await p.client.me();
  const skey = p.client.getSkey();
  clock += 560e3; // 40 s before the 600 s token's exp: renew before sending
  await p.client.me();
  const renewals = p.sent.filter((e) => e.path === '/token');
  assert.equal(renewals.length, 1);
  assert.equal(renewals[0].skey, skey);
  assert.equal(renewals[0].status, 200);
  await p.client.updateProfile({ nickName: 'Jay' });
  const profile = p.sent.filter((e) => e.path === '/profile');
  assert.equal(profile[0].skey, skey);
  assert.equal(profile[0].authorization, null);
  assert.equal(profile[0].status, 200);
  assert.equal(p.counter.count('POST', '/login'), 1);
});

test('JWT mode: a token the gateway refuses (401) is renewed once and the call sent again', { skip }, async () => {
  await serverReady();
  const p = phone('refused', { tamperLoginToken: true });
  const me = await p.client.me();
  assert.ok(me.openid.length > 0);
  const statuses = p.sent.filter((e) => e.path === '/me').map((e) => e.status);
  assert.deepEqual(statuses, [401, 200], 'the real gateway refused the damaged token, then took the renewed one');
  assert.equal(p.counter.count('POST', '/token'), 1);
  assert.equal(p.counter.count('POST', '/login'), 1, 'the skey was fine: no new login');
});

test('JWT mode: when the skey is dead, POST /token answers SESSION_EXPIRED and the client logs in again', { skip }, async () => {
  await serverReady();
  let clock = Date.now();
  const p = phone('dead', { now: () => clock });
  await p.client.me();
  const skey = p.client.getSkey();
  // The session ends on the server (another device's logout, an operator): the skey is dead at once.
  const out = await httpJson('POST', BASE + '/logout', {}, { 'X-WX-Skey': skey });
  assert.equal(out.status, 200);
  clock += 590e3; // the token is about to expire: the client asks POST /token, which refuses the skey
  const me = await p.client.me();
  assert.ok(me.openid.length > 0);
  const token = p.sent.filter((e) => e.path === '/token');
  assert.deepEqual(token.map((e) => e.status), [401]);
  assert.equal(p.counter.count('POST', '/login'), 2, 'one new login');
  assert.notEqual(p.client.getSkey(), skey);
});
