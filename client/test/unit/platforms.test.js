'use strict';
/**
 * Taro and uni-app (issue 17.8): createClient takes `Taro` and `uni` as they are. The examples
 * example/taro/auth.js and example/uni/auth.js (shown in the README) run here over the real Taro API
 * object and a model of uni (test/platforms.js says what each is), against the fake server.
 */
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { startFakeServer, closedPort } = require('../fake-server');
const { createWxFake } = require('../wx-fake');
const { createTaro, createUni } = require('../platforms');
const lib = require('../client');

const EXAMPLE_DIR = path.join(__dirname, '..', '..', 'example');

/**
 * Runs an example module written with ES module syntax (as Taro and uni-app projects are), turning its
 * only forms — `import X from 'm'`, `import { a, b } from 'm'`, `export const` and `export function` —
 * into a function of the modules and globals given. Anything else is refused, so the example stays that
 * simple.
 */
function loadExample(relative, modules, globals = {}) {
  const file = path.join(EXAMPLE_DIR, relative);
  const exported = [];
  const body = fs.readFileSync(file, 'utf8').split('\n').map((line) => {
    let m;
    if ((m = /^import (\w+) from '([^']+)';$/.exec(line))) return 'const ' + m[1] + ' = __module(' + JSON.stringify(m[2]) + ').default;';
    if ((m = /^import \{ ([\w, ]+) \} from '([^']+)';$/.exec(line))) return 'const { ' + m[1] + ' } = __module(' + JSON.stringify(m[2]) + ');';
    if ((m = /^export (const|function) (\w+)/.exec(line))) {
      exported.push(m[2]);
      return line.replace(/^export /, '');
    }
    assert.doesNotMatch(line, /^\s*(import|export)\b/, relative + ': an import/export form the test does not handle');
    return line;
  }).join('\n');
  const names = Object.keys(globals);
  // eslint-disable-next-line no-new-func
  const fn = new Function(['__module'].concat(names).join(','), body + '\nreturn { ' + exported.join(', ') + ' };');
  return fn((name) => {
    if (!(name in modules)) throw new Error(relative + ' imports ' + name + ', which the test does not provide');
    return modules[name];
  }, ...names.map((n) => globals[n]));
}

/** Fails the test on any unhandled rejection (Taro's promises reject when a call fails). */
function watchUnhandled(t) {
  const seen = [];
  const listener = (reason) => seen.push(reason);
  process.on('unhandledRejection', listener);
  t.after(() => process.off('unhandledRejection', listener));
  return async () => {
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(seen, [], 'no unhandled rejection');
  };
}

