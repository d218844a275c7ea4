'use strict';
/**
 * wxauth-client: the mini program side of wxauth.
 *
 * It turns the WeChat login dance into something pages never see:
 *
 *   wx.login() -> POST /login {code} -> {skey, expires_in} -> keep the skey in storage
 *   -> send it as `X-WX-Skey` on every request -> log in again when the server says the session is gone.
 *
 * The bugs that hand-written versions ship, and how this file avoids them:
 * - Two pages logging in at once burn two codes (WeChat 40163 -> CODE_USED) and race on the stored skey:
 *   every login goes through ONE in-flight promise (`inflightLogin`), so concurrent callers share a single
 *   wx.login and a single POST /login.
 * - Requests sent before login finished go out without an skey: every authenticated call first awaits a
 *   session (`ensureLogin`).
 * - A burst of requests that all find the session dead each start their own re-login: a request that
 *   failed with skey S only renews when S is still the current skey; otherwise someone already renewed
 *   and it simply retries with the new one.
 * - Infinite login loops: a request is retried at most once after one re-login.
 * - Uploads without the skey: uploadFile goes through the same path as request.
 * - Encrypted user data decrypted with the wrong session_key: see `userDataCall`.
 *
 * Plain CommonJS, ES5 syntax (plus Promise) and no dependencies, so the mini program's "build npm" can use
 * `main` as is. The `wx` object is injectable (tests, plugins, other hosts); by default the global `wx`.
 */

/** Storage key used when `createClient` gets no `storageKey`. */
var DEFAULT_STORAGE_KEY = 'wxauth:skey';

/** Request header that carries the skey (docs/contract.md). */
var SKEY_HEADER = 'X-WX-Skey';

/**
 * A stored skey this close to its expiry is treated as expired: it would likely be refused by the time the
 * request arrives, earning a 403 and a second round trip. Both ends of the comparison come from the phone's
 * own clock (login time + expires_in), so only the travel time of a request matters here.
 */
var EXPIRY_MARGIN_MS = 10 * 1000;

/** Error codes the wxauth server returns in `{"error":{"code":..}}` (docs/contract.md). */
var ErrorCodes = Object.freeze({
  BAD_REQUEST: 'BAD_REQUEST',
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  NOT_FOUND: 'NOT_FOUND',
  METHOD_NOT_ALLOWED: 'METHOD_NOT_ALLOWED',
  INVALID_CODE: 'INVALID_CODE',
  CODE_USED: 'CODE_USED',
  USER_BLOCKED: 'USER_BLOCKED',
  RATE_LIMITED: 'RATE_LIMITED',
  WECHAT_BUSY: 'WECHAT_BUSY',
  WECHAT_UNAVAILABLE: 'WECHAT_UNAVAILABLE',
  MISCONFIGURED: 'MISCONFIGURED',
  SESSION_EXPIRED: 'SESSION_EXPIRED',
  SESSION_KEY_EXPIRED: 'SESSION_KEY_EXPIRED',
  INVALID_SIGNATURE: 'INVALID_SIGNATURE',
  DECRYPT_FAILED: 'DECRYPT_FAILED',
  INVALID_PROFILE: 'INVALID_PROFILE',
  WECHAT_ERROR: 'WECHAT_ERROR',
  STORE_UNAVAILABLE: 'STORE_UNAVAILABLE'
});

/** Error codes made by this client, for failures that have no server error code. */
var ClientErrorCodes = Object.freeze({
  /** wx.request / wx.uploadFile failed without an HTTP answer (offline, DNS, TLS, timeout, refused). */
  NETWORK_ERROR: 'NETWORK_ERROR',
  /** The gateway answered 401 `{"message":"Unauthorized"}` (no skey accepted), even after a re-login. */
  UNAUTHORIZED: 'UNAUTHORIZED',
  /** The gateway answered 403 `{"message":"Forbidden"}` (skey unknown or expired), even after a re-login. */
  FORBIDDEN: 'FORBIDDEN',
  /** wx.login failed or gave no code. */
  LOGIN_FAILED: 'LOGIN_FAILED',
  /**
   * Encrypted user data (getUserInfo, phone by encryptedData) was made with a WeChat session_key that is no
   * longer valid. The client has already logged in again; get FRESH data from WeChat (call wx.getUserInfo
   * again, or let the user tap the button again) and call once more. Retrying the same data cannot work.
   */
  STALE_DATA: 'STALE_DATA',
  /** A button / wx API event carried no data: the user refused, or WeChat failed (see the message). */
  USER_DENIED: 'USER_DENIED',
  /** The caller passed something unusable (missing url, a url outside baseUrl, no encryptedData...). */
  INVALID_ARGUMENT: 'INVALID_ARGUMENT',
  /** A 2xx answer that does not have the shape the contract promises (e.g. POST /login without skey). */
  BAD_RESPONSE: 'BAD_RESPONSE',
  /** A non-2xx answer without a wxauth error body (a proxy's HTML page, a load balancer's 502...). */
  HTTP_ERROR: 'HTTP_ERROR'
});

