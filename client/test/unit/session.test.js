'use strict';
/**
 * Login and session handling of the client against the fake server: cold start, single-flight login,
 * one re-login and one retry on session failures, typed login errors, network failures, logout.
 */
const test = require('node:test');
const assert = require('node:assert/strict');
const { setup, rejectionOf, assertWxAuthError } = require('../harness');
const { closedPort } = require('../fake-server');
const { createWxFake, countRequests } = require('../wx-fake');
const { createClient, WxAuthError, ErrorCodes, ClientErrorCodes, DEFAULT_STORAGE_KEY } = require('../client');

test('cold start: the first request logs in, stores the skey and sends it; later requests reuse it', async (t) => {
  const h = await setup();
  t.after(h.close);
  assert.equal(h.wx.getStorageSync(DEFAULT_STORAGE_KEY), '', 'nothing stored before the first call');

  const me = await h.client.me();
  assert.equal(me.openid, h.server.openidOf('alice'));
  assert.equal(h.wx.calls.login, 1);
  assert.equal(h.server.count('POST', '/login'), 1);

  const stored = h.wx.getStorageSync(DEFAULT_STORAGE_KEY);
  assert.match(stored.skey, /^[A-Za-z0-9_-]{43}$/);
  const expected = Date.now() + h.server.state.expiresIn * 1000;
  assert.ok(Math.abs(stored.expiresAt - expected) < 5000, 'expiresAt from expires_in');
  const [meRequest] = h.server.requests('GET', '/me');
  assert.equal(meRequest.skey, stored.skey, 'GET /me carried X-WX-Skey');
  assert.equal(h.client.getSkey(), stored.skey);

  await h.client.me();
  await h.client.request({ url: '/me' });
  assert.equal(h.wx.calls.login, 1, 'no second login');
  assert.equal(h.server.count('POST', '/login'), 1);
  assert.ok(h.server.requests('GET', '/me').every((r) => r.skey === stored.skey));
});

test('a new client over the same storage (app restart) reuses the stored skey', async (t) => {
  const h = await setup();
  t.after(h.close);
  await h.client.me();
  const restarted = h.newClient();
  await restarted.me();
  assert.equal(h.server.count('POST', '/login'), 1);
});

test('a custom storageKey is used, and the default key is left alone', async (t) => {
  const h = await setup({ client: { storageKey: 'myapp:session' } });
  t.after(h.close);
  await h.client.me();
  assert.equal(h.wx.getStorageSync(DEFAULT_STORAGE_KEY), '');
  assert.match(h.wx.getStorageSync('myapp:session').skey, /^[A-Za-z0-9_-]{43}$/);
});

test('an obviously expired stored skey is never sent: the client logs in first', async (t) => {
  const h = await setup();
  t.after(h.close);
  h.wx.setStorageSync(DEFAULT_STORAGE_KEY, { skey: 'expired-skey-expired-skey-expired-skey-0000', expiresAt: Date.now() - 1000 });
  await h.client.me();
  assert.equal(h.server.count('POST', '/login'), 1);
  assert.equal(h.server.state.log.filter((r) => r.skey === 'expired-skey-expired-skey-expired-skey-0000').length, 0);
});

test('the expiry is judged with the injected clock', async (t) => {
  let clock = Date.now();
  const h = await setup({ client: { now: () => clock } });
  t.after(h.close);
  await h.client.me();
  clock += h.server.state.expiresIn * 1000; // a week later
  await h.client.me();
  assert.equal(h.server.count('POST', '/login'), 2, 'logged in again instead of sending the expired skey');
  assert.equal(h.server.count('GET', '/me'), 2, 'no 403 round trip');
});

test('a bare string skey in storage (older versions, set by hand) is accepted', async (t) => {
  const h = await setup();
  t.after(h.close);
  const session = await h.client.login();
  const wx2 = createWxFake({ codeProvider: () => h.server.mintCode('alice') });
  wx2.setStorageSync(DEFAULT_STORAGE_KEY, session.skey);
  const c2 = createClient({ baseUrl: h.server.url, wx: wx2 });
  await c2.me();
  assert.equal(wx2.calls.login, 0);
});

