'use strict';
/**
 * Encrypted user data (getUserInfo, getPhoneNumber) and the profile: wx.checkSession first, stale
 * session_key handling that logs in again and asks for fresh data instead of looping.
 */
const test = require('node:test');
const assert = require('node:assert/strict');
const { setup, rejectionOf } = require('../harness');
const { httpJson } = require('../wx-fake');
const { encrypt, APPID } = require('../fake-server');
const { WxAuthError, ErrorCodes, ClientErrorCodes } = require('../client');

/** What wx.getUserInfo / the button would give, made by the fake server with the user's current key. */
async function freshUserInfo(h) {
  const res = await httpJson('POST', h.server.url + '/dev/userinfo', undefined, { 'X-WX-Skey': h.client.getSkey() });
  assert.equal(res.status, 200);
  return Object.assign({ errMsg: 'getUserInfo:ok' }, res.body);
}

function assertStale(err) {
  assert.ok(err instanceof WxAuthError, String(err));
  assert.equal(err.code, ClientErrorCodes.STALE_DATA, err.message);
  assert.match(err.message, /fresh data/);
}

test('getUserInfo: checkSession first, then POST /userinfo with rawData/signature/encryptedData/iv', async (t) => {
  const h = await setup();
  t.after(h.close);
  await h.client.login();
  const detail = await freshUserInfo(h);
  const res = await h.client.getUserInfo(detail);
  assert.equal(res.user.openId, h.server.openidOf('alice'));
  assert.match(res.user.nickName, /^user-/);

  const apis = h.wx.log.map((e) => e.api + (e.path ? ' ' + e.path : ''));
  assert.deepEqual(apis.slice(-2), ['checkSession', 'request /userinfo'], 'checkSession runs before the POST');
  const [post] = h.server.requests('POST', '/userinfo');
  assert.deepEqual(Object.keys(JSON.parse(post.body)).sort(), ['encryptedData', 'iv', 'rawData', 'signature']);
  assert.equal(post.skey, h.client.getSkey());
  assert.equal(h.server.count('POST', '/login'), 1);
});

test('getUserInfo accepts the whole button event and data without rawData/signature', async (t) => {
  const h = await setup();
  t.after(h.close);
  await h.client.login();
  const detail = await freshUserInfo(h);
  const viaEvent = await h.client.getUserInfo({ type: 'getuserinfo', detail });
  assert.equal(viaEvent.user.openId, h.server.openidOf('alice'));
  await h.client.getUserInfo({ encryptedData: detail.encryptedData, iv: detail.iv });
  const bodies = h.server.requests('POST', '/userinfo').map((r) => JSON.parse(r.body));
  assert.deepEqual(Object.keys(bodies[1]).sort(), ['encryptedData', 'iv']);
});

test('getUserInfo: a failed wx.checkSession logs in again once and rejects STALE_DATA without sending the data', async (t) => {
  const h = await setup();
  t.after(h.close);
  await h.client.login();
  const detail = await freshUserInfo(h);
  h.wx.sessionValid = false; // WeChat's login state expired on the phone

  const err = await rejectionOf(h.client.getUserInfo(detail));
  assertStale(err);
  assert.match(err.cause.errMsg, /^checkSession:fail/);
  assert.equal(h.server.count('POST', '/userinfo'), 0, 'stale data is not sent');
  assert.equal(h.server.count('POST', '/login'), 2, 'logged in again, once');

  // The caller gets fresh data (made with the new key) and it works, without another login.
  const res = await h.client.getUserInfo(await freshUserInfo(h));
  assert.equal(res.user.openId, h.server.openidOf('alice'));
  assert.equal(h.server.count('POST', '/login'), 2);
});