/**
 * The one error type this client rejects with.
 *
 * Written as a constructor function rather than `class extends Error`: the mini program tool chain may
 * compile npm packages to ES5, and ES5-compiled subclasses of Error lose their prototype, which breaks
 * `instanceof WxAuthError`. This form works compiled or not.
 *
 * @param {string} code    server error code (ErrorCodes) or client error code (ClientErrorCodes)
 * @param {string} message human readable
 * @param {{status?: number, data?: *, cause?: *}} [extra]
 *   status: HTTP status, 0 when there was no HTTP answer; data: the response body; cause: what went wrong
 *   underneath (a wx fail result, another WxAuthError...).
 */
function WxAuthError(code, message, extra) {
  if (!(this instanceof WxAuthError)) return new WxAuthError(code, message, extra);
  extra = extra || {};
  this.name = 'WxAuthError';
  this.code = code;
  this.message = message || code;
  this.status = typeof extra.status === 'number' ? extra.status : 0;
  if (extra.data !== undefined) this.data = extra.data;
  if (extra.cause !== undefined) this.cause = extra.cause;
  if (typeof Error.captureStackTrace === 'function') {
    Error.captureStackTrace(this, WxAuthError);
  } else {
    this.stack = new Error(this.message).stack;
  }
}
WxAuthError.prototype = Object.create(Error.prototype, {
  constructor: { value: WxAuthError, writable: true, configurable: true }
});
WxAuthError.prototype.toString = function () {
  return 'WxAuthError [' + this.code + ']' + (this.status ? ' (HTTP ' + this.status + ')' : '') + ': ' +
    this.message;
};

/** A session failure: the skey is not (or no longer) accepted and a new login may fix it. */
function isSessionFailure(err) {
  return err instanceof WxAuthError && (
    err.code === ClientErrorCodes.UNAUTHORIZED ||
    err.code === ClientErrorCodes.FORBIDDEN ||
    err.code === ErrorCodes.SESSION_EXPIRED
  );
}

/** Text of a wx `fail` result (or of anything thrown), for messages. */
function describeFailure(failure) {
  if (failure && typeof failure.errMsg === 'string') return failure.errMsg;
  if (failure && typeof failure.message === 'string') return failure.message;
  return String(failure);
}

/**
 * Turns an HTTP answer into a WxAuthError, or null when it is a success (2xx).
 * - `{"error":{"code","message"}}` (the functions' errors) -> that code;
 * - other 401 / 403 (the gateway's `{"message":"Unauthorized"|"Forbidden"}`) -> UNAUTHORIZED / FORBIDDEN,
 *   except a REST API's 403 "Missing Authentication Token" (an unknown route);
 * - anything else -> HTTP_ERROR.
 * A 403 USER_BLOCKED from POST /login keeps its own code: only bodies WITHOUT an error code are the gateway's.
 */