test('three pages requesting at cold start share exactly one wx.login and one POST /login', async (t) => {
  const h = await setup({ server: { loginDelayMs: 60 } });
  t.after(h.close);
  const results = await Promise.all([
    h.client.me(),
    h.client.request({ url: '/me', method: 'GET' }),
    h.client.updateProfile({ nickName: 'Alice', avatarUrl: 'https://cdn.example.com/a.png' })
  ]);
  assert.equal(h.wx.calls.login, 1);
  assert.equal(h.counter.count('POST', '/login'), 1);
  assert.equal(h.server.count('POST', '/login'), 1);
  assert.equal(results[0].openid, h.server.openidOf('alice'));
  assert.equal(results[2].user.nickName, 'Alice');
  const skeys = new Set(h.server.state.log.filter((r) => r.path !== '/login').map((r) => r.skey));
  assert.equal(skeys.size, 1, 'every page used the same skey');
});

test('concurrent login() calls share one login; login() with a session still makes a fresh one', async (t) => {
  const h = await setup({ server: { loginDelayMs: 30 } });
  t.after(h.close);
  const [a, b, c] = await Promise.all([h.client.login(), h.client.login(), h.client.ensureLogin()]);
  assert.equal(a.skey, b.skey);
  assert.equal(a.skey, c.skey);
  assert.equal(h.wx.calls.login, 1);
  const again = await h.client.ensureLogin();
  assert.equal(again.skey, a.skey, 'ensureLogin keeps a valid session');
  const fresh = await h.client.login();
  assert.notEqual(fresh.skey, a.skey, 'login() always logs in');
  assert.equal(h.server.count('POST', '/login'), 2);
  assert.equal(h.client.getSkey(), fresh.skey);
});

test('403 Forbidden (revoked skey): one re-login, one retry, transparent to the caller', async (t) => {
  const h = await setup();
  t.after(h.close);
  const first = await h.client.login();
  h.server.revoke(first.skey);
  const me = await h.client.me();
  assert.equal(me.openid, h.server.openidOf('alice'));
  assert.equal(h.server.count('POST', '/login'), 2);
  const gets = h.server.requests('GET', '/me');
  assert.equal(gets.length, 2);
  assert.equal(gets[0].skey, first.skey);
  assert.notEqual(gets[1].skey, first.skey);
  assert.equal(h.wx.getStorageSync(DEFAULT_STORAGE_KEY).skey, gets[1].skey, 'the new skey is stored');
});

test('401 Unauthorized from the gateway: one re-login, one retry', async (t) => {
  const h = await setup();
  t.after(h.close);
  await h.client.login();
  h.server.failNext('GET', '/me', 401, { message: 'Unauthorized' });
  const me = await h.client.me();
  assert.equal(me.openid, h.server.openidOf('alice'));
  assert.equal(h.server.count('POST', '/login'), 2);
  assert.equal(h.server.count('GET', '/me'), 2);
});

test('SESSION_EXPIRED from the function: one re-login, one retry', async (t) => {
  const h = await setup();
  t.after(h.close);
  const first = await h.client.login();
  h.server.expireInFunction(first.skey);
  const me = await h.client.me();
  assert.equal(me.openid, h.server.openidOf('alice'));
  assert.equal(h.server.count('POST', '/login'), 2);
  assert.equal(h.server.count('GET', '/me'), 2);
});

test('a session failure on a POST retries the same body once', async (t) => {
  const h = await setup();
  t.after(h.close);
  const first = await h.client.login();
  h.server.revoke(first.skey);
  const res = await h.client.updateProfile({ nickName: 'Bob', avatarUrl: 'https://cdn.example.com/b.png' });
  assert.equal(res.user.nickName, 'Bob');
  const puts = h.server.requests('PUT', '/profile');
  assert.equal(puts.length, 2);
  assert.equal(puts[1].body, puts[0].body);
});