test('getUserInfo: SESSION_KEY_EXPIRED from the server logs in again once and rejects STALE_DATA (no loop)', async (t) => {
  const h = await setup();
  t.after(h.close);
  await h.client.login();
  const detail = await freshUserInfo(h);
  h.server.expireSessionKey(h.client.getSkey());

  const err = await rejectionOf(h.client.getUserInfo(detail));
  assertStale(err);
  assert.equal(err.cause.code, ErrorCodes.SESSION_KEY_EXPIRED);
  assert.equal(err.status, 401);
  assert.equal(h.server.count('POST', '/userinfo'), 1, 'the data is sent once, never again');
  assert.equal(h.server.count('POST', '/login'), 2);

  const res = await h.client.getUserInfo(await freshUserInfo(h));
  assert.equal(res.user.openId, h.server.openidOf('alice'));
});

test('getUserInfo: a re-login during the call that replaced the key turns DECRYPT/SIGNATURE failures into STALE_DATA', async (t) => {
  const h = await setup(); // the fake server gives a new session_key on every login
  t.after(h.close);
  await h.client.login();
  const detail = await freshUserInfo(h);
  h.server.revoke(h.client.getSkey()); // 403 -> re-login (new key) -> retry -> signature mismatch

  const err = await rejectionOf(h.client.getUserInfo(detail));
  assertStale(err);
  assert.equal(err.cause.code, ErrorCodes.INVALID_SIGNATURE);
  assert.equal(h.server.count('POST', '/userinfo'), 2, 'one retry after the re-login, no more');
  assert.equal(h.server.count('POST', '/login'), 2);
});

test('getUserInfo: when the re-login kept the session_key, the retry simply succeeds', async (t) => {
  const h = await setup({ server: { rotateSessionKey: false } });
  t.after(h.close);
  await h.client.login();
  const detail = await freshUserInfo(h);
  h.server.revoke(h.client.getSkey());
  const res = await h.client.getUserInfo(detail);
  assert.equal(res.user.openId, h.server.openidOf('alice'));
  assert.equal(h.server.count('POST', '/login'), 2);
});

test('getUserInfo: a cold start that logs in during the call makes an undecryptable payload STALE_DATA', async (t) => {
  const h = await setup();
  t.after(h.close);
  // Data the phone got before this client ever logged in (made with a key the server never had).
  h.wx.sessionValid = true;
  const sealed = encrypt({ openId: h.server.openidOf('alice'), nickName: 'x', watermark: { appid: APPID, timestamp: 1 } },
    Buffer.alloc(16, 7).toString('base64'));
  const err = await rejectionOf(h.client.getUserInfo(sealed));
  assertStale(err);
  assert.equal(err.cause.code, ErrorCodes.DECRYPT_FAILED);
  assert.equal(h.server.count('POST', '/login'), 1);
});

test('getUserInfo: without a login in between, INVALID_SIGNATURE is passed through as is', async (t) => {
  const h = await setup();
  t.after(h.close);
  await h.client.login();
  const detail = await freshUserInfo(h);
  const err = await rejectionOf(h.client.getUserInfo(Object.assign({}, detail, { signature: '0'.repeat(40) })));
  assert.equal(err.code, ErrorCodes.INVALID_SIGNATURE);
  assert.equal(err.status, 400);
  assert.equal(h.server.count('POST', '/login'), 1, 'no login for a bad signature');
});

test('getUserInfo: refused or incomplete details are rejected before any network call', async (t) => {
  const h = await setup();
  t.after(h.close);
  const denied = await rejectionOf(h.client.getUserInfo({ errMsg: 'getUserInfo:fail auth deny' }));
  assert.equal(denied.code, ClientErrorCodes.USER_DENIED);
  assert.match(denied.message, /auth deny/);
  assert.equal((await rejectionOf(h.client.getUserInfo({ iv: 'x' }))).code, ClientErrorCodes.INVALID_ARGUMENT);
  assert.equal((await rejectionOf(h.client.getUserInfo())).code, ClientErrorCodes.INVALID_ARGUMENT);
  assert.equal(h.wx.calls.request + h.wx.calls.login + h.wx.calls.checkSession, 0);
});

