'use strict';
/**
 * JWT mode (issue 16): the session JWT from POST /login / POST /token kept in memory, sent as
 * `Authorization: Bearer` to GET /me and the app's own APIs, the skey kept on wxauth's state-changing
 * routes; single-flight renewal shortly before exp (injected clock) and after the JWT authorizer's 401;
 * a full login when the skey itself is dead.
 */
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { setup, rejectionOf, assertWxAuthError } = require('../harness');
const { ClientErrorCodes, DEFAULT_STORAGE_KEY, ErrorCodes } = require('../client');

function bearerOf(entry) {
  const m = /^Bearer (.+)$/.exec(entry.authorization || '');
  return m ? m[1] : null;
}

async function jwtSetup(t, extra = {}) {
  let clock = Date.now();
  const h = await setup(Object.assign({ server: { jwt: true, tokenTtl: 600 }, client: { now: () => clock } }, extra));
  t.after(h.close);
  h.advance = (ms) => { clock += ms; };
  return h;
}

test('JWT mode: the token from POST /login goes as Bearer to GET /me and the app\'s APIs, no skey there', async (t) => {
  const h = await jwtSetup(t);
  const session = await h.client.login();
  const token = h.client.getToken();
  assert.match(token, /^jwt\./);
  assert.equal(session.skey.length, 43);
  assert.equal((await h.client.me()).openid, h.server.openidOf('alice'));
  assert.deepEqual(await h.client.request({ url: '/orders' }), [{ id: '1', total: 99 }]);
  for (const entry of [...h.server.requests('GET', '/me'), ...h.server.requests('GET', '/orders')]) {
    assert.equal(bearerOf(entry), token);
    assert.equal(entry.skey, null, 'no X-WX-Skey on Bearer requests');
  }
  assert.equal(h.server.count('POST', '/token'), 0, 'the login\'s token was used');
  assert.deepEqual(Object.keys(h.wx.getStorageSync(DEFAULT_STORAGE_KEY)).sort(), ['expiresAt', 'jwt', 'skey'],
    'the token is never stored');
  assert.doesNotMatch(JSON.stringify([...h.wx.storage.values()]), /jwt\./);
});

test('JWT mode: wxauth\'s state-changing routes and POST /token keep the skey', async (t) => {
  const h = await jwtSetup(t);
  const { skey } = await h.client.login();
  await h.client.updateProfile({ nickName: 'Ann' });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wxauth-jwt-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const png = path.join(dir, 'a.png');
  fs.writeFileSync(png, Buffer.from('89504e470d0a1a0a0000', 'hex'));
  await h.client.updateAvatar(png);
  await h.client.request({ url: '/profile', method: 'PUT', data: { nickName: 'Bo' } });
  await h.client.logout();
  for (const [method, route] of [['PUT', '/profile'], ['POST', '/avatar'], ['POST', '/logout']]) {
    for (const entry of h.server.requests(method, route)) {
      assert.equal(entry.skey, skey, method + ' ' + route + ' carried the skey');
      assert.equal(entry.authorization, null, method + ' ' + route + ' carried no Bearer');
    }
  }
  assert.equal(h.client.getToken(), null, 'logout forgets the token');
});

test('JWT mode: renewed single-flight shortly before exp (60 s early), with the injected clock', async (t) => {
  const h = await jwtSetup(t);
  await h.client.login();
  const first = h.client.getToken();
  h.advance(530e3); // 70 s before exp: still fresh
  await h.client.me();
  assert.equal(h.server.count('POST', '/token'), 0);
  h.advance(20e3); // 50 s before exp: renew before sending
  const results = await Promise.all([h.client.me(), h.client.request({ url: '/orders' }), h.client.me()]);
  assert.equal(results.length, 3);
  assert.equal(h.server.count('POST', '/token'), 1, 'one POST /token for three callers');
  const [tokenCall] = h.server.requests('POST', '/token');
  assert.equal(tokenCall.skey, h.client.getSkey(), 'POST /token carries the skey');
  const second = h.client.getToken();
  assert.notEqual(second, first);
  const later = h.server.state.log.filter((r) => r.path !== '/token' && r.path !== '/login').slice(1);
  assert.ok(later.every((r) => bearerOf(r) === second), 'every request after the renewal used the new token');
  assert.equal(h.server.count('POST', '/login'), 1, 'no full login');
});

test('JWT mode: the renewal margin is at least 10% of the lifetime (3600 s token: renewed 360 s early)', async (t) => {
  const h = await jwtSetup(t, { server: { jwt: true, tokenTtl: 3600 } });
  await h.client.login();
  h.advance((3600 - 370) * 1000);
  await h.client.me();
  assert.equal(h.server.count('POST', '/token'), 0);
  h.advance(20e3);
  await h.client.me();
  assert.equal(h.server.count('POST', '/token'), 1);
});

test('JWT mode: a gateway 401 on a Bearer request renews the token once and resends once', async (t) => {
  const h = await jwtSetup(t);
  await h.client.login();
  h.server.expireTokens(); // the JWT authorizer now says 401 {"message":"Unauthorized"}
  const results = await Promise.all([h.client.request({ url: '/orders' }), h.client.me()]);
  assert.deepEqual(results[0], [{ id: '1', total: 99 }]);
  assert.equal(h.server.count('POST', '/token'), 1, 'one renewal for both');
  assert.equal(h.server.count('POST', '/login'), 1, 'the skey was fine: no login');
  assert.equal(h.server.count('GET', '/orders'), 2);

  // Refused again after the renewal: no loop.
  h.server.failNext('GET', '/orders', 401, { message: 'Unauthorized' }, 2);
  assertWxAuthError(await rejectionOf(h.client.request({ url: '/orders' })), ClientErrorCodes.UNAUTHORIZED, 401);
  assert.equal(h.server.count('POST', '/token'), 2);
  assert.equal(h.server.count('GET', '/orders'), 4);
});