test('concurrent requests that all find the session dead share ONE re-login', async (t) => {
  const h = await setup({ server: { loginDelayMs: 40 } });
  t.after(h.close);
  const first = await h.client.login();
  h.server.revoke(first.skey);
  // Two 403s arrive while the re-login runs; the slow one (delay=150) arrives after it finished, with the
  // old skey: it must retry with the new skey instead of logging in a third time.
  const results = await Promise.all([
    h.client.me(),
    h.client.request({ url: '/me' }),
    h.client.request({ url: '/me', data: { delay: 150 } })
  ]);
  assert.equal(results.length, 3);
  assert.equal(h.server.count('POST', '/login'), 2, 'initial login + exactly one re-login');
  assert.equal(h.wx.calls.login, 2);
  const retried = h.server.requests('GET', '/me').filter((r) => r.skey !== first.skey);
  assert.equal(retried.length, 3);
  assert.equal(new Set(retried.map((r) => r.skey)).size, 1);
});

test('a REST API explicit Deny ({"Message": ...}) is no proof of a dead session by default; isSessionDead can say so', async (t) => {
  const h = await setup();
  t.after(h.close);
  await h.client.login();
  const deny = { Message: 'User is not authorized to access this resource with an explicit deny' };
  h.server.failNext('GET', '/me', 403, deny);
  const err = await rejectionOf(h.client.me());
  assertWxAuthError(err, ClientErrorCodes.HTTP_ERROR, 403);
  assert.deepEqual(err.data, deny);
  assert.equal(h.server.count('POST', '/login'), 1, 'no re-login');

  // A REST API deployment opts in, keeping the default decision for the rest.
  const rest = h.newClient({
    isSessionDead: (res, byDefault) => byDefault || (res.statusCode === 403 && !!res.data && res.data.Message === deny.Message)
  });
  h.server.failNext('GET', '/me', 403, deny);
  await rest.me();
  assert.equal(h.server.count('POST', '/login'), 2, 'one re-login');
});

test('no loop: a retry refused again (403) rejects FORBIDDEN after one re-login', async (t) => {
  const h = await setup();
  t.after(h.close);
  await h.client.login();
  h.server.failNext('GET', '/me', 403, { message: 'Forbidden' }, 50);
  const err = await rejectionOf(h.client.me());
  assertWxAuthError(err, ClientErrorCodes.FORBIDDEN, 403);
  assert.equal(err.message, 'Forbidden');
  assert.equal(h.server.count('POST', '/login'), 2);
  assert.equal(h.server.count('GET', '/me'), 2);
});

test('no loop: 401 twice rejects UNAUTHORIZED; SESSION_EXPIRED twice rejects SESSION_EXPIRED', async (t) => {
  const h = await setup();
  t.after(h.close);
  await h.client.login();
  h.server.failNext('GET', '/me', 401, { message: 'Unauthorized' }, 2);
  assertWxAuthError(await rejectionOf(h.client.me()), ClientErrorCodes.UNAUTHORIZED, 401);
  assert.equal(h.server.count('POST', '/login'), 2);

  const body = { error: { code: 'SESSION_EXPIRED', message: 'session expired' } };
  h.server.failNext('GET', '/me', 401, body, 2);
  const err = await rejectionOf(h.client.me());
  assertWxAuthError(err, ErrorCodes.SESSION_EXPIRED, 401);
  assert.equal(err.message, 'session expired');
  assert.deepEqual(err.data, body);
  assert.equal(h.server.count('POST', '/login'), 3);
  assert.equal(h.server.count('GET', '/me'), 4);
});