function errorFromResponse(res) {
  var status = res.statusCode;
  if (status >= 200 && status < 300) return null;
  var body = res.data;
  var serverError = body && typeof body === 'object' && body.error;
  if (serverError && typeof serverError.code === 'string' && serverError.code) {
    return new WxAuthError(serverError.code, typeof serverError.message === 'string' && serverError.message
      ? serverError.message : serverError.code, { status: status, data: body });
  }
  // HTTP APIs say {"message"}, REST APIs sometimes {"Message"} (an explicit Deny).
  var gatewayMessage = '';
  if (body && typeof body === 'object') {
    gatewayMessage = typeof body.message === 'string' ? body.message : typeof body.Message === 'string' ? body.Message : '';
  }
  if (status === 403 && gatewayMessage === 'Missing Authentication Token') {
    // A REST API's answer for a route that does not exist: no session problem, so no re-login.
    return new WxAuthError(ClientErrorCodes.HTTP_ERROR, 'no such route (' + gatewayMessage + ')', {
      status: status, data: body
    });
  }
  if (status === 401) {
    return new WxAuthError(ClientErrorCodes.UNAUTHORIZED, gatewayMessage || 'Unauthorized', {
      status: status, data: body
    });
  }
  if (status === 403) {
    return new WxAuthError(ClientErrorCodes.FORBIDDEN, gatewayMessage || 'Forbidden', {
      status: status, data: body
    });
  }
  return new WxAuthError(ClientErrorCodes.HTTP_ERROR, 'HTTP ' + status + ' without a wxauth error body', {
    status: status, data: body
  });
}

/** uploadFile's `data` is always the raw body text: parse it like wx.request's default dataType "json" does. */
function parseJsonText(text) {
  if (typeof text !== 'string' || text === '') return text;
  try {
    return JSON.parse(text);
  } catch (e) {
    return text;
  }
}

/** A copy of `header` without any spelling of X-WX-Skey, then with ours when `skey` is given. */
function withSkeyHeader(header, skey) {
  var out = {};
  var lower = SKEY_HEADER.toLowerCase();
  if (header && typeof header === 'object') {
    Object.keys(header).forEach(function (name) {
      if (name.toLowerCase() !== lower) out[name] = header[name];
    });
  }
  if (skey) out[SKEY_HEADER] = skey;
  return out;
}

/** Accepts either a button / API `detail` or the whole event (`e`, whose `detail` holds the data). */
function unwrapDetail(detailOrEvent) {
  if (detailOrEvent && typeof detailOrEvent === 'object' && detailOrEvent.detail &&
      typeof detailOrEvent.detail === 'object' && detailOrEvent.encryptedData === undefined &&
      detailOrEvent.code === undefined) {
    return detailOrEvent.detail;
  }
  return detailOrEvent;
}

/**
 * Rejects details that carry no data because the user refused or WeChat failed: their errMsg does not end
 * with ":ok" ("getPhoneNumber:fail user deny", "getUserInfo:fail auth deny"...).
 */
function deniedError(detail, what) {
  if (!detail || typeof detail !== 'object') {
    return new WxAuthError(ClientErrorCodes.INVALID_ARGUMENT, what + ' needs the `detail` of the WeChat event');
  }
  if (typeof detail.errMsg === 'string' && !/:\s*ok$/.test(detail.errMsg)) {
    return new WxAuthError(ClientErrorCodes.USER_DENIED, what + ': WeChat gave no data (' + detail.errMsg + ')', {
      cause: detail
    });
  }
  return null;
}

function nonEmptyString(value) {
  return typeof value === 'string' && value !== '';
}

/**
 * Creates a client. One per mini program (create it in app.js): the client owns its storage key, and its
 * single-flight login only protects calls that go through the same client.
 *
 * @param {object} options
 * @param {string} options.baseUrl     API base, e.g. "https://abc.execute-api.ap-east-1.amazonaws.com"
 * @param {string} [options.storageKey] storage key of the session, default "wxauth:skey"
 * @param {object} [options.wx]        the wx API object, default the global `wx`
 * @param {number} [options.timeout]   default timeout (ms) of wx.request / wx.uploadFile
 * @param {function(): number} [options.now] clock in ms, default Date.now (tests)
 */
