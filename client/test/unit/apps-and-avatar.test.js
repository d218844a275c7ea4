'use strict';
/**
 * Several mini programs (issue 12): the appid sent with POST /login, `uid`, UNKNOWN_APP, logout of the
 * account. Today's WeChat (issue 15): updateAvatar through wx.uploadFile, PUT /profile with a nickname
 * alone, the paid phone number checked first with knownPhone().
 */
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const crypto = require('node:crypto');
const { setup, rejectionOf, assertWxAuthError } = require('../harness');
const { httpJson } = require('../wx-fake');
const { ClientErrorCodes, DEFAULT_STORAGE_KEY } = require('../client');

const PNG = Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), crypto.randomBytes(200)]);

function tempFile(t, name, content) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wxauth-av-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, name);
  fs.writeFileSync(file, content);
  return file;
}

test('POST /login carries the appid of wx.getAccountInfoSync(); the option overrides; none known: no field', async (t) => {
  const h = await setup({ wx: { appid: 'wxfromaccountinfo1' } });
  t.after(h.close);
  await h.client.login();
  assert.deepEqual(Object.keys(JSON.parse(h.server.requests('POST', '/login')[0].body)).sort(), ['appid', 'code']);
  assert.equal(JSON.parse(h.server.requests('POST', '/login')[0].body).appid, 'wxfromaccountinfo1');

  await h.newClient({ appid: 'wxoverride00000000', storageKey: 'b' }).login();
  assert.equal(JSON.parse(h.server.requests('POST', '/login')[1].body).appid, 'wxoverride00000000');

  const plain = await setup(); // this wx has no getAccountInfoSync (an older base library, another host)
  t.after(plain.close);
  await plain.client.login();
  assert.deepEqual(Object.keys(JSON.parse(plain.server.requests('POST', '/login')[0].body)), ['code']);

  const throwing = await setup();
  t.after(throwing.close);
  throwing.wx.getAccountInfoSync = () => { throw new Error('not supported'); };
  await throwing.client.login();
  assert.deepEqual(Object.keys(JSON.parse(throwing.server.requests('POST', '/login')[0].body)), ['code']);
});

test('uid from POST /login is exposed by login() and kept with the session', async (t) => {
  const h = await setup({ server: { accounts: true } });
  t.after(h.close);
  const session = await h.client.login();
  assert.match(session.uid, /^u[A-Za-z0-9_-]{21}$/);
  assert.equal((await h.client.ensureLogin()).uid, session.uid);
  assert.equal(h.wx.getStorageSync(DEFAULT_STORAGE_KEY).uid, session.uid);
  assert.equal((await h.newClient().ensureLogin()).uid, session.uid, 'after a restart too');
  assert.equal((await h.client.me()).uid, session.uid);
});

test('400 UNKNOWN_APP is returned as it is: not retried, not a dead session', async (t) => {
  const h = await setup({ server: { appids: ['wxserved0000000001'] }, wx: { appid: 'wxnotserved0000001' } });
  t.after(h.close);
  const err = await rejectionOf(h.client.me());
  assertWxAuthError(err, 'UNKNOWN_APP', 400);
  assert.equal(h.wx.calls.login, 1);
  assert.equal(h.server.count('POST', '/login'), 1);
  await h.newClient({ appid: 'wxserved0000000001', storageKey: 'ok' }).me();
});

test('logout({account: true}) sends {"account":true}; logout({all: true}) {"all":true}', async (t) => {
  const h = await setup();
  t.after(h.close);
  await h.client.login();
  await h.client.logout({ account: true });
  await h.client.login();
  await h.client.logout({ all: true });
  assert.deepEqual(h.server.requests('POST', '/logout').map((r) => r.body), ['{"account":true}', '{"all":true}']);
});