test('getPhoneNumber with a code: POST /phone {code}, no checkSession (the code does not use the session_key)', async (t) => {
  const h = await setup();
  t.after(h.close);
  const { body } = await httpJson('POST', h.server.url + '/dev/phone-code', { phoneNumber: '13912345678' });
  h.wx.sessionValid = false; // would make an encrypted payload stale, but not a phone code
  const res = await h.client.getPhoneNumber({ errMsg: 'getPhoneNumber:ok', code: body.code });
  assert.deepEqual(res.phone, { phoneNumber: '13912345678', purePhoneNumber: '13912345678', countryCode: '86' });
  assert.deepEqual(JSON.parse(h.server.requests('POST', '/phone')[0].body), { code: body.code });
  assert.equal(h.wx.calls.checkSession, 0);
  assert.equal(h.server.count('POST', '/login'), 1, 'cold start login only');
});

test('getPhoneNumber falls back to {encryptedData, iv} with the stale-key handling of getUserInfo', async (t) => {
  const h = await setup();
  t.after(h.close);
  await h.client.login();
  const key = h.server.state.users.get(h.server.openidOf('alice')).sessionKey;
  const sealed = encrypt({ phoneNumber: '13700000000', purePhoneNumber: '13700000000', countryCode: '86',
    watermark: { appid: APPID, timestamp: 1 } }, key);
  const res = await h.client.getPhoneNumber({ type: 'getphonenumber', detail: Object.assign({ errMsg: 'getPhoneNumber:ok' }, sealed) });
  assert.equal(res.phone.purePhoneNumber, '13700000000');
  assert.deepEqual(Object.keys(JSON.parse(h.server.requests('POST', '/phone')[0].body)).sort(), ['encryptedData', 'iv']);
  assert.equal(h.wx.calls.checkSession, 1);

  h.wx.sessionValid = false;
  assertStale(await rejectionOf(h.client.getPhoneNumber(sealed)));
  assert.equal(h.server.count('POST', '/phone'), 1);

  h.server.expireSessionKey(h.client.getSkey());
  assertStale(await rejectionOf(h.client.getPhoneNumber(sealed)));
  assert.equal(h.server.count('POST', '/phone'), 2);
  assert.equal(h.server.count('POST', '/login'), 3);
});

test('getPhoneNumber: a refused button is USER_DENIED, nothing sent', async (t) => {
  const h = await setup();
  t.after(h.close);
  const err = await rejectionOf(h.client.getPhoneNumber({ errMsg: 'getPhoneNumber:fail user deny' }));
  assert.equal(err.code, ClientErrorCodes.USER_DENIED);
  assert.equal((await rejectionOf(h.client.getPhoneNumber({ errMsg: 'getPhoneNumber:ok' }))).code, ClientErrorCodes.INVALID_ARGUMENT);
  assert.equal(h.wx.calls.request + h.wx.calls.login, 0);
});

test('updateProfile: PUT /profile {nickName, avatarUrl}; INVALID_PROFILE is typed; me() shows the profile', async (t) => {
  const h = await setup();
  t.after(h.close);
  const res = await h.client.updateProfile({ nickName: '小明', avatarUrl: 'https://cdn.example.com/a.png', extra: 'dropped' });
  assert.equal(res.user.nickName, '小明');
  assert.deepEqual(JSON.parse(h.server.requests('PUT', '/profile')[0].body),
    { nickName: '小明', avatarUrl: 'https://cdn.example.com/a.png' });
  const me = await h.client.me();
  assert.equal(me.user.avatarUrl, 'https://cdn.example.com/a.png');
  assert.equal(me.phone, null);

  const err = await rejectionOf(h.client.updateProfile({ nickName: '', avatarUrl: 'wxfile://tmp/a.png' }));
  assert.equal(err.code, ErrorCodes.INVALID_PROFILE);
  assert.equal(err.status, 400);
  assert.equal((await rejectionOf(h.client.updateProfile())).code, ClientErrorCodes.INVALID_ARGUMENT);
});