test('CODE_USED: a reused wx.login code is a typed error, and the code is not retried', async (t) => {
  const h = await setup();
  t.after(h.close);
  const code = h.server.mintCode('alice');
  const wxA = createWxFake({ codeProvider: () => code });
  await createClient({ baseUrl: h.server.url, wx: wxA }).login();

  const wxB = createWxFake({ codeProvider: () => code });
  const counted = countRequests(wxB);
  const clientB = createClient({ baseUrl: h.server.url, wx: counted.wx });
  const err = await rejectionOf(clientB.me());
  assertWxAuthError(err, ErrorCodes.CODE_USED, 400);
  assert.equal(err.data.error.code, 'CODE_USED');
  assert.equal(counted.count('POST', '/login'), 1, 'one attempt: the client does not burn more codes');
  assert.equal(counted.count('GET', '/me'), 0, 'nothing sent without a session');
  assert.equal(wxB.getStorageSync(DEFAULT_STORAGE_KEY), '');
});

test('a failed login does not stick: the next call logs in afresh', async (t) => {
  const h = await setup();
  t.after(h.close);
  const codes = ['invalid-code'];
  const wx = createWxFake({ codeProvider: () => codes.shift() || h.server.mintCode('alice') });
  const client = createClient({ baseUrl: h.server.url, wx });
  const errs = await Promise.all([rejectionOf(client.me()), rejectionOf(client.me())]);
  for (const err of errs) assertWxAuthError(err, ErrorCodes.INVALID_CODE, 400);
  assert.equal(wx.calls.login, 1, 'both callers shared the failed login');
  const me = await client.me();
  assert.equal(me.openid, h.server.openidOf('alice'));
  assert.equal(wx.calls.login, 2);
});

test('login errors keep the server code, even a 403 USER_BLOCKED (not the gateway FORBIDDEN)', async (t) => {
  const h = await setup();
  t.after(h.close);
  const cases = [
    ['blocked-user', ErrorCodes.USER_BLOCKED, 403, 1],
    ['rate-limited', ErrorCodes.RATE_LIMITED, 429, 1],
    ['system-busy', ErrorCodes.WECHAT_BUSY, 503, 2], // tried once more with a fresh code (17.6)
    ['never-minted', ErrorCodes.INVALID_CODE, 400, 1]
  ];
  for (const [code, expected, status, attempts] of cases) {
    const wx = createWxFake({ codeProvider: () => code });
    const client = createClient({ baseUrl: h.server.url, wx, setTimeout: (fn) => setImmediate(fn) });
    const err = await rejectionOf(client.request({ url: '/me' }));
    assertWxAuthError(err, expected, status);
    assert.equal(wx.calls.login, attempts, code + ': login attempts');
  }
  assert.equal(h.server.count('GET', '/me'), 0);
});

test('wx.login failure rejects LOGIN_FAILED without calling the server', async (t) => {
  const h = await setup();
  t.after(h.close);
  h.wx.loginFailure = 'system error';
  const err = await rejectionOf(h.client.me());
  assertWxAuthError(err, ClientErrorCodes.LOGIN_FAILED, 0);
  assert.match(err.message, /login:fail system error/);
  assert.equal(err.cause.errMsg, 'login:fail system error');
  assert.equal(h.server.state.log.length, 0);
  h.wx.loginFailure = null;
  await h.client.me();
});

test('server down: NETWORK_ERROR (status 0), at login and with a stored skey, which is kept', async () => {
  const port = await closedPort();
  const baseUrl = 'http://127.0.0.1:' + port;
  const wx = createWxFake({ codeProvider: () => 'some-code' });
  const client = createClient({ baseUrl, wx });
  const err = await rejectionOf(client.me());
  assertWxAuthError(err, ClientErrorCodes.NETWORK_ERROR, 0);
  assert.match(err.message, /ECONNREFUSED/);
  assert.match(err.cause.errMsg, /^request:fail/);
  assert.equal(wx.calls.login, 1);

  const stored = { skey: 'k'.repeat(43), expiresAt: Date.now() + 3600e3 };
  wx.setStorageSync(DEFAULT_STORAGE_KEY, stored);
  const client2 = createClient({ baseUrl, wx });
  assertWxAuthError(await rejectionOf(client2.me()), ClientErrorCodes.NETWORK_ERROR, 0);
  assert.equal(wx.calls.login, 1, 'a network failure is not a reason to log in');
  assert.deepEqual(wx.getStorageSync(DEFAULT_STORAGE_KEY), stored, 'the skey survives a network failure');
});

