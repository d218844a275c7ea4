'use strict';
/**
 * The wx fake the whole suite relies on (issue 17.9) behaves as WeChat documents it: callbacks never run
 * synchronously, `complete` follows `success`/`fail`, results carry `errMsg` strings ("api:ok",
 * "api:fail reason"), wx.request `fail`s only without an HTTP answer, uploadFile's `data` is a string.
 */
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { startFakeServer, closedPort } = require('../fake-server');
const { createWxFake } = require('../wx-fake');

function call(wx, api, options) {
  const order = [];
  let sync = true;
  return new Promise((resolve) => {
    wx[api](Object.assign({}, options, {
      success: (res) => order.push(['success', sync, res]),
      fail: (res) => order.push(['fail', sync, res]),
      complete: (res) => { order.push(['complete', sync, res]); resolve(order); }
    }));
    sync = false;
  });
}

test('callbacks are asynchronous, complete comes last, errMsg is "api:ok" / "api:fail ..."', async (t) => {
  const server = await startFakeServer();
  t.after(() => server.close());
  const wx = createWxFake({ codeProvider: () => 'c' });
  const login = await call(wx, 'login', {});
  assert.deepEqual(login.map(([name, sync]) => [name, sync]), [['success', false], ['complete', false]]);
  assert.equal(login[0][2].errMsg, 'login:ok');

  const notFound = await call(wx, 'request', { url: server.url + '/nope' });
  assert.equal(notFound[0][0], 'success', 'an HTTP 404 is a success for wx.request');
  assert.equal(notFound[0][2].statusCode, 404);
  assert.equal(notFound[0][2].errMsg, 'request:ok');
  assert.equal(typeof notFound[0][2].data, 'object', 'dataType json parses');

  const port = await closedPort();
  const refused = await call(wx, 'request', { url: 'http://127.0.0.1:' + port + '/' });
  assert.deepEqual(refused.map(([name, sync]) => [name, sync]), [['fail', false], ['complete', false]]);
  assert.match(refused[0][2].errMsg, /^request:fail /);

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wxauth-fake-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.writeFileSync(path.join(dir, 'f.bin'), 'x');
  const up = await call(wx, 'uploadFile', { url: server.url + '/nope', filePath: path.join(dir, 'f.bin'), name: 'file' });
  assert.equal(up[0][2].errMsg, 'uploadFile:ok');
  assert.equal(typeof up[0][2].data, 'string', 'uploadFile data is the raw string');

  const blocked = createWxFake({ codeProvider: () => 'c', domains: ['https://api.example.com'] });
  const outside = await call(blocked, 'request', { url: server.url + '/' });
  assert.equal(outside[0][2].errMsg, 'request:fail url not in domain list');
  assert.equal(outside[1][1], false, 'asynchronous too');
});
