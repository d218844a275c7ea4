'use strict';
/**
 * Runs the README's example mini program (client/example/) against the wx fake and the fake server, the
 * way the mini program runtime would: App() / Page() / getApp() globals, the global `wx`, and
 * require('wxauth-client') resolving to this package. Also checks that the README shows those files
 * verbatim and that the wxml only binds handlers the page has.
 */
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const vm = require('node:vm');
const { startFakeServer, closedPort } = require('../fake-server');
const { createWxFake, httpJson } = require('../wx-fake');

const CLIENT_DIR = path.join(__dirname, '..', '..');
const EXAMPLE_DIR = path.join(CLIENT_DIR, 'example');
const EXAMPLE_FILES = ['app.json', 'config.js', 'app.js', 'pages/index/index.js', 'pages/index/index.wxml', 'taro/auth.js',
  'uni/auth.js'];

/**
 * A minimal mini program runtime around the example's files. `wx` becomes a real global, as in the mini
 * program (the client finds it there: the example passes no `wx` option); the caller removes it.
 */
function loadMiniProgram({ wx, apiBase }) {
  globalThis.wx = wx;
  let appInstance = null;
  let pageDefinition = null;
  const modules = {
    'wxauth-client': require('../client'),
    './config': { apiBase } // the example's config.js points at production; the test at the fake server
  };
  function run(relative) {
    const file = path.join(EXAMPLE_DIR, relative);
    const fn = vm.compileFunction(fs.readFileSync(file, 'utf8'),
      ['require', 'module', 'exports', 'App', 'Page', 'getApp', 'wx', 'console'], { filename: file });
    const module = { exports: {} };
    const requireShim = (name) => {
      if (!(name in modules)) throw new Error(relative + ' requires ' + name + ', which the test does not provide');
      return modules[name];
    };
    fn(requireShim, module, module.exports, (def) => { appInstance = def; }, (def) => { pageDefinition = def; },
      () => appInstance, wx, { log() {}, warn() {}, error() {} });
  }
  run('app.js');
  run('pages/index/index.js');
  const page = Object.assign({}, pageDefinition, { data: JSON.parse(JSON.stringify(pageDefinition.data)) });
  page.setData = (patch) => Object.assign(page.data, patch);
  for (const key of Object.keys(pageDefinition)) {
    if (typeof pageDefinition[key] === 'function') page[key] = pageDefinition[key].bind(page);
  }
  return { app: appInstance, page };
}