test('server errors and non-contract answers are typed', async (t) => {
  const h = await setup();
  t.after(h.close);
  const bad = await rejectionOf(h.client.request({ url: '/profile', method: 'PUT', data: '{oops' }));
  assertWxAuthError(bad, ErrorCodes.BAD_REQUEST, 400);
  assertWxAuthError(await rejectionOf(h.client.request({ url: '/nope' })), ErrorCodes.NOT_FOUND, 404);
  assertWxAuthError(await rejectionOf(h.client.request({ url: '/me', method: 'DELETE' })), ErrorCodes.METHOD_NOT_ALLOWED, 405);
  h.server.failNext('GET', '/me', 502, '<html>Bad Gateway</html>');
  const html = await rejectionOf(h.client.me());
  assertWxAuthError(html, ClientErrorCodes.HTTP_ERROR, 502);
  assert.equal(html.data, '<html>Bad Gateway</html>');
  h.server.failNext('GET', '/nope', 403, { message: 'Missing Authentication Token' });
  assertWxAuthError(await rejectionOf(h.client.request({ url: '/nope' })), ClientErrorCodes.HTTP_ERROR, 403);
  h.server.failNext('GET', '/me', 503, { error: { code: 'STORE_UNAVAILABLE', message: 'try later' } });
  assertWxAuthError(await rejectionOf(h.client.me()), ErrorCodes.STORE_UNAVAILABLE, 503);
  assert.equal(h.server.count('POST', '/login'), 1, 'no error above is a session failure');
});

test('a 2xx /login answer without skey is BAD_RESPONSE', async (t) => {
  const h = await setup();
  t.after(h.close);
  h.server.failNext('POST', '/login', 200, { hello: 'world' });
  assertWxAuthError(await rejectionOf(h.client.me()), ClientErrorCodes.BAD_RESPONSE, 200);
  assert.equal(h.wx.getStorageSync(DEFAULT_STORAGE_KEY), '');
});

test('headers: the caller\'s are kept, a caller-supplied X-WX-Skey is replaced by the session\'s', async (t) => {
  const h = await setup();
  t.after(h.close);
  const session = await h.client.login();
  await h.client.request({ url: '/me', header: { 'x-wx-skey': 'forged', 'X-Trace': 'abc' } });
  const [entry] = h.counter.wx.log.filter((r) => r.api === 'request' && r.path === '/me');
  assert.equal(entry.header['X-WX-Skey'], session.skey);
  assert.equal(entry.header['x-wx-skey'], undefined);
  assert.equal(entry.header['X-Trace'], 'abc');
});

test('auth: false sends no skey and never logs in; absolute URLs outside baseUrl are refused', async (t) => {
  const h = await setup();
  t.after(h.close);
  const err = await rejectionOf(h.client.request({ url: '/me', auth: false }));
  assertWxAuthError(err, ClientErrorCodes.UNAUTHORIZED, 401);
  assert.equal(h.wx.calls.login, 0);

  const foreign = await rejectionOf(h.client.request({ url: 'https://evil.example.com/steal' }));
  assertWxAuthError(foreign, ClientErrorCodes.INVALID_ARGUMENT, 0);
  assert.equal(h.wx.calls.login, 0, 'refused before logging in');
  assert.equal(h.wx.calls.request, 1);
  assertWxAuthError(await rejectionOf(h.client.request({})), ClientErrorCodes.INVALID_ARGUMENT);

  const me = await h.client.request({ url: h.server.url + '/me' });
  assert.equal(me.openid, h.server.openidOf('alice'), 'an absolute URL under baseUrl is fine');
  const code = await h.client.request({ url: h.server.url + '/dev/code', method: 'POST', auth: false, data: {} });
  assert.match(code.code, /^code-/);
});

