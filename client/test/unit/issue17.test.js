'use strict';
/**
 * Issue 17, "the client in real mini programs": one block per numbered item (7, 8 and 9 have their own
 * files: test/packaging/types.test.js, test/unit/platforms.test.js, test/packaging/*.test.js and this
 * whole suite run again against the packed build).
 */
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { setup, rejectionOf, assertWxAuthError } = require('../harness');
const { createWxFake } = require('../wx-fake');
const { createClient, ErrorCodes, ClientErrorCodes, DEFAULT_STORAGE_KEY } = require('../client');

function tempPng(t, bytes = 64) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wxauth-17-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'photo.png');
  fs.writeFileSync(file, Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(bytes)]));
  return file;
}

// ---- 17.1 a business 401/403 is the caller's, not a dead session ----------------------------------------

test('17.1: the app\'s own 403 {"code":40301} reaches the caller intact: no wx.login, no second DELETE', async (t) => {
  const h = await setup();
  t.after(h.close);
  await h.client.login();
  const err = await rejectionOf(h.client.request({ url: '/orders/42', method: 'DELETE' }));
  assertWxAuthError(err, ClientErrorCodes.HTTP_ERROR, 403);
  assert.deepEqual(err.data, { code: 40301, msg: 'not your order' }, 'the body, as the backend sent it');
  assert.equal(err.headers['x-request-id'], 'req-42', 'the headers too');
  assert.match(err.message, /40301/);
  assert.equal(h.wx.calls.login, 1, 'no re-login');
  assert.equal(h.server.count('DELETE', '/orders/42'), 1, 'the DELETE was sent once');
  assert.equal(h.server.count('POST', '/login'), 1);
});

test('17.1: 401/403 bodies that merely look like the gateway\'s are not a dead session', async (t) => {
  const h = await setup();
  t.after(h.close);
  await h.client.login();
  const lookalikes = [
    [401, { message: 'Unauthorized', reason: 'token scope' }],
    [401, { message: 'unauthorized' }],
    [401, 'Unauthorized'],
    [403, { message: 'Forbidden', code: 1 }],
    [403, { Message: 'User is not authorized to access this resource with an explicit deny' }],
    [403, { error: 'forbidden' }],
    [401, { error: { code: 'TOKEN_REVOKED', message: 'your own API' } }]
  ];
  for (const [status, body] of lookalikes) {
    h.server.failNext('GET', '/orders', status, body);
    const err = await rejectionOf(h.client.request({ url: '/orders' }));
    assert.equal(err.status, status, JSON.stringify(body));
    assert.deepEqual(err.data, body);
    assert.ok(err.headers && typeof err.headers === 'object');
  }
  assert.equal(h.server.count('POST', '/login'), 1, 'none of them logged in again');
  assert.equal(h.server.count('GET', '/orders'), lookalikes.length, 'none of them was resent');
});

test('17.1: only the gateway\'s exact bodies and SESSION_EXPIRED re-login and resend, once', async (t) => {
  const h = await setup();
  t.after(h.close);
  await h.client.login();
  const dead = [
    [401, { message: 'Unauthorized' }],
    [403, { message: 'Forbidden' }],
    [401, { error: { code: 'SESSION_EXPIRED', message: 'session expired' } }]
  ];
  for (const [status, body] of dead) {
    h.server.failNext('DELETE', '/orders/1', status, body);
    assert.deepEqual(await h.client.request({ url: '/orders/1', method: 'DELETE' }), { deleted: '1' });
  }
  assert.equal(h.server.count('POST', '/login'), 1 + dead.length);
  assert.equal(h.server.count('DELETE', '/orders/1'), 2 * dead.length);
});

test('17.1: wxauth errors keep their code, status, data and headers; USER_BLOCKED 403 is not a dead session', async (t) => {
  const h = await setup();
  t.after(h.close);
  await h.client.login();
  const body = { error: { code: 'USER_BLOCKED', message: 'blocked' } };
  h.server.failNext('GET', '/me', 403, body, 1, { 'X-Amzn-RequestId': 'abc' });
  const err = await rejectionOf(h.client.me());
  assertWxAuthError(err, ErrorCodes.USER_BLOCKED, 403);
  assert.deepEqual(err.data, body);
  assert.equal(err.headers['x-amzn-requestid'], 'abc');
  h.server.failNext('GET', '/me', 500, { error: { code: 'INTERNAL', message: 'internal error' } });
  assertWxAuthError(await rejectionOf(h.client.me()), ErrorCodes.INTERNAL, 500);
  assert.equal(h.server.count('POST', '/login'), 1);
});