test('updateAvatar: wx.uploadFile to POST /avatar, part "file", skey header; resolves with the profile', async (t) => {
  const h = await setup();
  t.after(h.close);
  const file = tempFile(t, 'tmp_avatar.png', PNG);
  const profile = await h.client.updateAvatar(file);
  assert.equal(profile.openId, undefined, 'the stored profile, as PUT /profile answers it');
  assert.match(profile.avatarUrl, new RegExp('^' + h.server.url + '/avatars/u[A-Za-z0-9_-]{21}/[0-9a-f]{64}\\.png$'));
  assert.doesNotMatch(profile.avatarUrl, new RegExp(h.server.openidOf('alice')), 'the URL never names the openid');
  const [upload] = h.server.state.uploads;
  assert.equal(upload.name, 'file');
  assert.equal(upload.skey, h.client.getSkey());
  assert.ok(upload.content.equals(PNG));
  const [entry] = h.wx.log.filter((e) => e.api === 'uploadFile');
  assert.equal(entry.path, '/avatar');
  // What the URL serves is what was uploaded.
  const served = await new Promise((resolve, reject) => {
    require('node:http').get(profile.avatarUrl, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ type: res.headers['content-type'], nosniff: res.headers['x-content-type-options'], body: Buffer.concat(chunks) }));
    }).on('error', reject);
  });
  assert.equal(served.type, 'image/png');
  assert.equal(served.nosniff, 'nosniff');
  assert.ok(served.body.equals(PNG));

  // The chooseAvatar event or its detail work as well; the nickname alone then goes with PUT /profile.
  const again = await h.client.updateAvatar({ type: 'chooseavatar', detail: { avatarUrl: file } });
  assert.equal(again.avatarUrl, profile.avatarUrl, 'same content, same URL');
  const { user } = await h.client.updateProfile({ nickName: 'Ann' });
  assert.deepEqual(JSON.parse(h.server.requests('PUT', '/profile')[0].body), { nickName: 'Ann' });
  assert.equal(user.avatarUrl, profile.avatarUrl);
  assert.equal((await h.client.me()).user.nickName, 'Ann');
});

test('updateAvatar: re-login as for every call; INVALID_AVATAR and PAYLOAD_TOO_LARGE are typed', async (t) => {
  const h = await setup();
  t.after(h.close);
  const file = tempFile(t, 'a.png', PNG);
  const first = await h.client.login();
  h.server.revoke(first.skey);
  const progress = [];
  await h.client.updateAvatar(file, { onProgressUpdate: (p) => progress.push(p.progress) });
  assert.equal(h.server.count('POST', '/login'), 2);
  assert.equal(h.server.count('POST', '/avatar'), 2);
  assert.deepEqual(progress, [100, 100], 'progress of both uploads');

  const text = tempFile(t, 'not-an-image.png', Buffer.from('GIF89a but not really'));
  const invalid = await rejectionOf(h.client.updateAvatar(text));
  assertWxAuthError(invalid, 'INVALID_AVATAR', 400);
  assert.deepEqual(invalid.data, { error: { code: 'INVALID_AVATAR', message: 'not a PNG, JPEG or WebP image' } },
    'uploadFile\'s string data was parsed');
  const huge = tempFile(t, 'huge.png', Buffer.concat([PNG, Buffer.alloc(1024 * 1024)]));
  assertWxAuthError(await rejectionOf(h.client.updateAvatar(huge)), 'PAYLOAD_TOO_LARGE', 413);
  assertWxAuthError(await rejectionOf(h.client.updateAvatar('')), ClientErrorCodes.INVALID_ARGUMENT);
  assert.equal(h.server.count('POST', '/login'), 2);
});

test('knownPhone(): the phone GET /me already has, so that the paid button is not shown twice', async (t) => {
  const h = await setup();
  t.after(h.close);
  assert.equal(await h.client.knownPhone(), null);
  const { body } = await httpJson('POST', h.server.url + '/dev/phone-code', { phoneNumber: '13912345678' });
  await h.client.getPhoneNumber({ errMsg: 'getPhoneNumber:ok', code: body.code });
  assert.deepEqual(await h.client.knownPhone(), { phoneNumber: '13912345678', purePhoneNumber: '13912345678', countryCode: '86' });
  assert.equal(h.server.count('POST', '/phone'), 1);
});
