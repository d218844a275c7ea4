'use strict';
/**
 * A fake of the few `wx` APIs the client uses, doing REAL HTTP (node:http) so the client talks to a real
 * server: the unit tests' fake server or, in e2e, the wxauth local server.
 *
 * It follows the mini program's behaviour where the client depends on it:
 * - callbacks (success / fail / complete) are always called asynchronously;
 * - wx.request: GET data becomes the query string, object data on other methods is sent as JSON, the
 *   answer is JSON-parsed when it parses (dataType "json") and left a string otherwise; `fail` only when
 *   there is no HTTP answer (refused, timeout, abort) with errMsg "request:fail ...";
 * - wx.uploadFile: multipart/form-data with `formData` fields and the file under `name`; `data` of the
 *   answer is always the raw string;
 * - wx.login: calls `codeProvider()` for a fresh code (e2e: POST {base}/dev/code of the local server);
 *   a successful login makes the WeChat login state valid, which wx.checkSession then reports;
 * - storage: values go through JSON like the real storage; getStorageSync of a missing key returns "";
 * - the legal domains: with `domains` (a list of origins), any other URL fails at once with
 *   `{errMsg: "request:fail url not in domain list", errno: 600002}` (uploadFile: "uploadFile:fail ...");
 * - `task.abort()` fails the call with errMsg "request:fail abort";
 * - wx.getAccountInfoSync exists only when the fake is given an `appid` (the e2e test passes
 *   WXAUTH_E2E_APPID): {miniProgram: {appId, envVersion, version}};
 * - privacy (base library 2.32.3+): wx.onNeedPrivacyAuthorization(listener) and
 *   wx.requirePrivacyAuthorize({success, fail}) call the listener with (resolve, {referrer}) until the user
 *   agreed (`privacyAgreed`), then succeed at once.
 *
 * Knobs for tests: `loginFailure` (errMsg to fail wx.login with), `sessionValid` (what checkSession says),
 * `privacyAgreed`, `calls` (how often each API ran) and `log` (every API call in order, with method and path
 * for requests).
 */
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const crypto = require('node:crypto');

function later(fn, arg) {
  if (typeof fn === 'function') setImmediate(fn, arg);
}

function finish(options, ok, result) {
  later(ok ? options.success : options.fail, result);
  later(options.complete, result);
}

function queryString(data) {
  return Object.keys(data)
    .filter((k) => data[k] !== undefined)
    .map((k) => encodeURIComponent(k) + '=' + encodeURIComponent(String(data[k])))
    .join('&');
}

function hasHeader(header, name) {
  return Object.keys(header).some((k) => k.toLowerCase() === name.toLowerCase());
}

/**
 * One HTTP exchange. Resolves {statusCode, header, text}; rejects with an Error whose message is the
 * wx-style failure reason ("timeout", "abort", "ECONNREFUSED"...).
 */
function httpExchange({ url, method, header, body, timeout, signal }) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers: header, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({
        statusCode: res.statusCode,
        header: res.headers,
        text: Buffer.concat(chunks).toString('utf8')
      }));
      res.on('error', (err) => reject(new Error(err.code || err.message)));
    });
    req.setTimeout(timeout, () => req.destroy(new Error('timeout')));
    req.on('error', (err) => reject(new Error(err.code || err.message)));
    signal.onAbort = () => req.destroy(new Error('abort'));
    if (body !== undefined) req.write(body);
    req.end();
  });
}

/** The wx-style failure of a URL outside the legal domains, or null. */
function domainFailure(domains, url, api) {
  if (!domains) return null;
  const origin = new URL(url).origin;
  if (domains.includes(origin)) return null;
  return { errMsg: api + ':fail url not in domain list', errno: 600002 };
}