test('the example mini program runs: login, privacy, avatar + nickname fill-in, paid phone once, renewal, logout', async (t) => {
  const server = await startFakeServer({ loginDelayMs: 20 });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wxauth-example-'));
  t.after(() => { delete globalThis.wx; fs.rmSync(dir, { recursive: true, force: true }); return server.close(); });
  const wx = createWxFake({ codeProvider: () => server.mintCode('reader') });
  const toasts = [];
  wx.showToast = (opts) => toasts.push(opts.title);

  const { app, page } = loadMiniProgram({ wx, apiBase: server.url });
  // onLaunch starts the login; the page's first request must wait for it, not start another one.
  const launched = app.onLaunch();
  await page.onLoad({});
  await launched;
  assert.equal(server.count('POST', '/login'), 1);
  assert.equal(page.data.openid, server.openidOf('reader'));
  assert.equal(page.data.error, '');

  // A new user: the page asked for privacy consent; WeChat called the page's listener; the user agrees.
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(wx.calls.requirePrivacyAuthorize, 1);
  assert.equal(page.data.privacyShown, true, 'the page shows its privacy popup');
  page.onAgreePrivacy();
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(wx.privacyAgreed, true);
  assert.equal(page.data.privacyShown, false);

  // Avatar: the temporary file goes to POST /avatar (wx.uploadFile, part "file", skey); the page keeps the
  // URL the server now serves.
  const tmpAvatar = path.join(dir, 'tmp_avatar.png');
  fs.writeFileSync(tmpAvatar, Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), Buffer.from('fake png bytes')]));
  await page.onChooseAvatar({ type: 'chooseavatar', detail: { avatarUrl: tmpAvatar } });
  assert.match(page.data.avatarUrl, new RegExp('^' + server.url + '/avatars/u[A-Za-z0-9_-]{21}/[0-9a-f]{64}\\.png$'));
  assert.equal(server.state.uploads.length, 1);
  assert.equal(server.state.uploads[0].name, 'file');

  // Nickname through the form: PUT /profile {nickName}.
  await page.onSave({ detail: { value: { nickName: '  Reader  ' } } });
  assert.equal(page.data.nickName, 'Reader');
  assert.deepEqual(JSON.parse(server.requests('PUT', '/profile')[0].body), { nickName: 'Reader' });
  await page.onSave({ detail: { value: { nickName: '' } } });
  assert.equal(server.count('PUT', '/profile'), 1, 'an empty nickname is not sent');
  assert.deepEqual(toasts, ['Choose a nickname']);

  // Phone number: a refusal is silent, a used-up quota has its own message, a code is exchanged.
  await page.onGetPhoneNumber({ detail: { errMsg: 'getPhoneNumber:fail user deny' } });
  assert.equal(server.count('POST', '/phone'), 0);
  assert.equal(toasts.length, 1);
  await page.onGetPhoneNumber({ detail: { errMsg: 'getPhoneNumber:fail no quota', errno: 1400001 } });
  assert.equal(page.data.error, 'PHONE_QUOTA_EXHAUSTED');
  assert.equal(toasts[toasts.length - 1], 'Phone number unavailable, try later');
  const { body } = await httpJson('POST', server.url + '/dev/phone-code', { phoneNumber: '13800138000' });
  await page.onGetPhoneNumber({ detail: { errMsg: 'getPhoneNumber:ok', code: body.code } });
  assert.equal(page.data.phone, '13800138000');
  // Known now: the (paid) number is never asked for again.
  await page.onGetPhoneNumber({ detail: { errMsg: 'getPhoneNumber:ok', code: 'another-paid-code' } });
  assert.equal(server.count('POST', '/phone'), 1);

  // The session is revoked server-side: the next refresh renews it without the page knowing, and the phone
  // comes from GET /me (so a restarted page would hide the button too).
  server.revoke(app.auth.getSkey());
  await page.refresh();
  assert.equal(server.count('POST', '/login'), 2);
  assert.equal(page.data.nickName, 'Reader');
  assert.equal(page.data.phone, '13800138000');
  assert.equal(wx.calls.requirePrivacyAuthorize, 1, 'a user with a profile is not asked again');

  // A server error reaches the page as a typed code.
  server.failNext('PUT', '/profile', 503, { error: { code: 'STORE_UNAVAILABLE', message: 'try later' } });
  await page.onSave({ detail: { value: { nickName: 'Again' } } });
  assert.equal(page.data.error, 'STORE_UNAVAILABLE');
  assert.equal(toasts[toasts.length - 1], 'Something went wrong (STORE_UNAVAILABLE)');

  // Logout ends the session server-side and stays logged out, across a restart, until "Log in".
  const skey = app.auth.getSkey();
  await page.onLogout();
  assert.equal(server.state.sessions.get(skey).revoked, true);
  assert.deepEqual(wx.getStorageSync('wxauth:skey'), { loggedOut: true });
  assert.equal(page.data.loggedOut, true);
  assert.equal(page.data.openid, '');
  const restarted = loadMiniProgram({ wx, apiBase: server.url });
  await restarted.app.onLaunch();
  await restarted.page.onLoad({});
  assert.equal(restarted.page.data.loggedOut, true);
  assert.equal(server.count('POST', '/login'), 2, 'no silent login after logout, even after a restart');
  await restarted.page.onLogin();
  assert.equal(server.count('POST', '/login'), 3);
  assert.equal(restarted.page.data.loggedOut, false);
  assert.equal(restarted.page.data.nickName, 'Reader');
});