test('17.1: isSessionDead(response, byDefault) decides instead of the default', async (t) => {
  const seen = [];
  const h = await setup({
    client: {
      isSessionDead: (res, byDefault) => {
        seen.push({ status: res.statusCode, byDefault, header: typeof res.header });
        // This backend answers its own {"message":"Forbidden"} for business refusals (so it looks like the
        // gateway), and its own {"code":40101} when its session cache lost the user.
        if (res.statusCode === 403) return false;
        return byDefault || (res.statusCode === 401 && !!res.data && res.data.code === 40101);
      }
    }
  });
  t.after(h.close);
  await h.client.login();
  h.server.failNext('GET', '/orders', 403, { message: 'Forbidden' });
  assertWxAuthError(await rejectionOf(h.client.request({ url: '/orders' })), ClientErrorCodes.FORBIDDEN, 403);
  assert.equal(h.server.count('POST', '/login'), 1, 'the app said: not a dead session');

  h.server.failNext('GET', '/orders', 401, { code: 40101 });
  assert.deepEqual(await h.client.request({ url: '/orders' }), [{ id: '1', total: 99 }]);
  assert.equal(h.server.count('POST', '/login'), 2, 'the app said: dead');
  assert.deepEqual(seen, [
    { status: 403, byDefault: true, header: 'object' },
    { status: 401, byDefault: false, header: 'object' }
  ]);
});

// ---- 17.2 success / fail / complete -------------------------------------------------------------------

test('17.2: success/fail/complete are refused at once with INVALID_ARGUMENT, never silently dropped', async (t) => {
  const h = await setup();
  t.after(h.close);
  const called = [];
  const cb = (name) => () => called.push(name);
  for (const [method, call] of [
    ['request', { url: '/orders', success: cb('success') }],
    ['request', { url: '/orders', fail: cb('fail'), complete: cb('complete') }],
    ['uploadFile', { url: '/files', filePath: 'x', name: 'file', success: cb('upload') }]
  ]) {
    const err = await rejectionOf(h.client[method](call));
    assertWxAuthError(err, ClientErrorCodes.INVALID_ARGUMENT, 0);
    assert.match(err.message, /promise/);
    assert.match(err.message, /success|fail|complete/);
  }
  await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(called, [], 'no callback was called');
  assert.equal(h.wx.calls.login + h.wx.calls.request + h.wx.calls.uploadFile, 0, 'nothing was sent, no login');
});

// ---- 17.3 the full response, the task --------------------------------------------------------------------

test('17.3: fullResponse gives statusCode, data and header', async (t) => {
  const h = await setup();
  t.after(h.close);
  const res = await h.client.request({ url: '/orders', fullResponse: true });
  assert.equal(res.statusCode, 200);
  assert.deepEqual(res.data, [{ id: '1', total: 99 }]);
  assert.match(res.header['content-type'], /application\/json/);
  const file = tempPng(t);
  const up = await h.client.uploadFile({ url: '/files', filePath: file, name: 'file', fullResponse: true });
  assert.equal(up.statusCode, 200);
  assert.equal(up.data.size, 72, 'upload data parsed from its string');
  assert.deepEqual(await h.client.request({ url: '/orders' }), [{ id: '1', total: 99 }], 'the body by default');
});

test('17.3: onTask gets the task of every send (two after a re-login), and abort() rejects ABORTED', async (t) => {
  const h = await setup();
  t.after(h.close);
  const first = await h.client.login();
  h.server.revoke(first.skey);
  const tasks = [];
  await h.client.request({ url: '/orders', onTask: (task) => tasks.push(task) });
  assert.equal(tasks.length, 2, 'the refused send and the resend');
  for (const task of tasks) assert.equal(typeof task.abort, 'function');

  const err = await rejectionOf(h.client.request({ url: '/orders', data: { delay: 500 }, onTask: (task) => task.abort() }));
  assertWxAuthError(err, ClientErrorCodes.ABORTED, 0);
  assert.match(err.cause.errMsg, /request:fail abort/);
  assert.equal(h.server.count('POST', '/login'), 2, 'an abort is no reason to log in');

  // Uploads: the UploadTask, with progress still delivered.
  const file = tempPng(t);
  const progress = [];
  const uploadTasks = [];
  await h.client.uploadFile({
    url: '/files', filePath: file, name: 'file', onProgressUpdate: (p) => progress.push(p.progress), onTask: (task) => uploadTasks.push(task)
  });
  assert.equal(uploadTasks.length, 1);
  assert.equal(typeof uploadTasks[0].onProgressUpdate, 'function');
  assert.deepEqual(progress, [100]);
});