function createWxFake(options = {}) {
  const codeProvider = options.codeProvider;
  const storage = new Map();
  const calls = { login: 0, request: 0, uploadFile: 0, checkSession: 0, requirePrivacyAuthorize: 0 };
  const log = [];
  const privacyListeners = [];

  const fake = {
    /** errMsg to fail the next wx.login calls with, or null. */
    loginFailure: null,
    /** What wx.checkSession reports; becomes true on every successful wx.login. */
    sessionValid: false,
    /** Whether the user agreed to the privacy guideline (then privacy-scoped APIs need no popup). */
    privacyAgreed: false,
    calls,
    log,
    storage,

    login(opts = {}) {
      calls.login += 1;
      log.push({ api: 'login' });
      if (fake.loginFailure) {
        finish(opts, false, { errMsg: 'login:fail ' + fake.loginFailure });
        return;
      }
      Promise.resolve()
        .then(() => codeProvider())
        .then((code) => {
          fake.sessionValid = true;
          finish(opts, true, { code, errMsg: 'login:ok' });
        }, (err) => finish(opts, false, { errMsg: 'login:fail ' + err.message }));
    },

    checkSession(opts = {}) {
      calls.checkSession += 1;
      log.push({ api: 'checkSession' });
      if (fake.sessionValid) finish(opts, true, { errMsg: 'checkSession:ok' });
      else finish(opts, false, { errMsg: 'checkSession:fail session time out, need relogin' });
    },

    request(opts) {
      calls.request += 1;
      const method = (opts.method || 'GET').toUpperCase();
      const header = Object.assign({}, opts.header);
      let url = opts.url;
      let body;
      const data = opts.data;
      if (method === 'GET' && data && typeof data === 'object') {
        const qs = queryString(data);
        if (qs) url += (url.includes('?') ? '&' : '?') + qs;
      } else if (data !== undefined) {
        if (!hasHeader(header, 'content-type')) header['Content-Type'] = 'application/json';
        if (typeof data === 'string') body = data;
        else if (data instanceof ArrayBuffer) body = Buffer.from(data);
        else body = JSON.stringify(data);
      }
      log.push({ api: 'request', method, url, path: new URL(url).pathname, header });
      const signal = { onAbort: null };
      const refused = domainFailure(options.domains, url, 'request');
      if (refused) {
        finish(opts, false, refused);
        return { abort() {}, onHeadersReceived() {}, offHeadersReceived() {} };
      }
      httpExchange({ url, method, header, body, timeout: opts.timeout || 60000, signal }).then((res) => {
        let parsed = res.text;
        if ((opts.dataType || 'json') === 'json') {
          try {
            parsed = JSON.parse(res.text);
          } catch (e) {
            parsed = res.text;
          }
        }
        finish(opts, true, {
          statusCode: res.statusCode, data: parsed, header: res.header, cookies: [], errMsg: 'request:ok'
        });
      }, (err) => finish(opts, false, { errMsg: 'request:fail ' + err.message, errno: err.message === 'abort' ? 600003 : 600001 }));
      return { abort: () => signal.onAbort && signal.onAbort(), onHeadersReceived() {}, offHeadersReceived() {} };
    },

    uploadFile(opts) {
      calls.uploadFile += 1;
      const header = Object.assign({}, opts.header);
      log.push({ api: 'uploadFile', method: 'POST', url: opts.url, path: new URL(opts.url).pathname, header });
      const progressListeners = [];
      const signal = { onAbort: null };
      const refused = domainFailure(options.domains, opts.url, 'uploadFile');
      if (refused) {
        finish(opts, false, refused);
        return { abort() {}, onProgressUpdate() {} };
      }
      let aborted = false;
      fs.promises.readFile(opts.filePath).then((content) => {
        if (aborted) throw new Error('abort');
        const boundary = '----wxfake' + crypto.randomBytes(12).toString('hex');
        const parts = [];
        const formData = opts.formData || {};
        for (const key of Object.keys(formData)) {
          parts.push(Buffer.from('--' + boundary + '\r\nContent-Disposition: form-data; name="' + key +
            '"\r\n\r\n' + String(formData[key]) + '\r\n'));
        }
        parts.push(Buffer.from('--' + boundary + '\r\nContent-Disposition: form-data; name="' + opts.name +
          '"; filename="' + path.basename(opts.filePath) + '"\r\nContent-Type: application/octet-stream\r\n\r\n'));
        parts.push(content, Buffer.from('\r\n--' + boundary + '--\r\n'));
        const body = Buffer.concat(parts);
        header['Content-Type'] = 'multipart/form-data; boundary=' + boundary;
        const sent = httpExchange({ url: opts.url, method: 'POST', header, body, timeout: opts.timeout || 60000, signal });
        for (const listener of progressListeners) {
          later(listener, { progress: 100, totalBytesSent: body.length, totalBytesExpectedToSend: body.length });
        }
        return sent;
      }, (err) => {
        throw new Error(err.code === 'ENOENT' ? 'file not found' : err.message);
      }).then((res) => {
        finish(opts, true, { statusCode: res.statusCode, data: res.text, errMsg: 'uploadFile:ok' });
      }, (err) => finish(opts, false, { errMsg: 'uploadFile:fail ' + err.message, errno: 600001 }));
      return {
        abort: () => { aborted = true; if (signal.onAbort) signal.onAbort(); },
        onProgressUpdate: (listener) => progressListeners.push(listener)
      };
    },

    onNeedPrivacyAuthorization(listener) {
      privacyListeners.push(listener);
    },

    requirePrivacyAuthorize(opts = {}) {
      calls.requirePrivacyAuthorize += 1;
      log.push({ api: 'requirePrivacyAuthorize' });
      if (fake.privacyAgreed) {
        finish(opts, true, { errMsg: 'requirePrivacyAuthorize:ok' });
        return;
      }
      const listener = privacyListeners[privacyListeners.length - 1];
      if (!listener) {
        // Without a listener WeChat shows its own popup; the fake says the user agreed to it.
        fake.privacyAgreed = true;
        finish(opts, true, { errMsg: 'requirePrivacyAuthorize:ok' });
        return;
      }
      later(() => listener((answer) => {
        const agreed = answer && answer.event === 'agree';
        if (agreed) fake.privacyAgreed = true;
        finish(opts, agreed, { errMsg: agreed ? 'requirePrivacyAuthorize:ok' : 'requirePrivacyAuthorize:fail privacy permission is not authorized', errno: agreed ? undefined : 104 });
      }, { referrer: 'requirePrivacyAuthorize' }));
    },

    openPrivacyContract(opts = {}) {
      finish(opts, true, { errMsg: 'openPrivacyContract:ok' });
    },

    getStorageSync(key) {
      return storage.has(key) ? JSON.parse(storage.get(key)) : '';
    },
    setStorageSync(key, value) {
      storage.set(key, JSON.stringify(value));
    },
    removeStorageSync(key) {
      storage.delete(key);
    }
  };
  if (options.appid) {
    fake.getAccountInfoSync = () => ({ miniProgram: { appId: options.appid, envVersion: 'develop', version: '' }, plugin: {} });
  }
  return fake;
}