function createClient(options) {
  if (!options || typeof options !== 'object') {
    throw new WxAuthError(ClientErrorCodes.INVALID_ARGUMENT, 'createClient needs an options object with baseUrl');
  }
  if (!nonEmptyString(options.baseUrl) || !/^https?:\/\/[^/]/i.test(options.baseUrl)) {
    throw new WxAuthError(ClientErrorCodes.INVALID_ARGUMENT,
      'createClient: baseUrl must be an http(s) URL, got ' + JSON.stringify(options.baseUrl));
  }
  var baseUrl = options.baseUrl.replace(/\/+$/, '');
  var storageKey = options.storageKey === undefined ? DEFAULT_STORAGE_KEY : options.storageKey;
  if (!nonEmptyString(storageKey)) {
    throw new WxAuthError(ClientErrorCodes.INVALID_ARGUMENT, 'createClient: storageKey must be a non-empty string');
  }
  // `wx` is a global in the mini program; `typeof` keeps this file loadable where it is not (Node tests).
  var wxApi = options.wx || (typeof wx !== 'undefined' ? wx : null); // eslint-disable-line no-undef
  if (!wxApi || typeof wxApi.request !== 'function' || typeof wxApi.login !== 'function') {
    throw new WxAuthError(ClientErrorCodes.INVALID_ARGUMENT,
      'createClient: no wx API object (pass options.wx outside a mini program)');
  }
  var defaultTimeout = typeof options.timeout === 'number' ? options.timeout : undefined;
  var now = typeof options.now === 'function' ? options.now : Date.now;

  // ---- session storage ---------------------------------------------------------------------------------
  // The session is {skey, expiresAt}: expiresAt is epoch ms, or null when the server gave no lifetime.
  // It lives in memory and in wx storage (so it survives restarts). Memory is the source of truth once
  // loaded: a failing setStorageSync (storage full) must not log the user out of the running app.
  var session = null;
  var sessionLoaded = false;
  var inflightLogin = null; // the one login in progress, shared by every caller
  var loginCount = 0;       // successful logins so far; lets user-data calls notice a login in between

  function loadSession() {
    if (sessionLoaded) return session;
    sessionLoaded = true;
    var stored;
    try {
      stored = wxApi.getStorageSync(storageKey); // "" when the key does not exist
    } catch (e) {
      stored = null;
    }
    if (nonEmptyString(stored)) {
      session = { skey: stored, expiresAt: null }; // a bare skey, stored by hand or by an older version
    } else if (stored && typeof stored === 'object' && nonEmptyString(stored.skey)) {
      session = { skey: stored.skey, expiresAt: typeof stored.expiresAt === 'number' ? stored.expiresAt : null };
    } else {
      session = null;
    }
    return session;
  }

  function saveSession(next) {
    session = next;
    sessionLoaded = true;
    try {
      wxApi.setStorageSync(storageKey, { skey: next.skey, expiresAt: next.expiresAt });
    } catch (e) {
      // Storage full or unavailable: the session still works for this run of the app.
    }
  }

  function clearSession() {
    session = null;
    sessionLoaded = true;
    try {
      wxApi.removeStorageSync(storageKey);
    } catch (e) {
      // Nothing more to do: memory is cleared.
    }
  }

  /** The stored session unless it is missing or obviously expired (then it is dropped). */
  function currentSession() {
    var s = loadSession();
    if (s && s.expiresAt !== null && now() >= s.expiresAt - EXPIRY_MARGIN_MS) {
      clearSession();
      return null;
    }
    return s;
  }

  function publicSession(s) {
    return { skey: s.skey, expiresAt: s.expiresAt };
  }

  // ---- transport ---------------------------------------------------------------------------------------

  /** Absolute URL for `url`. The skey must never leave for another host, so absolute URLs must be ours. */
  function resolveUrl(url, allowForeign) {
    if (!nonEmptyString(url)) {
      throw new WxAuthError(ClientErrorCodes.INVALID_ARGUMENT, 'url must be a non-empty string');
    }
    if (/^[a-z][a-z0-9+.-]*:/i.test(url)) {
      var ours = url === baseUrl || url.indexOf(baseUrl + '/') === 0 || url.indexOf(baseUrl + '?') === 0;
      if (ours || allowForeign) return url;
      throw new WxAuthError(ClientErrorCodes.INVALID_ARGUMENT,
        'refusing to send the skey to ' + url + ': authenticated URLs must be under ' + baseUrl +
        ' (use a path, or auth: false)');
    }
    return baseUrl + (url.charAt(0) === '/' ? url : '/' + url);
  }

  /**
   * Calls wx.request (`kind` "request") or wx.uploadFile ("uploadFile") once, with `skey` in the header.
   * Resolves with the HTTP answer {statusCode, data, header} whatever its status; rejects NETWORK_ERROR when
   * there is no answer. Our own option keys and callbacks are not passed to wx.
   */
  function send(kind, callerOptions, skey) {
    return new Promise(function (resolve, reject) {
      var wxOptions = {};
      Object.keys(callerOptions).forEach(function (key) {
        if (key === 'auth' || key === 'onProgressUpdate' || key === 'success' || key === 'fail' ||
            key === 'complete') return;
        wxOptions[key] = callerOptions[key];
      });
      wxOptions.url = resolveUrl(callerOptions.url, callerOptions.auth === false);
      wxOptions.header = withSkeyHeader(callerOptions.header, skey);
      if (wxOptions.timeout === undefined && defaultTimeout !== undefined) wxOptions.timeout = defaultTimeout;
      if (wxOptions.data === undefined) delete wxOptions.data;
      wxOptions.success = function (res) {
        resolve({
          statusCode: res.statusCode,
          data: kind === 'uploadFile' ? parseJsonText(res.data) : res.data,
          header: res.header || {}
        });
      };
      wxOptions.fail = function (failure) {
        reject(new WxAuthError(ClientErrorCodes.NETWORK_ERROR,
          'wx.' + kind + ' ' + wxOptions.url + ' failed: ' + describeFailure(failure), { cause: failure }));
      };
      var task = wxApi[kind](wxOptions);
      if (typeof callerOptions.onProgressUpdate === 'function' && task && typeof task.onProgressUpdate === 'function') {
        task.onProgressUpdate(callerOptions.onProgressUpdate);
      }
    }).catch(function (err) {
      // Something thrown synchronously by wx (or by resolveUrl) lands here too.
      if (err instanceof WxAuthError) throw err;
      throw new WxAuthError(ClientErrorCodes.NETWORK_ERROR, 'wx.' + kind + ' failed: ' + describeFailure(err), {
        cause: err
      });
    });
  }

  /** Resolves with the body of a 2xx answer, rejects with the typed error of any other. */
  function bodyOrError(res) {
    var err = errorFromResponse(res);
    if (err) throw err;
    return res.data;
  }

  // ---- login -------------------------------------------------------------------------------------------

  function wxLogin() {
    return new Promise(function (resolve, reject) {
      wxApi.login({
        success: resolve,
        fail: function (failure) {
          reject(new WxAuthError(ClientErrorCodes.LOGIN_FAILED, 'wx.login failed: ' + describeFailure(failure), {
            cause: failure
          }));
        }
      });
    }).then(function (res) {
      if (!res || !nonEmptyString(res.code)) {
        throw new WxAuthError(ClientErrorCodes.LOGIN_FAILED, 'wx.login gave no code', { cause: res });
      }
      return res.code;
    }, function (err) {
      if (err instanceof WxAuthError) throw err;
      throw new WxAuthError(ClientErrorCodes.LOGIN_FAILED, 'wx.login failed: ' + describeFailure(err), { cause: err });
    });
  }

  /** One full login: a fresh wx.login code exchanged at POST /login. Never retried: a code is single-use. */
  function performLogin() {
    return wxLogin().then(function (code) {
      return send('request', { url: '/login', method: 'POST', data: { code: code } }, null);
    }).then(bodyOrError).then(function (body) {
      if (!body || typeof body !== 'object' || !nonEmptyString(body.skey)) {
        throw new WxAuthError(ClientErrorCodes.BAD_RESPONSE, 'POST /login answered without an skey', { data: body });
      }
      var expiresIn = body.expires_in;
      var fresh = {
        skey: body.skey,
        expiresAt: typeof expiresIn === 'number' && expiresIn > 0 ? now() + expiresIn * 1000 : null
      };
      saveSession(fresh);
      loginCount += 1;
      return fresh;
    });
  }

  /**
   * Logs in (always a new wx.login + POST /login). Single-flight: while one login runs, every other caller
   * gets the same promise, so concurrent pages use one code and end up with one skey.
   */
  function login() {
    if (!inflightLogin) {
      inflightLogin = performLogin().then(function (fresh) {
        inflightLogin = null;
        return publicSession(fresh);
      }, function (err) {
        inflightLogin = null; // a failed login must not poison later attempts
        throw err;
      });
    }
    return inflightLogin;
  }

  /** The current session, logging in only when there is none (or it expired). */
  function ensureLogin() {
    if (inflightLogin) return inflightLogin;
    var s = currentSession();
    return s ? Promise.resolve(publicSession(s)) : login();
  }

  /**
   * A request sent with `staleSkey` was refused. Renew the session once for everyone:
   * - a login is already running -> share it;
   * - the current skey is already another one -> someone renewed meanwhile, use it;
   * - otherwise drop the dead skey and log in.
   */
  function renewSession(staleSkey) {
    if (inflightLogin) return inflightLogin;
    var s = currentSession();
    if (s && s.skey !== staleSkey) return Promise.resolve(publicSession(s));
    if (s) clearSession();
    return login();
  }

  /**
   * An authenticated wx.request / wx.uploadFile: waits for a session, sends the skey, and on a session
   * failure (gateway 401/403, SESSION_EXPIRED) renews the session ONCE and retries ONCE. A second session
   * failure is returned to the caller as is: no loops.
   */
  function authenticated(kind, callerOptions) {
    if (!callerOptions || typeof callerOptions !== 'object') {
      return Promise.reject(new WxAuthError(ClientErrorCodes.INVALID_ARGUMENT, kind + ' needs an options object'));
    }
    if (callerOptions.auth === false) {
      return send(kind, callerOptions, null).then(bodyOrError);
    }
    try {
      resolveUrl(callerOptions.url, false); // fail fast, before logging in for a request that cannot go out
    } catch (err) {
      return Promise.reject(err);
    }
    return ensureLogin().then(function (s) {
      return send(kind, callerOptions, s.skey).then(function (res) {
        var err = errorFromResponse(res);
        if (!err) return res.data;
        if (!isSessionFailure(err)) throw err;
        return renewSession(s.skey).then(function (fresh) {
          return send(kind, callerOptions, fresh.skey).then(bodyOrError);
        });
      });
    });
  }

  // ---- encrypted user data -----------------------------------------------------------------------------

  function checkWxSession() {
    return new Promise(function (resolve) {
      try {
        wxApi.checkSession({
          success: function () { resolve(null); },
          fail: function (failure) { resolve(failure || { errMsg: 'checkSession:fail' }); }
        });
      } catch (err) {
        resolve(err);
      }
    });
  }

  function staleDataError(reason, cause) {
    return new WxAuthError(ClientErrorCodes.STALE_DATA,
      reason + '. The client has logged in again: get fresh data from WeChat (call wx.getUserInfo again / ' +
      'let the user tap the button again) and retry; the same data can never be decrypted.',
      { status: cause instanceof WxAuthError ? cause.status : 0, cause: cause });
  }

  /**
   * POSTs data that WeChat encrypted with the user's session_key. Such data only decrypts with the
   * session_key that was current when WeChat made it, and any wx.login may replace that key. So:
   * - wx.checkSession first (when `usesSessionKey`): if WeChat says the login state is gone, the data is
   *   useless; log in again and reject STALE_DATA;
   * - SESSION_KEY_EXPIRED from the server: same;
   * - DECRYPT_FAILED / INVALID_SIGNATURE after a login happened during this call (cold start, or the
   *   re-login of a 401/403): the new login replaced the key the data was made with, so STALE_DATA too.
   * Each path logs in at most once and never resends the data after that: the caller must fetch new data.
   */
  function userDataCall(url, body, usesSessionKey) {
    var loginsAtStart = loginCount;
    var checked = usesSessionKey ? checkWxSession() : Promise.resolve(null);
    return checked.then(function (checkFailure) {
      if (checkFailure) {
        return login().then(function () {
          throw staleDataError('wx.checkSession failed (' + describeFailure(checkFailure) +
            '): the data was made with an expired session_key', checkFailure);
        });
      }
      return authenticated('request', { url: url, method: 'POST', data: body }).catch(function (err) {
        if (!(err instanceof WxAuthError)) throw err;
        if (err.code === ErrorCodes.SESSION_KEY_EXPIRED) {
          return login().then(function () {
            throw staleDataError('The server says the session_key expired', err);
          });
        }
        if (usesSessionKey && loginCount !== loginsAtStart &&
            (err.code === ErrorCodes.DECRYPT_FAILED || err.code === ErrorCodes.INVALID_SIGNATURE)) {
          throw staleDataError('A login during this call replaced the session_key the data was made with', err);
        }
        throw err;
      });
    });
  }

  function getUserInfo(detailOrEvent) {
    var detail = unwrapDetail(detailOrEvent);
    var denied = deniedError(detail, 'getUserInfo');
    if (denied) return Promise.reject(denied);
    if (!nonEmptyString(detail.encryptedData) || !nonEmptyString(detail.iv)) {
      return Promise.reject(new WxAuthError(ClientErrorCodes.INVALID_ARGUMENT,
        'getUserInfo needs the encryptedData and iv of wx.getUserInfo / the button event'));
    }
    var body = { encryptedData: detail.encryptedData, iv: detail.iv };
    if (nonEmptyString(detail.rawData) && nonEmptyString(detail.signature)) {
      body.rawData = detail.rawData;
      body.signature = detail.signature;
    }
    return userDataCall('/userinfo', body, true);
  }

  /**
   * The phone number from `<button open-type="getPhoneNumber">`. The modern `detail.code` is exchanged by
   * the server with an access_token and does not involve the session_key, so it skips wx.checkSession (a
   * failed check would throw away a valid single-use code); the old encryptedData/iv form gets the full
   * stale-key handling of getUserInfo.
   */
  function getPhoneNumber(detailOrEvent) {
    var detail = unwrapDetail(detailOrEvent);
    var denied = deniedError(detail, 'getPhoneNumber');
    if (denied) return Promise.reject(denied);
    if (nonEmptyString(detail.code)) return userDataCall('/phone', { code: detail.code }, false);
    if (nonEmptyString(detail.encryptedData) && nonEmptyString(detail.iv)) {
      return userDataCall('/phone', { encryptedData: detail.encryptedData, iv: detail.iv }, true);
    }
    return Promise.reject(new WxAuthError(ClientErrorCodes.INVALID_ARGUMENT,
      'getPhoneNumber needs detail.code (or encryptedData and iv) from the getPhoneNumber button'));
  }

  // ---- the rest of the API -----------------------------------------------------------------------------

  function updateProfile(profile) {
    if (!profile || typeof profile !== 'object') {
      return Promise.reject(new WxAuthError(ClientErrorCodes.INVALID_ARGUMENT,
        'updateProfile needs {nickName, avatarUrl}'));
    }
    return authenticated('request', {
      url: '/profile',
      method: 'PUT',
      data: { nickName: profile.nickName, avatarUrl: profile.avatarUrl }
    });
  }

  function me() {
    return authenticated('request', { url: '/me', method: 'GET' });
  }

  /**
   * Ends the session (with `all`, every session of the user). The stored skey is cleared before the call,
   * so it is gone even when the call fails; a session the server already forgot counts as logged out
   * ({revoked: 0}). Never logs in just to log out.
   */
  function logout(all) {
    var pending = inflightLogin ? inflightLogin.then(null, function () {}) : Promise.resolve();
    return pending.then(function () {
      var s = currentSession();
      if (!s) return { revoked: 0 };
      clearSession();
      var call = { url: '/logout', method: 'POST' };
      if (all) call.data = { all: true };
      return send('request', call, s.skey).then(function (res) {
        var err = errorFromResponse(res);
        if (err && isSessionFailure(err)) return { revoked: 0 };
        if (err) throw err;
        return res.data;
      });
    });
  }

  /** The current skey (for your own transports, e.g. a WebSocket), or null when not logged in. */
  function getSkey() {
    var s = currentSession();
    return s ? s.skey : null;
  }

  return {
    baseUrl: baseUrl,
    storageKey: storageKey,
    login: login,
    ensureLogin: ensureLogin,
    getSkey: getSkey,
    request: function (requestOptions) { return authenticated('request', requestOptions); },
    uploadFile: function (uploadOptions) { return authenticated('uploadFile', uploadOptions); },
    getUserInfo: getUserInfo,
    getPhoneNumber: getPhoneNumber,
    updateProfile: updateProfile,
    me: me,
    logout: logout
  };
}

module.exports = {
  createClient: createClient,
  WxAuthError: WxAuthError,
  ErrorCodes: ErrorCodes,
  ClientErrorCodes: ClientErrorCodes,
  DEFAULT_STORAGE_KEY: DEFAULT_STORAGE_KEY,
  SKEY_HEADER: SKEY_HEADER
};
