'use strict';
/**
 * Taro's `Taro` and uni-app's `uni` over the wx fake, for the tests of issue 17.8.
 *
 * Taro: the REAL Taro API object. @tarojs/api is what `import Taro from '@tarojs/taro'` gives; in a
 * WeChat build Taro's weapp platform plugin runs `processApis(taro, wx, {needPromiseApis})` from
 * @tarojs/shared on it (@tarojs/plugin-platform-weapp, runtime.js, initNativeApi): that call is made here
 * with the wx fake. The result behaves as in a Taro mini program: Taro.login / Taro.uploadFile return
 * promises and call the callbacks too, Taro.request goes through Taro's interceptor chain and returns a
 * promise with abort(), rejections of those promises are unhandled unless someone catches them.
 * @tarojs/runtime reads a few build-time constants of Taro's bundler and the mini program's getApp /
 * getCurrentPages at load: they are defined first.
 *
 * uni-app: a faithful model, not the real runtime (@dcloudio/uni-mp-weixin pulls the whole uni-app
 * compiler tool chain in). It follows `promisify` of uni-mp-weixin's API layer (dist/index.js of 2.0.2,
 * the same in the Vue 3 uni.api.esm.js): an async API called with success/fail/complete is passed to wx
 * as it is and returns wx's task; called without, it returns a promise, which in Vue 2 projects resolves
 * `[err, res]` and never rejects, and in Vue 3 resolves `res` / rejects `err`. Sync APIs (…Sync) and
 * on…/off… pass through. `uni` is a Proxy, so `typeof uni.request` is only known when asked.
 */

const TARO_BUILD_CONSTANTS = [
  'ENABLE_INNER_HTML', 'ENABLE_ADJACENT_HTML', 'ENABLE_SIZE_APIS', 'ENABLE_TEMPLATE_CONTENT', 'ENABLE_CLONE_NODE',
  'ENABLE_CONTAINS', 'ENABLE_MUTATION_OBSERVER'
];

/** The real Taro API object over `wx` (a fresh one each call). */
function createTaro(wx) {
  for (const name of TARO_BUILD_CONSTANTS) if (!(name in globalThis)) globalThis[name] = false;
  if (typeof globalThis.getCurrentPages !== 'function') globalThis.getCurrentPages = () => [];
  if (typeof globalThis.getApp !== 'function') globalThis.getApp = () => ({});
  const { processApis } = require('@tarojs/shared');
  // One Taro object per test: @tarojs/api's default export is a singleton, so copy its members first.
  const api = require('@tarojs/api').default;
  const taro = Object.assign(Object.create(Object.getPrototypeOf(api)), api);
  // What @tarojs/plugin-platform-weapp's initNativeApi does (its needPromiseApis list adds nothing used here).
  processApis(taro, wx, { needPromiseApis: new Set(), modifyApis(apis) { apis.delete('lanDebug'); } });
  return taro;
}

const SYNC_API = /Sync$|^create|Manager$|^canIUse$|^on|^off/;

/** A uni object over `wx`, following uni-mp-weixin's promisify (vue: 2 or 3). */
function createUni(wx, { vue = 3 } = {}) {
  const calls = [];
  return new Proxy({}, {
    get(target, name) {
      if (Object.prototype.hasOwnProperty.call(target, name)) return target[name];
      if (name === '__calls') return calls;
      const api = wx[name];
      if (typeof api !== 'function') return api;
      if (SYNC_API.test(String(name))) return api.bind(wx);
      return function promiseApi(options = {}, ...params) {
        calls.push(String(name));
        if (typeof options.success === 'function' || typeof options.fail === 'function' || typeof options.complete === 'function') {
          return api.call(wx, Object.assign({}, options), ...params); // the wx task (RequestTask, UploadTask)
        }
        const p = new Promise((resolve, reject) => {
          api.call(wx, Object.assign({}, options, { success: resolve, fail: reject }), ...params);
        });
        return vue === 2 ? p.then((res) => [null, res], (err) => [err]) : p;
      };
    },
    set(target, name, value) {
      target[name] = value;
      return true;
    }
  });
}

module.exports = { createTaro, createUni };