test('JWT mode: POST /token answering SESSION_EXPIRED (or the gateway\'s 401/403) falls back to one full login', async (t) => {
  for (const [status, body] of [
    [401, null],
    [401, { message: 'Unauthorized' }],
    [403, { message: 'Forbidden' }]
  ]) {
    const h = await jwtSetup(t);
    const { skey } = await h.client.login();
    h.server.expireTokens();
    if (body) h.server.failNext('POST', '/token', status, body);
    else h.server.revoke(skey); // the function finds the session gone: 401 SESSION_EXPIRED
    assert.deepEqual(await h.client.request({ url: '/orders' }), [{ id: '1', total: 99 }]);
    assert.equal(h.server.count('POST', '/token'), 1);
    assert.equal(h.server.count('POST', '/login'), 2, 'one full login, which brought a token');
    assert.notEqual(h.client.getSkey(), skey);
    assert.equal(bearerOf(h.server.requests('GET', '/orders').pop()), h.client.getToken());
  }
});

test('JWT mode: POST /token failing otherwise is the caller\'s error; logged out means NOT_LOGGED_IN', async (t) => {
  const h = await jwtSetup(t);
  await h.client.login();
  h.server.expireTokens();
  h.server.failNext('POST', '/token', 503, { error: { code: 'STORE_UNAVAILABLE', message: 'down' } });
  assertWxAuthError(await rejectionOf(h.client.request({ url: '/orders' })), ErrorCodes.STORE_UNAVAILABLE, 503);
  assert.equal(h.server.count('POST', '/login'), 1);

  await h.client.logout();
  assertWxAuthError(await rejectionOf(h.client.request({ url: '/orders' })), ClientErrorCodes.NOT_LOGGED_IN);
  assert.equal(h.server.count('POST', '/token'), 1);
});

test('JWT mode after a restart: the token is gone, the skey is stored: one POST /token, no login', async (t) => {
  const h = await jwtSetup(t);
  await h.client.login();
  const restarted = h.newClient();
  assert.equal(restarted.getToken(), null);
  await restarted.me();
  assert.equal(h.server.count('POST', '/token'), 1);
  assert.equal(h.server.count('POST', '/login'), 1);
  assert.ok(bearerOf(h.server.requests('GET', '/me')[0]));
});

test('authMode: "jwt" with a login that brought no token gets one from POST /token; "skey" ignores tokens', async (t) => {
  const h = await jwtSetup(t, { client: { authMode: 'jwt' } });
  h.server.failNext('POST', '/login', 200, { skey: 's'.repeat(43), expires_in: 3600 });
  await h.client.login();
  assert.equal(h.client.getToken(), null);
  // That skey is unknown to the server: POST /token says SESSION_EXPIRED, a full login follows (with a token).
  await h.client.me();
  assert.equal(h.server.count('POST', '/token'), 1);
  assert.equal(h.server.count('POST', '/login'), 2);

  const skeyOnly = h.newClient({ authMode: 'skey', storageKey: 'skey-only' });
  await skeyOnly.login();
  assert.equal(skeyOnly.getToken(), null);
  await skeyOnly.request({ url: '/profile', method: 'PUT', data: { nickName: 'x' } });
  assert.equal(h.server.requests('PUT', '/profile')[0].authorization, null);
});

test('per call: auth "skey" sends the skey to your own skey-protected route in JWT mode', async (t) => {
  const h = await jwtSetup(t);
  const { skey } = await h.client.login();
  h.server.failNext('GET', '/legacy', 200, { ok: true });
  await h.client.request({ url: '/legacy', auth: 'skey' });
  const [entry] = h.server.requests('GET', '/legacy');
  assert.equal(entry.skey, skey);
  assert.equal(entry.authorization, null);
});

test('the caller\'s own Authorization header is replaced by the session JWT in JWT mode', async (t) => {
  const h = await jwtSetup(t);
  await h.client.login();
  await h.client.request({ url: '/orders', header: { authorization: 'Bearer forged', 'X-WX-Skey': 'forged' } });
  const [entry] = h.server.requests('GET', '/orders');
  assert.equal(bearerOf(entry), h.client.getToken());
  assert.equal(entry.skey, null);
});

test('JWT mode: a login answered with token null keeps the skey and gets its token from POST /token later', async (t) => {
  const h = await jwtSetup(t);
  h.server.signing(false);
  const session = await h.client.login();
  assert.equal(session.skey.length, 43, 'the login itself succeeded');
  assert.equal(h.client.getToken(), null);
  const err = await rejectionOf(h.client.me());
  assertWxAuthError(err, ErrorCodes.SIGNING_UNAVAILABLE);
  assert.equal(h.server.count('GET', '/me'), 0, 'no request without its credential');
  assert.equal(h.server.count('POST', '/login'), 1, 'a signing failure is no dead session: no new login');
  h.server.signing(true);
  assert.equal((await h.client.me()).openid, h.server.openidOf('alice'));
  assert.equal(h.server.count('POST', '/token'), 2);
  assert.equal(h.server.count('POST', '/login'), 1);
  assert.match(h.client.getToken(), /^jwt\./);
  for (const entry of h.server.requests('GET', '/me')) assert.ok(bearerOf(entry));
});