/**
 * A counting wrapper around a wx object: every wx.request / wx.uploadFile goes through it and is recorded
 * as {method, path}. `count('POST', '/login')` tells how many logins reached the network.
 */
function countRequests(wxApi) {
  const seen = [];
  const wrapped = Object.create(wxApi);
  wrapped.request = (opts) => {
    seen.push({ method: (opts.method || 'GET').toUpperCase(), path: new URL(opts.url).pathname });
    return wxApi.request(opts);
  };
  wrapped.uploadFile = (opts) => {
    seen.push({ method: 'POST', path: new URL(opts.url).pathname });
    return wxApi.uploadFile(opts);
  };
  return {
    wx: wrapped,
    seen,
    count: (method, pathname) => seen.filter((r) => r.method === method && r.path === pathname).length
  };
}

/**
 * Plain JSON over HTTP for the tests' own calls (not through the client): resolves {status, body}, with
 * body parsed when it is JSON.
 */
async function httpJson(method, url, body, header = {}) {
  const h = Object.assign({}, header);
  let payload;
  if (body !== undefined) {
    h['Content-Type'] = 'application/json';
    payload = typeof body === 'string' ? body : JSON.stringify(body);
  }
  const res = await httpExchange({ url, method, header: h, body: payload, timeout: 10000, signal: {} });
  let parsed = res.text;
  try {
    parsed = JSON.parse(res.text);
  } catch (e) {
    // not JSON: keep the text
  }
  return { status: res.statusCode, body: parsed };
}

/** A codeProvider minting fresh codes at `POST {baseUrl}/dev/code` (the simulator's route). */
function devCodeProvider(baseUrl, user) {
  return async () => {
    const res = await httpJson('POST', baseUrl + '/dev/code', user ? { user } : {});
    if (res.status !== 200 || !res.body || typeof res.body.code !== 'string') {
      throw new Error('POST /dev/code answered ' + res.status + ' ' + JSON.stringify(res.body));
    }
    return res.body.code;
  };
}

module.exports = { createWxFake, countRequests, devCodeProvider, httpJson };
