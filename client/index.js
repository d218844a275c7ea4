'use strict';
/**
 * wxauth-client: the mini program side of wxauth.
 *
 * It turns the WeChat login dance into something pages never see:
 *
 *   wx.login() -> POST /login {code, appid} -> {skey, expires_in[, uid][, token, token_expires_in]}
 *   (token null: a JWT-mode server could not sign one now; POST /token later)
 *   -> keep the skey in storage (the session JWT, when the server gives one, in memory only)
 *   -> send it on every request -> log in again when the gateway or wxauth proves the session is dead.
 *
 * The bugs that hand-written versions ship, and how this file avoids them:
 * - Two pages logging in at once burn two codes (WeChat 40163 -> CODE_USED) and race on the stored skey:
 *   every login goes through ONE in-flight promise (`inflightLogin`), so concurrent callers share a single
 *   wx.login and a single POST /login. The session JWT is renewed the same way (`inflightToken`).
 * - Requests sent before login finished go out without an skey: every authenticated call first awaits a
 *   session (`ensureLogin`).
 * - A burst of requests that all find the session dead each start their own re-login: a request that
 *   failed with skey S only renews when S is still the current skey; otherwise someone already renewed
 *   and it simply retries with the new one.
 * - The app's own 401/403 ("not your order") taken for a dead session: only the answers that prove the
 *   request was not acted on count (the gateway's exact `{"message":"Unauthorized"}` /
 *   `{"message":"Forbidden"}` bodies, wxauth's SESSION_EXPIRED); everything else reaches the caller.
 * - Infinite login loops: a request is sent again at most once, after one re-login.
 * - A logout undone by a request still in flight: after logout() nothing logs in silently until login().
 * - Encrypted user data decrypted with the wrong session_key: see `userDataCall`.
 *
 * Plain CommonJS, ES5 syntax (plus Promise) and no dependencies, so the mini program's "build npm" can use
 * `main` as is. It touches no Node global. The `wx` object is injectable (tests, plugins, Taro's `Taro`,
 * uni-app's `uni`); by default the global `wx`.
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

/** The session JWT is renewed this long before it expires (but see tokenMargin: 10%-50% of its lifetime). */
var TOKEN_RENEW_EARLY_MS = 60 * 1000;

/** WECHAT_BUSY at login (WeChat's -1) is tried once more, with a fresh code, after this delay. */
var BUSY_RETRY_DELAY_MS = 500;

/** Error codes the wxauth server returns in `{"error":{"code":..}}` (docs/contract.md). */
var ErrorCodes = Object.freeze({
  BAD_REQUEST: 'BAD_REQUEST',
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  NOT_FOUND: 'NOT_FOUND',
  METHOD_NOT_ALLOWED: 'METHOD_NOT_ALLOWED',
  INVALID_CODE: 'INVALID_CODE',
  CODE_USED: 'CODE_USED',
  UNKNOWN_APP: 'UNKNOWN_APP',
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
  INVALID_AVATAR: 'INVALID_AVATAR',
  NICKNAME_REJECTED: 'NICKNAME_REJECTED',
  WECHAT_ERROR: 'WECHAT_ERROR',
  STORE_UNAVAILABLE: 'STORE_UNAVAILABLE',
  SIGNING_UNAVAILABLE: 'SIGNING_UNAVAILABLE',
  INTERNAL: 'INTERNAL'
});