// ---- 17.4 logout stays logged out -------------------------------------------------------------------------

test('17.4: a request in flight during logout() that then gets a 403 does not log in again', async (t) => {
  const h = await setup();
  t.after(h.close);
  await h.client.login();
  const inFlight = h.client.request({ url: '/orders', data: { delay: 150 } });
  await new Promise((r) => setTimeout(r, 30)); // the GET is on its way with the old skey
  assert.deepEqual(await h.client.logout(), { revoked: 1 });
  const err = await rejectionOf(inFlight);
  assertWxAuthError(err, ClientErrorCodes.NOT_LOGGED_IN, 403);
  assert.equal(err.cause.code, ClientErrorCodes.FORBIDDEN);
  assert.equal(h.wx.calls.login, 1, 'no wx.login after logout');
  assert.equal(h.server.count('POST', '/login'), 1);
  assert.equal(h.server.count('GET', '/orders'), 1, 'not resent');
});

test('17.4: after logout() every call rejects NOT_LOGGED_IN without a network call, across a restart; login() ends it', async (t) => {
  const h = await setup();
  t.after(h.close);
  await h.client.me();
  await h.client.logout();
  const calls = h.wx.calls.request + h.wx.calls.login;
  assert.equal(h.client.isLoggedOut(), true);
  assert.equal(h.client.getSkey(), null);
  for (const call of [() => h.client.me(), () => h.client.request({ url: '/orders' }), () => h.client.ensureLogin(),
    () => h.client.updateProfile({ nickName: 'x' })]) {
    assertWxAuthError(await rejectionOf(call()), ClientErrorCodes.NOT_LOGGED_IN, 0);
  }
  assert.equal(h.wx.calls.request + h.wx.calls.login, calls, 'nothing sent');
  assert.deepEqual(h.wx.getStorageSync(DEFAULT_STORAGE_KEY), { loggedOut: true });
  // Public routes still work.
  assert.match((await h.client.request({ url: '/dev/code', method: 'POST', auth: false, data: {} })).code, /^code-/);

  const restarted = h.newClient();
  assert.equal(restarted.isLoggedOut(), true, 'the state survives an app restart');
  assertWxAuthError(await rejectionOf(restarted.me()), ClientErrorCodes.NOT_LOGGED_IN);
  assert.equal(h.wx.calls.login, 1);

  const session = await restarted.login();
  assert.equal(restarted.isLoggedOut(), false);
  assert.equal(h.wx.getStorageSync(DEFAULT_STORAGE_KEY).skey, session.skey);
  assert.equal((await restarted.me()).openid, h.server.openidOf('alice'));
  assert.equal(h.newClient().isLoggedOut(), false, 'login() cleared the stored state');
});

test('17.4: setAutoLogin(true) ends the logged-out state; autoLogin: false never logs in by itself', async (t) => {
  const h = await setup();
  t.after(h.close);
  await h.client.login();
  await h.client.logout();
  h.client.setAutoLogin(true);
  assert.equal(h.client.isLoggedOut(), false);
  await h.client.me();
  assert.equal(h.server.count('POST', '/login'), 2, 'a silent login again');

  const manual = h.newClient({ autoLogin: false, storageKey: 'manual' });
  assertWxAuthError(await rejectionOf(manual.me()), ClientErrorCodes.NOT_LOGGED_IN);
  assert.equal(h.server.count('POST', '/login'), 2);
  const { skey } = await manual.login();
  await manual.me();
  h.server.revoke(skey);
  const err = await rejectionOf(manual.me());
  assertWxAuthError(err, ClientErrorCodes.NOT_LOGGED_IN, 403);
  assert.equal(h.server.count('POST', '/login'), 3, 'the dead session was not renewed by itself');
});