test('storage that throws does not break the session for the running app', async (t) => {
  const h = await setup();
  t.after(h.close);
  h.wx.setStorageSync = () => { throw new Error('exceed storage max size'); };
  h.wx.getStorageSync = () => { throw new Error('storage broken'); };
  const client = createClient({ baseUrl: h.server.url, wx: h.wx });
  await client.me();
  await client.me();
  assert.equal(h.server.count('POST', '/login'), 1);
});

test('uploadFile: logs in first, sends X-WX-Skey with the multipart body, parses the JSON answer', async (t) => {
  const fs = require('node:fs');
  const os = require('node:os');
  const path = require('node:path');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wxauth-'));
  const file = path.join(dir, 'avatar.png');
  fs.writeFileSync(file, Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 1, 2, 255]));
  const h = await setup();
  t.after(() => { fs.rmSync(dir, { recursive: true, force: true }); return h.close(); });

  const progress = [];
  const res = await h.client.uploadFile({
    url: '/files', filePath: file, name: 'file', formData: { kind: 'avatar' }, onProgressUpdate: (p) => progress.push(p.progress)
  });
  assert.match(res.url, /^https:\/\/cdn\.example\.com\/files\/[0-9a-f]{16}\.png$/, 'data was JSON-parsed');
  assert.equal(res.size, 8);
  assert.equal(h.server.count('POST', '/login'), 1);
  const [upload] = h.server.state.uploads;
  assert.equal(upload.skey, h.client.getSkey());
  assert.deepEqual(upload.fields, { kind: 'avatar' });
  assert.equal(upload.filename, 'avatar.png');
  assert.deepEqual([...upload.content], [0x89, 0x50, 0x4e, 0x47, 0, 1, 2, 255]);
  assert.deepEqual(progress, [100]);

  // A revoked session: the upload is sent again once, after one re-login.
  h.server.revoke(h.client.getSkey());
  await h.client.uploadFile({ url: '/files', filePath: file, name: 'file' });
  assert.equal(h.server.count('POST', '/login'), 2);
  assert.equal(h.server.count('POST', '/files'), 3);
  assert.equal(h.server.state.uploads.length, 2);

  // Errors of uploads are typed like those of requests (the string body is parsed first).
  h.server.failNext('POST', '/files', 403, { message: 'Forbidden' }, 2);
  assertWxAuthError(await rejectionOf(h.client.uploadFile({ url: '/files', filePath: file, name: 'file' })), ClientErrorCodes.FORBIDDEN, 403);
  assertWxAuthError(await rejectionOf(h.client.uploadFile({ url: '/files', filePath: path.join(dir, 'missing.png'), name: 'file' })),
    ClientErrorCodes.NETWORK_ERROR, 0);
});

test('logout: POST /logout with the skey and an empty body, storage cleared, session ended', async (t) => {
  const h = await setup();
  t.after(h.close);
  const { skey } = await h.client.login();
  const res = await h.client.logout();
  assert.deepEqual(res, { revoked: 1 });
  const [call] = h.server.requests('POST', '/logout');
  assert.equal(call.skey, skey);
  assert.equal(call.body, '');
  assert.deepEqual(h.wx.getStorageSync(DEFAULT_STORAGE_KEY), { loggedOut: true }, 'no skey left, the logged-out mark instead');
  assert.equal(h.client.getSkey(), null);
  assert.equal(h.server.state.sessions.get(skey).revoked, true);
  assert.equal(h.server.count('POST', '/login'), 1, 'logging out did not log in');
});

test('logout(true) sends {"all":true} and ends every session of the user', async (t) => {
  const h = await setup();
  t.after(h.close);
  const other = createWxFake({ codeProvider: () => h.server.mintCode('alice') });
  const phone2 = createClient({ baseUrl: h.server.url, wx: other });
  const second = await phone2.login();
  await h.client.login();
  const res = await h.client.logout(true);
  assert.deepEqual(res, { revoked: 2 });
  assert.equal(h.server.requests('POST', '/logout')[0].body, '{"all":true}');
  assert.equal(h.server.state.sessions.get(second.skey).revoked, true);
});