async function scenario(t, { host, load }) {
  const server = await startFakeServer();
  t.after(() => server.close());
  const wx = createWxFake({ codeProvider: () => server.mintCode('cross-platform'), appid: 'wxcrossplatform001' });
  const toasts = [];
  wx.showToast = (opts) => { toasts.push(opts.title); if (opts.success) setImmediate(opts.success, {}); };
  const api = host(wx);
  const example = load(api, server.url);

  assert.deepEqual(await example.loadOrders(), [{ id: '1', total: 99 }]);
  assert.equal(server.count('POST', '/login'), 1);
  assert.equal(JSON.parse(server.requests('POST', '/login')[0].body).appid, 'wxcrossplatform001', 'getAccountInfoSync through the host');

  assert.equal(await example.deleteOrder(42), false, 'the business 403 handled by the page');
  assert.deepEqual(toasts, ['not your order']);
  assert.equal(server.count('DELETE', '/orders/42'), 1);
  assert.equal(await example.deleteOrder(1), true);

  server.revoke(example.auth.getSkey());
  await example.loadOrders();
  assert.equal(server.count('POST', '/login'), 2, 'renewal through the host');

  const tasks = [];
  const aborted = await example.auth.request({ url: '/orders', data: { delay: 400 }, onTask: (task) => { tasks.push(task); task.abort(); } })
    .then(() => null, (err) => err);
  assert.equal(aborted.code, 'ABORTED');
  assert.equal(typeof tasks[0].abort, 'function');

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wxauth-platform-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const png = path.join(dir, 'a.png');
  fs.writeFileSync(png, Buffer.from('89504e470d0a1a0a01', 'hex'));
  const progress = [];
  const profile = await example.auth.updateAvatar(png, { onProgressUpdate: (p) => progress.push(p.progress) });
  assert.match(profile.avatarUrl, /\/avatars\//, 'upload through the host, string data parsed');
  assert.deepEqual(progress, [100]);

  assert.deepEqual(await example.auth.logout(), { revoked: 1 });
  assert.equal((await example.loadOrders().then(() => null, (e) => e)).code, 'NOT_LOGGED_IN');
  return { wx, api };
}

test('Taro: the example over the real Taro API object (promise returns, interceptor chain, abort)', async (t) => {
  const check = watchUnhandled(t);
  const { api } = await scenario(t, {
    host: createTaro,
    load: (Taro, url) => loadExample('taro/auth.js', { '@tarojs/taro': { default: Taro }, 'wxauth-client': lib, '../config': { API_BASE: url } })
  });
  const returned = api.request({ url: 'http://127.0.0.1:1/', success() {}, fail() {} });
  assert.equal(typeof returned.abort, 'function', 'Taro returns a promise with abort(), even with callbacks');
  await returned.then(() => assert.fail('refused port'), (res) => assert.match(res.errMsg, /^request:fail/));

  // A failing Taro call rejects Taro's own promise: the client has caught it, nothing is unhandled.
  const port = await closedPort();
  const offline = lib.createClient({ baseUrl: 'http://127.0.0.1:' + port, wx: api });
  const err = await offline.request({ url: '/orders', auth: false }).then(() => null, (e) => e);
  assert.equal(err.code, 'NETWORK_ERROR');
  const loginFails = createWxFake({ codeProvider: () => 'x' });
  loginFails.loginFailure = 'system error';
  const err2 = await lib.createClient({ baseUrl: 'http://127.0.0.1:' + port, wx: createTaro(loginFails) }).me().then(() => null, (e) => e);
  assert.equal(err2.code, 'LOGIN_FAILED');
  await check();
});

for (const vue of [2, 3]) {
  test('uni-app (Vue ' + vue + '): the example over uni, which hands the client wx\'s tasks', async (t) => {
    const check = watchUnhandled(t);
    const { api } = await scenario(t, {
      host: (wx) => createUni(wx, { vue }),
      load: (uni, url) => loadExample('uni/auth.js', { 'wxauth-client': lib, './config': { API_BASE: url } }, { uni })
    });
    // uni without callbacks: Vue 2 resolves [err, res], Vue 3 res. The client never depends on either.
    const direct = await api.login();
    if (vue === 2) assert.equal(direct[1].errMsg, 'login:ok');
    else assert.equal(direct.errMsg, 'login:ok');
    assert.ok(api.__calls.includes('request') && api.__calls.includes('uploadFile'));
    await check();
  });
}

test('hosts that answer {status, headers} (Alipay-style) are understood too', async (t) => {
  const server = await startFakeServer();
  t.after(() => server.close());
  const wx = createWxFake({ codeProvider: () => server.mintCode('alipay-ish') });
  const host = Object.assign(Object.create(wx), {
    request(opts) {
      return wx.request(Object.assign({}, opts, {
        success: (res) => opts.success({ status: res.statusCode, headers: res.header, data: res.data })
      }));
    }
  });
  const client = lib.createClient({ baseUrl: server.url, wx: host });
  const err = await client.request({ url: '/orders/7', method: 'DELETE' }).then(() => null, (e) => e);
  assert.equal(err.code, 'HTTP_ERROR');
  assert.equal(err.status, 403);
  assert.equal(err.headers['x-request-id'], 'req-7');
});