test('17.4: logout during a silent cold-start login ends that session and stays logged out', async (t) => {
  const h = await setup({ server: { loginDelayMs: 50 } });
  t.after(h.close);
  const pending = h.client.me();
  await new Promise((r) => setTimeout(r, 10));
  const out = await h.client.logout();
  assert.deepEqual(out, { revoked: 1 });
  await rejectionOf(pending); // the page's GET was already waiting for that login: it is refused
  assert.deepEqual(h.wx.getStorageSync(DEFAULT_STORAGE_KEY), { loggedOut: true });
  assert.equal(h.client.getSkey(), null);
  const [session] = [...h.server.state.sessions.values()];
  assert.equal(session.revoked, true);
});

// ---- 17.5 errors that point the right way -----------------------------------------------------------------

test('17.5: "url not in domain list" is DOMAIN_NOT_ALLOWED, not NETWORK_ERROR', async (t) => {
  const h = await setup({ wx: { domains: ['https://some-other-api.example.com'] } });
  t.after(h.close);
  const err = await rejectionOf(h.client.me());
  assertWxAuthError(err, ClientErrorCodes.DOMAIN_NOT_ALLOWED, 0);
  assert.match(err.message, /domain list/);
  assert.equal(err.cause.errno, 600002);
  const upload = await rejectionOf(h.client.uploadFile({ url: '/files', filePath: 'x', name: 'file', auth: false }));
  assertWxAuthError(upload, ClientErrorCodes.DOMAIN_NOT_ALLOWED, 0);
  assert.equal(h.server.state.log.length, 0);
});

test('17.5: phone errno 1400001 is PHONE_QUOTA_EXHAUSTED, not USER_DENIED; a refusal stays USER_DENIED', async (t) => {
  const h = await setup();
  t.after(h.close);
  const quota = await rejectionOf(h.client.getPhoneNumber({ detail: { errMsg: 'getPhoneNumber:fail no quota', errno: 1400001 } }));
  assertWxAuthError(quota, ClientErrorCodes.PHONE_QUOTA_EXHAUSTED, 0);
  assert.equal(quota.cause.errno, 1400001);
  const denied = await rejectionOf(h.client.getPhoneNumber({ errMsg: 'getPhoneNumber:fail user deny' }));
  assertWxAuthError(denied, ClientErrorCodes.USER_DENIED);
  assert.equal(h.wx.calls.request + h.wx.calls.login, 0);
});

// ---- 17.6 transient login failures --------------------------------------------------------------------------

test('17.6: WECHAT_BUSY at login is tried once more with a fresh code after ~500 ms (injected timer)', async (t) => {
  const delays = [];
  let first = true;
  const h = await setup({
    codeProvider: () => {
      if (first) { first = false; return 'system-busy'; }
      return h.server.mintCode('alice');
    },
    client: { setTimeout: (fn, ms) => { delays.push(ms); setImmediate(fn); } }
  });
  t.after(h.close);
  const me = await h.client.me();
  assert.equal(me.openid, h.server.openidOf('alice'));
  assert.deepEqual(delays, [500]);
  assert.equal(h.wx.calls.login, 2, 'a fresh wx.login code');
  const codes = h.server.requests('POST', '/login').map((r) => JSON.parse(r.body).code);
  assert.equal(codes.length, 2);
  assert.equal(codes[0], 'system-busy');
  assert.notEqual(codes[1], codes[0]);
});

test('17.6: RATE_LIMITED is never retried, and carries retryAfter from Retry-After', async (t) => {
  const delays = [];
  const h = await setup({ codeProvider: () => 'rate-limited', client: { setTimeout: (fn, ms) => { delays.push(ms); fn(); } } });
  t.after(h.close);
  const err = await rejectionOf(h.client.login());
  assertWxAuthError(err, ErrorCodes.RATE_LIMITED, 429);
  assert.equal(err.retryAfter, 30);
  assert.equal(h.wx.calls.login, 1);
  assert.deepEqual(delays, []);

  // On any route, the same: the 429 goes to the caller with retryAfter (a date works too).
  const ok = createClient({ baseUrl: h.server.url, wx: createWxFake({ codeProvider: () => h.server.mintCode('bob') }) });
  h.server.failNext('GET', '/orders', 429, { error: { code: 'RATE_LIMITED', message: 'slow down' } }, 1,
    { 'Retry-After': new Date(Date.now() + 120e3).toUTCString() });
  const limited = await rejectionOf(ok.request({ url: '/orders' }));
  assertWxAuthError(limited, ErrorCodes.RATE_LIMITED, 429);
  assert.ok(limited.retryAfter >= 118 && limited.retryAfter <= 121, String(limited.retryAfter));
  assert.equal(h.server.count('GET', '/orders'), 1);
});