/** Error codes made by this client, for failures that have no server error code. */
var ClientErrorCodes = Object.freeze({
  /** wx.request / wx.uploadFile failed without an HTTP answer (offline, DNS, TLS, timeout, refused). */
  NETWORK_ERROR: 'NETWORK_ERROR',
  /** The request was aborted (`task.abort()` of the task given to `onTask`). */
  ABORTED: 'ABORTED',
  /** "url not in domain list": the API host is missing from the mini program's legal domains. */
  DOMAIN_NOT_ALLOWED: 'DOMAIN_NOT_ALLOWED',
  /** The gateway answered 401 `{"message":"Unauthorized"}` (no credential accepted), even after a re-login. */
  UNAUTHORIZED: 'UNAUTHORIZED',
  /** The gateway answered 403 `{"message":"Forbidden"}` (skey unknown or expired), even after a re-login. */
  FORBIDDEN: 'FORBIDDEN',
  /** logout() was called (or autoLogin is off) and login() not yet: the client does not log in by itself. */
  NOT_LOGGED_IN: 'NOT_LOGGED_IN',
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
  /** getPhoneNumber errno 1400001: the mini program's phone-number quota is used up (top it up, it is paid). */
  PHONE_QUOTA_EXHAUSTED: 'PHONE_QUOTA_EXHAUSTED',
  /** The caller passed something unusable (missing url, a url outside baseUrl, success/fail callbacks...). */
  INVALID_ARGUMENT: 'INVALID_ARGUMENT',
  /** A 2xx answer that does not have the shape the contract promises (e.g. POST /login without skey). */
  BAD_RESPONSE: 'BAD_RESPONSE',
  /** A non-2xx answer without a wxauth error body (the app's own `{"code":40301}`, a proxy's HTML page...). */
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
 * @param {{status?: number, data?: *, headers?: object, retryAfter?: number, cause?: *}} [extra]
 *   status: HTTP status, 0 when there was no HTTP answer; data: the response body; headers: the response
 *   headers; retryAfter: seconds from a Retry-After header; cause: what went wrong underneath (a wx fail
 *   result, another WxAuthError...).
 */
function WxAuthError(code, message, extra) {
  if (!(this instanceof WxAuthError)) return new WxAuthError(code, message, extra);
  extra = extra || {};
  this.name = 'WxAuthError';
  this.code = code;
  this.message = message || code;
  this.status = typeof extra.status === 'number' ? extra.status : 0;
  if (extra.data !== undefined) this.data = extra.data;
  if (extra.headers !== undefined) this.headers = extra.headers;
  if (typeof extra.retryAfter === 'number') this.retryAfter = extra.retryAfter;
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

function nonEmptyString(value) {
  return typeof value === 'string' && value !== '';
}

function isPlainObject(value) {
  return value !== null && typeof value === 'object' && Object.prototype.toString.call(value) === '[object Object]';
}

function noop() {}

/** Text of a wx `fail` result (or of anything thrown), for messages. */
function describeFailure(failure) {
  if (failure && typeof failure.errMsg === 'string') return failure.errMsg;
  if (failure && typeof failure.message === 'string') return failure.message;
  return String(failure);
}

/** A header's value whatever the case of its name (wx keeps the server's case, other hosts lower it). */
function headerValue(headers, name) {
  if (!headers || typeof headers !== 'object') return undefined;
  var lower = name.toLowerCase();
  var keys = Object.keys(headers);
  for (var i = 0; i < keys.length; i++) {
    if (keys[i].toLowerCase() === lower) return headers[keys[i]];
  }
  return undefined;
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

/** The body as an object for inspection: parsed when it is JSON text (dataType "text", uploads). */
function inspectable(body) {
  return typeof body === 'string' ? parseJsonText(body) : body;
}

/** `body` is exactly `{"message": text}`: the HTTP API gateway's own answer, nothing added. */
function isExactMessage(body, text) {
  var value = inspectable(body);
  return isPlainObject(value) && Object.keys(value).length === 1 && value.message === text;
}

/** The gateway's 401 (no / unusable credential): exactly `{"message":"Unauthorized"}`. */
function isGatewayUnauthorized(res) {
  return res.statusCode === 401 && isExactMessage(res.data, 'Unauthorized');
}

/** The gateway's 403 (the authorizer refused the skey): exactly `{"message":"Forbidden"}`. */
function isGatewayForbidden(res) {
  return res.statusCode === 403 && isExactMessage(res.data, 'Forbidden');
}

/** The wxauth error `{"error":{"code","message"}}` of a body, or null. */
function wxauthError(body) {
  var value = inspectable(body);
  var error = isPlainObject(value) && value.error;
  if (isPlainObject(error) && nonEmptyString(error.code)) return error;
  return null;
}

/** wxauth's own 401 SESSION_EXPIRED: the function found the session gone (it did nothing else). */
function isSessionExpired(res) {
  var error = wxauthError(res.data);
  return res.statusCode === 401 && !!error && error.code === ErrorCodes.SESSION_EXPIRED;
}

/**
 * The default answer to "is this session dead, so that logging in again and resending is right?": only
 * the answers that prove the request was not acted on. Everything else (a backend's own 401/403, a REST
 * API's explicit Deny, USER_BLOCKED...) is the caller's to see.
 */
function defaultIsSessionDead(res) {
  return isGatewayUnauthorized(res) || isGatewayForbidden(res) || isSessionExpired(res);
}

/** Seconds of a Retry-After header (delta-seconds or an HTTP date), or undefined. */
function retryAfterSeconds(headers, nowMs) {
  var value = headerValue(headers, 'Retry-After');
  if (typeof value === 'number' && value >= 0) return Math.floor(value);
  if (typeof value !== 'string') return undefined;
  value = value.replace(/^\s+|\s+$/g, '');
  if (/^\d+$/.test(value)) return parseInt(value, 10);
  var at = Date.parse(value);
  if (isNaN(at)) return undefined;
  return Math.max(0, Math.ceil((at - nowMs) / 1000));
}

function shortText(value) {
  var text;
  try {
    text = typeof value === 'string' ? value : JSON.stringify(value);
  } catch (e) {
    text = String(value);
  }
  if (text === undefined) return '';
  return text.length > 200 ? text.slice(0, 200) + '...' : text;
}

/**
 * Turns a non-2xx HTTP answer into a WxAuthError (null for 2xx). Always with status, data (the body as
 * received; for uploads parsed from JSON text) and headers.
 * - a wxauth error body `{"error":{"code","message"}}` -> that code (also a 403 USER_BLOCKED, a 429
 *   RATE_LIMITED, with `retryAfter`);
 * - the gateway's exact `{"message":"Unauthorized"}` (401) / `{"message":"Forbidden"}` (403) ->
 *   UNAUTHORIZED / FORBIDDEN;
 * - anything else (your own API's errors, a proxy's page) -> HTTP_ERROR.
 */
function errorFromResponse(res, nowMs) {
  var status = res.statusCode;
  if (status >= 200 && status < 300) return null;
  var extra = { status: status, data: res.data, headers: res.header || {} };
  var retryAfter = retryAfterSeconds(extra.headers, nowMs);
  if (retryAfter !== undefined) extra.retryAfter = retryAfter;
  var serverError = wxauthError(res.data);
  if (serverError) {
    return new WxAuthError(serverError.code, nonEmptyString(serverError.message) ? serverError.message
      : serverError.code, extra);
  }
  if (isGatewayUnauthorized(res)) return new WxAuthError(ClientErrorCodes.UNAUTHORIZED, 'Unauthorized', extra);
  if (isGatewayForbidden(res)) return new WxAuthError(ClientErrorCodes.FORBIDDEN, 'Forbidden', extra);
  var body = shortText(res.data);
  return new WxAuthError(ClientErrorCodes.HTTP_ERROR, 'HTTP ' + status + (body ? ': ' + body : ''), extra);
}

/** The client's code for a wx.request / wx.uploadFile `fail` (no HTTP answer). */
function transportFailureCode(failure) {
  var msg = describeFailure(failure);
  var errno = failure && typeof failure === 'object' ? failure.errno : undefined;
  if (errno === 600002 || /not in domain list|domain list/i.test(msg)) return ClientErrorCodes.DOMAIN_NOT_ALLOWED;
  if (/:fail abort|\babort(ed)?\b/i.test(msg)) return ClientErrorCodes.ABORTED;
  return ClientErrorCodes.NETWORK_ERROR;
}

/** A copy of `header` without the credential headers, then with ours. */
function withCredentialHeaders(header, credentials) {
  var out = {};
  if (header && typeof header === 'object') {
    Object.keys(header).forEach(function (name) {
      var lower = name.toLowerCase();
      if (lower === SKEY_HEADER.toLowerCase()) return;
      if (credentials.token && lower === 'authorization') return;
      out[name] = header[name];
    });
  }
  if (credentials.skey) out[SKEY_HEADER] = credentials.skey;
  if (credentials.token) out.Authorization = 'Bearer ' + credentials.token;
  return out;
}

/** Accepts either a button / API `detail` or the whole event (`e`, whose `detail` holds the data). */
function unwrapDetail(detailOrEvent) {
  if (detailOrEvent && typeof detailOrEvent === 'object' && detailOrEvent.detail &&
      typeof detailOrEvent.detail === 'object' && detailOrEvent.encryptedData === undefined &&
      detailOrEvent.code === undefined && detailOrEvent.avatarUrl === undefined) {
    return detailOrEvent.detail;
  }
  return detailOrEvent;
}

/**
 * Rejects details that carry no data because the user refused or WeChat failed: their errMsg does not end
 * with ":ok" ("getPhoneNumber:fail user deny", "getUserInfo:fail auth deny"...). errno 1400001 on the
 * phone button means the paid quota is used up: that is no refusal, and has its own code.
 */
function deniedError(detail, what) {
  if (!detail || typeof detail !== 'object') {
    return new WxAuthError(ClientErrorCodes.INVALID_ARGUMENT, what + ' needs the `detail` of the WeChat event');
  }
  if (detail.errno === 1400001 || detail.errno === '1400001' ||
      (typeof detail.errMsg === 'string' && /1400001/.test(detail.errMsg))) {
    return new WxAuthError(ClientErrorCodes.PHONE_QUOTA_EXHAUSTED, what + ': the phone-number quota of this ' +
      'mini program is used up (errno 1400001): buy more in the mini program admin console', { cause: detail });
  }
  if (typeof detail.errMsg === 'string' && !/:\s*ok$/.test(detail.errMsg)) {
    return new WxAuthError(ClientErrorCodes.USER_DENIED, what + ': WeChat gave no data (' + detail.errMsg + ')', {
      cause: detail
    });
  }
  return null;
}

/** wxauth's own routes that keep the skey in JWT mode (they change state: a dead session must fail at once). */
var SKEY_ROUTES = {
  'POST /logout': true,
  'PUT /profile': true,
  'POST /phone': true,
  'POST /avatar': true,
  'POST /userinfo': true,
  'POST /token': true
};

/**
 * Creates a client. One per mini program (create it in app.js): the client owns its storage key, and its
 * single-flight login only protects calls that go through the same client.
 *
 * @param {object} options
 * @param {string} options.baseUrl       API base, e.g. "https://abc.execute-api.ap-east-1.amazonaws.com"
 * @param {string} [options.storageKey]  storage key of the session, default "wxauth:skey"
 * @param {object} [options.wx]          the wx API object (or Taro, or uni), default the global `wx`
 * @param {string} [options.appid]       sent with POST /login; default wx.getAccountInfoSync's appId
 * @param {boolean} [options.autoLogin]  false: never log in by itself (only login() does). Default true
 * @param {string} [options.authMode]    'jwt' or 'skey'; default: JWT when POST /login answers a token
 * @param {function} [options.isSessionDead] (response, byDefault) -> boolean: log in again and resend?
 * @param {number} [options.timeout]     default timeout (ms) of wx.request / wx.uploadFile
 * @param {function(): number} [options.now] clock in ms, default Date.now (tests)
 * @param {function} [options.setTimeout] timer, default the global setTimeout (tests)
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
      'createClient: no wx API object (pass options.wx outside a mini program: wx, Taro or uni)');
  }
  if (options.appid !== undefined && !nonEmptyString(options.appid)) {
    throw new WxAuthError(ClientErrorCodes.INVALID_ARGUMENT, 'createClient: appid must be a non-empty string');
  }
  if (options.authMode !== undefined && options.authMode !== 'jwt' && options.authMode !== 'skey') {
    throw new WxAuthError(ClientErrorCodes.INVALID_ARGUMENT,
      'createClient: authMode must be "jwt" or "skey", got ' + JSON.stringify(options.authMode));
  }
  if (options.isSessionDead !== undefined && typeof options.isSessionDead !== 'function') {
    throw new WxAuthError(ClientErrorCodes.INVALID_ARGUMENT, 'createClient: isSessionDead must be a function');
  }
  var defaultTimeout = typeof options.timeout === 'number' ? options.timeout : undefined;
  var now = typeof options.now === 'function' ? options.now : function () { return Date.now(); };
  var schedule = typeof options.setTimeout === 'function' ? options.setTimeout : function (fn, ms) {
    return setTimeout(fn, ms); // the mini program's (and every JS host's) timer, called unbound on purpose
  };
  var authMode = options.authMode || 'auto';
  var autoLogin = options.autoLogin !== false;
  var customIsSessionDead = options.isSessionDead || null;

  // ---- session storage ---------------------------------------------------------------------------------
  // The session is {skey, expiresAt, uid, jwt}: expiresAt is epoch ms, or null when the server gave no
  // lifetime; jwt says the server works in JWT mode (the token itself is never stored). It lives in memory
  // and in wx storage (so it survives restarts). Memory is the source of truth once loaded: a failing
  // setStorageSync (storage full) must not log the user out of the running app. After logout() the storage
  // holds {loggedOut: true} instead, so that a restart stays logged out.
  var session = null;
  var sessionLoaded = false;
  var loggedOut = false;
  var token = null;          // {value, expiresAt, lifetimeMs}: the session JWT, memory only
  var inflightLogin = null;  // the one login in progress, shared by every caller
  var inflightToken = null;  // the one POST /token in progress
  var loginCount = 0;        // successful logins so far; lets user-data calls notice a login in between

  function readStorage() {
    try {
      return wxApi.getStorageSync(storageKey); // "" when the key does not exist
    } catch (e) {
      return null;
    }
  }

  function writeStorage(value) {
    try {
      wxApi.setStorageSync(storageKey, value);
    } catch (e) {
      // Storage full or unavailable: the state still holds for this run of the app.
    }
  }

  function loadSession() {
    if (sessionLoaded) return session;
    sessionLoaded = true;
    var stored = readStorage();
    session = null;
    if (nonEmptyString(stored)) {
      session = { skey: stored, expiresAt: null, uid: null, jwt: false }; // a bare skey (older versions, by hand)
    } else if (stored && typeof stored === 'object' && stored.loggedOut === true) {
      loggedOut = true;
    } else if (stored && typeof stored === 'object' && nonEmptyString(stored.skey)) {
      session = {
        skey: stored.skey,
        expiresAt: typeof stored.expiresAt === 'number' ? stored.expiresAt : null,
        uid: nonEmptyString(stored.uid) ? stored.uid : null,
        jwt: stored.jwt === true
      };
    }
    return session;
  }

  function saveSession(next) {
    loadSession();
    session = next;
    // A silent login that finishes after logout() keeps the logged-out mark in storage (logout revokes it).
    if (loggedOut) return;
    var record = { skey: next.skey, expiresAt: next.expiresAt };
    if (next.uid) record.uid = next.uid;
    if (next.jwt) record.jwt = true;
    writeStorage(record);
  }

  function clearSession() {
    loadSession();
    session = null;
    token = null;
    if (loggedOut) {
      writeStorage({ loggedOut: true });
      return;
    }
    try {
      wxApi.removeStorageSync(storageKey);
    } catch (e) {
      // Nothing more to do: memory is cleared.
    }
  }

  function markLoggedOut() {
    loadSession();
    loggedOut = true;
    token = null;
    writeStorage({ loggedOut: true });
  }

  function clearLoggedOut() {
    loadSession();
    if (!loggedOut) return;
    loggedOut = false;
    if (session) {
      saveSession(session);
      return;
    }
    try {
      wxApi.removeStorageSync(storageKey);
    } catch (e) {
      // The mark stays in storage; memory says logged in.
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
    var out = { skey: s.skey, expiresAt: s.expiresAt };
    if (s.uid) out.uid = s.uid;
    return out;
  }

  function notLoggedIn(why, cause, res) {
    var extra = { cause: cause };
    if (res) {
      extra.status = res.statusCode;
      extra.data = res.data;
      extra.headers = res.header;
    }
    return new WxAuthError(ClientErrorCodes.NOT_LOGGED_IN, why, extra);
  }

  /** Whether the client may log in without being asked to (login() was not refused by logout()). */
  function silentLoginRefusal() {
    loadSession();
    if (loggedOut) return 'logged out: call login() first (logout() turned silent login off)';
    if (!autoLogin) return 'not logged in: call login() first (autoLogin is off)';
    return null;
  }

  function usesJwt() {
    if (authMode === 'jwt') return true;
    if (authMode === 'skey') return false;
    var s = loadSession();
    return !!(s && s.jwt);
  }

  // ---- calling wx (or Taro, or uni) -------------------------------------------------------------------

  /**
   * Calls `wxApi[name](options)` with callbacks and returns what it returned (a task for wx and uni, a
   * promise with abort() for Taro). Taro and uni-app also return promises; with callbacks given Taro still
   * does and rejects it on failure, so that rejection is swallowed here: the callbacks carry the result.
   */
  function callWx(name, wxOptions) {
    var returned = wxApi[name](wxOptions);
    if (returned && typeof returned.then === 'function') {
      try {
        returned.then(null, noop);
      } catch (e) {
        // A thenable that is no real promise: nothing to swallow.
      }
    }
    return returned;
  }

  /** The normalised HTTP answer of wx / Taro / uni ({statusCode, data, header}; some hosts say status/headers). */
  function normaliseAnswer(kind, res) {
    res = res || {};
    var out = {
      statusCode: typeof res.statusCode === 'number' ? res.statusCode : Number(res.status) || 0,
      data: kind === 'uploadFile' ? parseJsonText(res.data) : res.data,
      header: res.header || res.headers || {}
    };
    if (res.cookies !== undefined) out.cookies = res.cookies;
    return out;
  }

  // ---- transport ---------------------------------------------------------------------------------------

  /** Absolute URL for `url`. Credentials must never leave for another host, so absolute URLs must be ours. */
  function resolveUrl(url, allowForeign) {
    if (!nonEmptyString(url)) {
      throw new WxAuthError(ClientErrorCodes.INVALID_ARGUMENT, 'url must be a non-empty string');
    }
    if (/^[a-z][a-z0-9+.-]*:/i.test(url)) {
      var ours = url === baseUrl || url.indexOf(baseUrl + '/') === 0 || url.indexOf(baseUrl + '?') === 0;
      if (ours || allowForeign) return url;
      throw new WxAuthError(ClientErrorCodes.INVALID_ARGUMENT,
        'refusing to send credentials to ' + url + ': authenticated URLs must be under ' + baseUrl +
        ' (use a path, or auth: false)');
    }
    return baseUrl + (url.charAt(0) === '/' ? url : '/' + url);
  }

  /** "METHOD /path" of a call, relative to baseUrl, without the query. */
  function routeOf(kind, callerOptions) {
    var method = kind === 'uploadFile' ? 'POST' : String(callerOptions.method || 'GET').toUpperCase();
    var url = resolveUrl(callerOptions.url, true);
    var path = url.indexOf(baseUrl) === 0 ? url.slice(baseUrl.length) : url;
    path = path.split('?')[0].split('#')[0] || '/';
    return method + ' ' + path;
  }

  var OWN_OPTIONS = {
    auth: true, fullResponse: true, onTask: true, onProgressUpdate: true,
    success: true, fail: true, complete: true
  };

  /**
   * Calls wx.request (`kind` "request") or wx.uploadFile ("uploadFile") once, with the credentials in the
   * header. Resolves with the HTTP answer {statusCode, data, header} whatever its status; rejects
   * NETWORK_ERROR / DOMAIN_NOT_ALLOWED / ABORTED when there is no answer. Our own option keys are not passed
   * to wx; `onTask` gets every task (a re-login means two sends).
   */
  function send(kind, callerOptions, credentials) {
    return new Promise(function (resolve, reject) {
      var wxOptions = {};
      Object.keys(callerOptions).forEach(function (key) {
        if (!OWN_OPTIONS[key]) wxOptions[key] = callerOptions[key];
      });
      wxOptions.url = resolveUrl(callerOptions.url, callerOptions.auth === false);
      wxOptions.header = withCredentialHeaders(callerOptions.header, credentials);
      if (wxOptions.timeout === undefined && defaultTimeout !== undefined) wxOptions.timeout = defaultTimeout;
      if (wxOptions.data === undefined) delete wxOptions.data;
      wxOptions.success = function (res) {
        resolve(normaliseAnswer(kind, res));
      };
      wxOptions.fail = function (failure) {
        reject(new WxAuthError(transportFailureCode(failure),
          'wx.' + kind + ' ' + wxOptions.url + ' failed: ' + describeFailure(failure), { cause: failure }));
      };
      var task = callWx(kind, wxOptions);
      if (task && typeof callerOptions.onProgressUpdate === 'function') {
        if (typeof task.onProgressUpdate === 'function') task.onProgressUpdate(callerOptions.onProgressUpdate);
        else if (typeof task.progress === 'function') task.progress(callerOptions.onProgressUpdate); // Taro
      }
      if (typeof callerOptions.onTask === 'function') {
        try {
          callerOptions.onTask(task);
        } catch (e) {
          reject(new WxAuthError(ClientErrorCodes.INVALID_ARGUMENT, 'onTask threw: ' + describeFailure(e), { cause: e }));
        }
      }
    }).then(null, function (err) {
      // Something thrown synchronously by wx (or by resolveUrl, or onTask) lands here too.
      if (err instanceof WxAuthError) throw err;
      throw new WxAuthError(ClientErrorCodes.NETWORK_ERROR, 'wx.' + kind + ' failed: ' + describeFailure(err), {
        cause: err
      });
    });
  }

  /** The answer as the caller asked for it: the body of a 2xx, or {statusCode, data, header} (fullResponse). */
  function finish(res, callerOptions) {
    var err = errorFromResponse(res, now());
    if (err) throw err;
    return callerOptions && callerOptions.fullResponse ? res : res.data;
  }

  /** Whether an answer means "the session (or token) is dead: log in again and resend". */
  function sessionDead(res) {
    var byDefault = defaultIsSessionDead(res);
    if (!customIsSessionDead) return byDefault;
    return !!customIsSessionDead({ statusCode: res.statusCode, data: res.data, header: res.header }, byDefault);
  }

  // ---- login -------------------------------------------------------------------------------------------

  function wxLogin() {
    return new Promise(function (resolve, reject) {
      callWx('login', {
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

  var appidKnown = false;
  var appid = null;

  /** The appid sent with POST /login: the option, else wx.getAccountInfoSync().miniProgram.appId, else none. */
  function appidForLogin() {
    if (!appidKnown) {
      appidKnown = true;
      if (nonEmptyString(options.appid)) {
        appid = options.appid;
      } else if (typeof wxApi.getAccountInfoSync === 'function') {
        try {
          var info = wxApi.getAccountInfoSync();
          var id = info && info.miniProgram && info.miniProgram.appId;
          if (nonEmptyString(id)) appid = id;
        } catch (e) {
          appid = null;
        }
      }
    }
    return appid;
  }

  function delay(ms) {
    return new Promise(function (resolve) { schedule(resolve, ms); });
  }

  function tokenMargin(lifetimeMs) {
    return Math.min(Math.max(TOKEN_RENEW_EARLY_MS, lifetimeMs / 10), lifetimeMs / 2);
  }

  /** Keeps a session JWT from an answer ({token, token_expires_in}); false when it has none. */
  function takeToken(body) {
    if (!body || !nonEmptyString(body.token)) return false;
    var seconds = typeof body.token_expires_in === 'number' && body.token_expires_in > 0 ? body.token_expires_in : 0;
    var lifetimeMs = seconds * 1000;
    token = { value: body.token, expiresAt: seconds ? now() + lifetimeMs : null, lifetimeMs: lifetimeMs };
    return true;
  }

  /**
   * One full login: a fresh wx.login code exchanged at POST /login. A code is single-use, so a failed
   * exchange is never resent; only WECHAT_BUSY (WeChat's -1: it did not look at the code) is tried once more,
   * with a NEW code, after about half a second. RATE_LIMITED is never retried.
   */
  function performLogin(attempt) {
    return wxLogin().then(function (code) {
      var body = { code: code };
      var id = appidForLogin();
      if (id) body.appid = id;
      return send('request', { url: '/login', method: 'POST', data: body }, {});
    }).then(function (res) {
      var err = errorFromResponse(res, now());
      if (err && err.code === ErrorCodes.WECHAT_BUSY && attempt === 0) {
        return delay(BUSY_RETRY_DELAY_MS).then(function () { return performLogin(1); });
      }
      if (err) throw err;
      var body = res.data;
      if (!body || typeof body !== 'object' || !nonEmptyString(body.skey)) {
        throw new WxAuthError(ClientErrorCodes.BAD_RESPONSE, 'POST /login answered without an skey', {
          status: res.statusCode, data: body, headers: res.header
        });
      }
      var expiresIn = body.expires_in;
      var gotToken = authMode !== 'skey' && takeToken(body);
      if (!gotToken) token = null;
      // `token: null`: a JWT-mode server that could not sign one now; POST /token gets it later.
      var jwtServer = gotToken || (authMode !== 'skey' && body.token === null);
      var fresh = {
        skey: body.skey,
        expiresAt: typeof expiresIn === 'number' && expiresIn > 0 ? now() + expiresIn * 1000 : null,
        uid: nonEmptyString(body.uid) ? body.uid : null,
        jwt: authMode === 'jwt' || jwtServer
      };
      saveSession(fresh);
      loginCount += 1;
      return fresh;
    });
  }

  function startLogin() {
    if (!inflightLogin) {
      inflightLogin = performLogin(0).then(function (fresh) {
        inflightLogin = null;
        return publicSession(fresh);
      }, function (err) {
        inflightLogin = null; // a failed login must not poison later attempts
        throw err;
      });
    }
    return inflightLogin;
  }

  /**
   * Logs in (always a new wx.login + POST /login) and ends the logged-out state of logout(). Single-flight:
   * while one login runs, every other caller gets the same promise.
   */
  function login() {
    clearLoggedOut();
    return startLogin();
  }

  /** A login the client starts on its own (cold start, renewal): refused after logout() or without autoLogin. */
  function silentLogin(cause, res) {
    var refusal = silentLoginRefusal();
    if (refusal) return Promise.reject(notLoggedIn(refusal, cause, res));
    return startLogin();
  }

  /** The current session, logging in only when there is none (or it expired). */
  function ensureLogin() {
    loadSession();
    if (loggedOut) return Promise.reject(notLoggedIn(silentLoginRefusal()));
    if (inflightLogin) return inflightLogin;
    var s = currentSession();
    return s ? Promise.resolve(publicSession(s)) : silentLogin();
  }

  /**
   * A request sent with `staleSkey` was refused as a dead session. Renew the session once for everyone:
   * - a login is already running -> share it;
   * - the current skey is already another one -> someone renewed meanwhile, use it;
   * - otherwise drop the dead skey and log in (unless logout() or autoLogin: false forbid it).
   */
  function renewSession(staleSkey, cause, res) {
    loadSession();
    if (loggedOut) return Promise.reject(notLoggedIn(silentLoginRefusal(), cause, res));
    if (inflightLogin) return inflightLogin;
    var s = currentSession();
    if (s && s.skey !== staleSkey) return Promise.resolve(publicSession(s));
    if (s) clearSession();
    return silentLogin(cause, res);
  }

  // ---- the session JWT (JWT mode) ---------------------------------------------------------------------

  function tokenFresh() {
    if (!token) return false;
    if (token.expiresAt === null) return true;
    return now() < token.expiresAt - tokenMargin(token.lifetimeMs);
  }

  /**
   * POST /token with the skey -> a fresh session JWT. When the skey itself is dead (401 SESSION_EXPIRED,
   * the gateway's 401/403), falls back to one full login, which answers a token too (or is followed by one
   * more POST /token). Single-flight.
   */
  function renewToken() {
    if (!inflightToken) {
      inflightToken = ensureLogin().then(function (s) {
        if (tokenFresh()) return token.value; // the login we waited for brought one
        return fetchToken(s.skey, true);
      }).then(function (value) {
        inflightToken = null;
        return value;
      }, function (err) {
        inflightToken = null;
        throw err;
      });
    }
    return inflightToken;
  }

  function fetchToken(skey, mayLogIn) {
    return send('request', { url: '/token', method: 'POST' }, { skey: skey }).then(function (res) {
      if (res.statusCode >= 200 && res.statusCode < 300) {
        if (!takeToken(res.data)) {
          throw new WxAuthError(ClientErrorCodes.BAD_RESPONSE, 'POST /token answered without a token', {
            status: res.statusCode, data: res.data, headers: res.header
          });
        }
        return token.value;
      }
      var err = errorFromResponse(res, now());
      if (!mayLogIn || !sessionDead(res)) throw err;
      return renewSession(skey, err, res).then(function (fresh) {
        if (tokenFresh()) return token.value;
        return fetchToken(fresh.skey, false);
      });
    });
  }

  /** A usable session JWT: the current one, or a renewed one when it is missing or close to its expiry. */
  function ensureToken() {
    if (inflightToken) return inflightToken;
    return ensureLogin().then(function () {
      return tokenFresh() ? token.value : renewToken();
    });
  }

  /** After a gateway 401 on a Bearer request: renew unless someone already did since `staleToken`. */
  function renewTokenAfter(staleToken) {
    if (inflightToken) return inflightToken;
    if (token && token.value !== staleToken && tokenFresh()) return Promise.resolve(token.value);
    token = null;
    return renewToken();
  }

  // ---- authenticated calls -----------------------------------------------------------------------------

  function checkCallOptions(kind, callerOptions) {
    if (!callerOptions || typeof callerOptions !== 'object') {
      return new WxAuthError(ClientErrorCodes.INVALID_ARGUMENT, kind + ' needs an options object');
    }
    var callbacks = ['success', 'fail', 'complete'].filter(function (key) {
      return callerOptions[key] !== undefined;
    });
    if (callbacks.length) {
      return new WxAuthError(ClientErrorCodes.INVALID_ARGUMENT, kind + ' returns a promise and takes no ' +
        callbacks.join('/') + ' callback: use .then() / .catch() / .finally() (or await)');
    }
    var auth = callerOptions.auth;
    if (auth !== undefined && auth !== true && auth !== false && auth !== 'skey' && auth !== 'jwt') {
      return new WxAuthError(ClientErrorCodes.INVALID_ARGUMENT, kind + ': auth must be true, false, "skey" or "jwt"');
    }
    try {
      resolveUrl(callerOptions.url, auth === false); // fail fast, before logging in for a call that cannot go out
    } catch (err) {
      return err;
    }
    return null;
  }

  /** Which credential a call carries: the skey, or (JWT mode, not one of wxauth's skey routes) the JWT. */
  function credentialKind(kind, callerOptions) {
    if (callerOptions.auth === 'skey') return 'skey';
    if (callerOptions.auth === 'jwt') return 'jwt';
    if (!usesJwt()) return 'skey';
    return SKEY_ROUTES[routeOf(kind, callerOptions)] ? 'skey' : 'jwt';
  }

  /**
   * An authenticated wx.request / wx.uploadFile: waits for a session (and, in JWT mode, a session JWT),
   * sends it, and on an answer that proves the session dead renews ONCE and resends ONCE. Any other answer
   * goes to the caller as it is (typed error with status, data and headers). No loops.
   */
  function authenticated(kind, callerOptions) {
    var invalid = checkCallOptions(kind, callerOptions);
    if (invalid) return Promise.reject(invalid);
    if (callerOptions.auth === false) {
      return send(kind, callerOptions, {}).then(function (res) { return finish(res, callerOptions); });
    }
    function attempt(retried) {
      var jwt = false;
      // The credential is chosen once the session is there: only the login tells whether it is JWT mode.
      var credentials = ensureLogin().then(function (s) {
        jwt = credentialKind(kind, callerOptions) === 'jwt';
        if (!jwt) return { skey: s.skey };
        return ensureToken().then(function (value) { return { token: value }; });
      });
      return credentials.then(function (sent) {
        return send(kind, callerOptions, sent).then(function (res) {
          if (res.statusCode >= 200 && res.statusCode < 300) return finish(res, callerOptions);
          if (retried || !sessionDead(res)) return finish(res, callerOptions);
          var err = errorFromResponse(res, now());
          var renewed;
          if (jwt && !isSessionExpired(res)) {
            loadSession();
            renewed = loggedOut ? Promise.reject(notLoggedIn(silentLoginRefusal(), err, res)) : renewTokenAfter(sent.token);
          } else {
            var s = loadSession();
            renewed = renewSession(sent.skey || (s && s.skey), err, res);
          }
          return renewed.then(function () { return attempt(true); });
        });
      });
    }
    return attempt(false);
  }

  // ---- encrypted user data -----------------------------------------------------------------------------

  function checkWxSession() {
    return new Promise(function (resolve) {
      if (typeof wxApi.checkSession !== 'function') {
        resolve(null);
        return;
      }
      try {
        callWx('checkSession', {
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
   *   re-login of a dead session): the new login replaced the key the data was made with, so STALE_DATA too.
   * Each path logs in at most once and never resends the data after that: the caller must fetch new data.
   */
  function userDataCall(url, body, usesSessionKey) {
    var loginsAtStart = loginCount;
    var checked = usesSessionKey ? checkWxSession() : Promise.resolve(null);
    return checked.then(function (checkFailure) {
      if (checkFailure) {
        return silentLogin(checkFailure).then(function () {
          throw staleDataError('wx.checkSession failed (' + describeFailure(checkFailure) +
            '): the data was made with an expired session_key', checkFailure);
        });
      }
      return authenticated('request', { url: url, method: 'POST', data: body }).then(null, function (err) {
        if (!(err instanceof WxAuthError)) throw err;
        if (err.code === ErrorCodes.SESSION_KEY_EXPIRED) {
          return silentLogin(err).then(function () {
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
   * The phone number from `<button open-type="getPhoneNumber">`. Each successful tap is PAID (¥0.03 since
   * 2023-08-28): check knownPhone() before showing the button. The modern `detail.code` is exchanged by the
   * server with an access_token and does not involve the session_key, so it skips wx.checkSession (a failed
   * check would throw away a valid, paid, single-use code); the old encryptedData/iv form gets the full
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

  /**
   * The phone number the server already has for this user (GET /me's `phone`), or null. Asking WeChat
   * again costs money: show the getPhoneNumber button only when this resolves null.
   */
  function knownPhone() {
    return me().then(function (answer) {
      return answer && answer.phone ? answer.phone : null;
    });
  }

  // ---- the rest of the API -----------------------------------------------------------------------------

  function updateProfile(profile) {
    if (!profile || typeof profile !== 'object' || (profile.nickName === undefined && profile.avatarUrl === undefined)) {
      return Promise.reject(new WxAuthError(ClientErrorCodes.INVALID_ARGUMENT,
        'updateProfile needs {nickName} and/or {avatarUrl}'));
    }
    var data = {};
    if (profile.nickName !== undefined) data.nickName = profile.nickName;
    if (profile.avatarUrl !== undefined) data.avatarUrl = profile.avatarUrl;
    return authenticated('request', { url: '/profile', method: 'PUT', data: data });
  }

  /**
   * Uploads the avatar that `<button open-type="chooseAvatar">` gave (a temporary local file) to POST /avatar
   * (multipart, the file in the part `file`), with the skey and the renewal of every call. Resolves with
   * the profile, whose avatarUrl is now an https URL the server serves. Accepts the path, the event or its
   * detail.
   */
  function updateAvatar(tempFilePath, uploadOptions) {
    var detail = unwrapDetail(tempFilePath);
    var filePath = detail && typeof detail === 'object' ? detail.avatarUrl : detail;
    if (!nonEmptyString(filePath)) {
      return Promise.reject(new WxAuthError(ClientErrorCodes.INVALID_ARGUMENT,
        'updateAvatar needs the temporary file path of chooseAvatar (e.detail.avatarUrl)'));
    }
    var call = { url: '/avatar', filePath: filePath, name: 'file' };
    if (uploadOptions && typeof uploadOptions === 'object') {
      if (typeof uploadOptions.onProgressUpdate === 'function') call.onProgressUpdate = uploadOptions.onProgressUpdate;
      if (typeof uploadOptions.onTask === 'function') call.onTask = uploadOptions.onTask;
      if (typeof uploadOptions.timeout === 'number') call.timeout = uploadOptions.timeout;
    }
    return authenticated('uploadFile', call).then(function (body) {
      if (!body || typeof body !== 'object' || !body.user || typeof body.user !== 'object') {
        throw new WxAuthError(ClientErrorCodes.BAD_RESPONSE, 'POST /avatar answered without {user}', { data: body });
      }
      return body.user;
    });
  }

  function me() {
    return authenticated('request', { url: '/me', method: 'GET' });
  }

  /**
   * Ends the session: POST /logout with the skey (`all`: every session of this user in this app;
   * `account`: every session of the account in every app). From the moment it is called the client is
   * logged out: the state is kept in storage (a restart stays logged out), requests reject NOT_LOGGED_IN,
   * and nothing logs in silently until login() (or setAutoLogin(true)). A session the server already forgot
   * counts as logged out ({revoked: 0}). Never logs in just to log out.
   */
  function logout(scope) {
    var all = scope === true || !!(scope && typeof scope === 'object' && scope.all);
    var account = !!(scope && typeof scope === 'object' && scope.account);
    markLoggedOut();
    var pending = inflightLogin ? inflightLogin.then(null, noop) : Promise.resolve();
    return pending.then(function () {
      var s = currentSession();
      clearSession();
      if (!s) return { revoked: 0 };
      var call = { url: '/logout', method: 'POST' };
      if (account) call.data = { account: true };
      else if (all) call.data = { all: true };
      return send('request', call, { skey: s.skey }).then(function (res) {
        if (res.statusCode >= 200 && res.statusCode < 300) return res.data;
        if (sessionDead(res)) return { revoked: 0 };
        return finish(res);
      });
    });
  }

  /** The current skey (for your own transports, e.g. a WebSocket), or null when not logged in. */
  function getSkey() {
    var s = currentSession();
    return s && !loggedOut ? s.skey : null;
  }

  /** The current session JWT (JWT mode, memory only), or null when there is none or it expired. */
  function getToken() {
    if (!token || loggedOut) return null;
    if (token.expiresAt !== null && now() >= token.expiresAt) return null;
    return token.value;
  }

  /** Whether logout() was called and login() not since (the state survives restarts). */
  function isLoggedOut() {
    loadSession();
    return loggedOut;
  }

  /** Turns silent login on or off; turning it on also ends the logged-out state of logout(). */
  function setAutoLogin(enabled) {
    autoLogin = !!enabled;
    if (autoLogin) clearLoggedOut();
  }

  return {
    baseUrl: baseUrl,
    storageKey: storageKey,
    login: login,
    ensureLogin: ensureLogin,
    getSkey: getSkey,
    getToken: getToken,
    isLoggedOut: isLoggedOut,
    setAutoLogin: setAutoLogin,
    request: function (requestOptions) { return authenticated('request', requestOptions); },
    uploadFile: function (uploadOptions) { return authenticated('uploadFile', uploadOptions); },
    getUserInfo: getUserInfo,
    getPhoneNumber: getPhoneNumber,
    knownPhone: knownPhone,
    updateProfile: updateProfile,
    updateAvatar: updateAvatar,
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