test('the example: a user who disagrees to the privacy guideline is not asked for consent again by the page', async (t) => {
  const server = await startFakeServer();
  t.after(() => { delete globalThis.wx; return server.close(); });
  const wx = createWxFake({ codeProvider: () => server.mintCode('shy') });
  let opened = 0;
  wx.openPrivacyContract = (opts) => { opened += 1; if (opts.success) setImmediate(opts.success, {}); };
  const { app, page } = loadMiniProgram({ wx, apiBase: server.url });
  await app.onLaunch();
  await page.onLoad({});
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(page.data.privacyShown, true);
  page.onOpenPrivacyContract();
  assert.equal(opened, 1);
  page.onDisagreePrivacy();
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(page.data.privacyShown, false);
  assert.equal(wx.privacyAgreed, false);
});

test('the example names a missing legal domain as such, not as "no network"', async (t) => {
  t.after(() => { delete globalThis.wx; });
  const wx = createWxFake({ codeProvider: () => 'unused-code', domains: ['https://your-api-id.execute-api.ap-east-1.amazonaws.com'] });
  const toasts = [];
  wx.showToast = (opts) => toasts.push(opts.title);
  const { app, page } = loadMiniProgram({ wx, apiBase: 'http://127.0.0.1:9' });
  await app.onLaunch();
  await page.onLoad({});
  assert.equal(page.data.error, 'DOMAIN_NOT_ALLOWED');
  assert.deepEqual(toasts, ['API host not in the legal domains']);
});

test('the example shows the network error toast when the API is unreachable', async (t) => {
  t.after(() => { delete globalThis.wx; });
  const port = await closedPort();
  const wx = createWxFake({ codeProvider: () => 'unused-code' });
  const toasts = [];
  wx.showToast = (opts) => toasts.push(opts.title);
  const { app, page } = loadMiniProgram({ wx, apiBase: 'http://127.0.0.1:' + port });
  await app.onLaunch();
  await page.onLoad({});
  assert.equal(page.data.error, 'NETWORK_ERROR');
  assert.deepEqual(toasts, ['No network, try again']);
});

test('the wxml binds only handlers the page defines, with the open-type buttons the README promises', () => {
  const wxml = fs.readFileSync(path.join(EXAMPLE_DIR, 'pages/index/index.wxml'), 'utf8');
  const pageSource = fs.readFileSync(path.join(EXAMPLE_DIR, 'pages/index/index.js'), 'utf8');
  const handlers = [...wxml.matchAll(/\bbind:?[a-z]+="([A-Za-z]+)"/g)].map((m) => m[1]);
  assert.deepEqual(handlers.sort(), ['onAgreePrivacy', 'onChooseAvatar', 'onDisagreePrivacy', 'onGetPhoneNumber', 'onLogin',
    'onLogout', 'onOpenPrivacyContract', 'onSave']);
  for (const name of handlers) assert.match(pageSource, new RegExp('^  ' + name + '\\(e?\\) \\{', 'm'), name);
  assert.match(wxml, /open-type="getPhoneNumber"/);
  assert.match(wxml, /open-type="chooseAvatar"/);
  assert.match(wxml, /id="agree-privacy" type="primary" open-type="agreePrivacyAuthorization"/);
  assert.match(pageSource, /buttonId: 'agree-privacy'/, 'resolve() names the agree button');
  assert.match(wxml, /<input type="nickname" name="nickName"/);
  const appJson = JSON.parse(fs.readFileSync(path.join(EXAMPLE_DIR, 'app.json'), 'utf8'));
  assert.deepEqual(appJson.pages, ['pages/index/index']);
});

test('README.md shows every example file verbatim', () => {
  const readme = fs.readFileSync(path.join(CLIENT_DIR, 'README.md'), 'utf8');
  const blocks = new Map();
  for (const m of readme.matchAll(/^```[a-z]+ file=(\S+)\n([\s\S]*?)^```$/gm)) blocks.set(m[1], m[2]);
  assert.deepEqual([...blocks.keys()].sort(), EXAMPLE_FILES.map((f) => 'example/' + f).sort());
  for (const file of EXAMPLE_FILES) {
    assert.equal(blocks.get('example/' + file), fs.readFileSync(path.join(EXAMPLE_DIR, file), 'utf8'),
      'README block for example/' + file + ' differs from the file');
  }
});