test('logout clears the skey even when the server call fails, and never logs in to log out', async (t) => {
  const h = await setup();
  t.after(h.close);
  assert.deepEqual(await h.client.logout(), { revoked: 0 }, 'not logged in: nothing to do');
  assert.equal(h.wx.calls.request, 0);

  const first = await h.client.login();
  h.server.revoke(first.skey);
  assert.deepEqual(await h.client.logout(), { revoked: 0 }, 'already gone server-side counts as logged out');
  assert.equal(h.server.count('POST', '/login'), 1);

  await h.client.login();
  h.server.failNext('POST', '/logout', 503, { error: { code: 'STORE_UNAVAILABLE', message: 'down' } });
  assertWxAuthError(await rejectionOf(h.client.logout()), ErrorCodes.STORE_UNAVAILABLE, 503);
  assert.deepEqual(h.wx.getStorageSync(DEFAULT_STORAGE_KEY), { loggedOut: true });
  assert.equal(h.client.getSkey(), null);

  const port = await closedPort();
  const wx = createWxFake({ codeProvider: () => 'x' });
  wx.setStorageSync(DEFAULT_STORAGE_KEY, { skey: 'k'.repeat(43), expiresAt: Date.now() + 3600e3 });
  const offline = createClient({ baseUrl: 'http://127.0.0.1:' + port, wx });
  assertWxAuthError(await rejectionOf(offline.logout()), ClientErrorCodes.NETWORK_ERROR, 0);
  assert.deepEqual(wx.getStorageSync(DEFAULT_STORAGE_KEY), { loggedOut: true });
});

test('logout during a login waits for it and ends that session', async (t) => {
  const h = await setup({ server: { loginDelayMs: 40 } });
  t.after(h.close);
  const loggingIn = h.client.login();
  const res = await h.client.logout();
  const { skey } = await loggingIn;
  assert.deepEqual(res, { revoked: 1 });
  assert.equal(h.server.state.sessions.get(skey).revoked, true);
  assert.equal(h.client.getSkey(), null);
});

test('createClient validates its options', () => {
  const wx = createWxFake({ codeProvider: () => 'x' });
  assert.throws(() => createClient(), WxAuthError);
  assert.throws(() => createClient({ baseUrl: 'api.example.com', wx }), /baseUrl/);
  assert.throws(() => createClient({ baseUrl: 'https://api.example.com', wx, storageKey: '' }), /storageKey/);
  assert.throws(() => createClient({ baseUrl: 'https://api.example.com' }), /wx API/);
  const client = createClient({ baseUrl: 'https://api.example.com//', wx });
  assert.equal(client.baseUrl, 'https://api.example.com');
  assert.equal(client.storageKey, DEFAULT_STORAGE_KEY);
});

test('the global wx is used by default', async (t) => {
  const h = await setup();
  t.after(() => { delete globalThis.wx; return h.close(); });
  globalThis.wx = h.wx;
  const client = createClient({ baseUrl: h.server.url });
  await client.me();
  assert.equal(h.wx.calls.login, 1);
});

test('WxAuthError is a proper Error', () => {
  const err = new WxAuthError('CODE_USED', 'code been used', { status: 400, data: { a: 1 }, cause: 'c' });
  assert.ok(err instanceof Error);
  assert.equal(err.code, 'CODE_USED');
  assert.equal(err.status, 400);
  assert.deepEqual(err.data, { a: 1 });
  assert.equal(err.cause, 'c');
  assert.match(err.stack, /code been used/);
  assert.equal(String(err), 'WxAuthError [CODE_USED] (HTTP 400): code been used');
  const bare = WxAuthError('NETWORK_ERROR', 'down');
  assert.ok(bare instanceof WxAuthError);
  assert.equal(bare.status, 0);
  assert.ok(Object.isFrozen(ErrorCodes) && Object.isFrozen(ClientErrorCodes));
});
