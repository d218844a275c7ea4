'use strict';
/**
 * A small wxauth server for the unit tests: real HTTP on 127.0.0.1 (random port) following
 * docs/contract.md, including the gateway's answers and the simulator's dev routes, with WeChat's real
 * user-data crypto (sha1 signature, AES-128-CBC with the session_key). The e2e test can run against it too
 * (test/unit/e2e-harness.test.js does), which keeps that test honest while the real local server is built.
 *
 * What the server issues being built add (issues 12, 13, 15, 16), as their contracts say:
 * - `POST /login {code, appid}`: `appid` checked against `options.appids` when given (else ignored, as the
 *   single-app server does) -> 400 UNKNOWN_APP; `uid` in the answer with `options.accounts`;
 * - `POST /avatar` (skey): multipart, the file in the part `file`, PNG/JPEG/WebP by their bytes, else
 *   400 INVALID_AVATAR; over 1 MiB 413 PAYLOAD_TOO_LARGE; answers {user} with an avatarUrl this server
 *   serves at GET /avatars/<uid>/<sha256>.<ext>, as wxauth does (one avatar per account: a replaced one's
 *   URL is 404; served with nosniff and a year of immutable caching); `PUT /profile` takes nickName
 *   and/or avatarUrl;
 * - 429 RATE_LIMITED with `Retry-After`;
 * - JWT mode (`options.jwt`): POST /login also answers {token, token_expires_in}; POST /token (public,
 *   X-WX-Skey checked by the function: 401 SESSION_EXPIRED) answers a fresh token; GET /me and the app's
 *   own routes want `Authorization: Bearer` (the JWT authorizer: 401 {"message":"Unauthorized"}); wxauth's
 *   state-changing routes keep the skey.
 *
 * Beyond the contract, for tests:
 * - `?delay=MS` on any route waits before answering (to make requests overlap on purpose);
 * - the app's own routes behind the same authorizer: GET /orders, DELETE /orders/:id (its own business 403
 *   `{"code":40301,"msg":"not your order"}` for any id but 1), POST /files (an upload answering {url, size});
 * - knobs: revoke(), expireInFunction(), expireSessionKey(), expireTokens(), failNext(), loginDelayMs,
 *   rotateSessionKey.
 */
const http = require('node:http');
const net = require('node:net');
const crypto = require('node:crypto');

const APPID = 'wxfakeappid00000';
const MAX_BODY = 64 * 1024;
const MAX_UPLOAD = 1024 * 1024;
const MAX_AVATAR = 1024 * 1024;
const MAX_AVATAR_BODY = MAX_AVATAR + 64 * 1024;

/**
 * The image format of `bytes` by its signature, or null: PNG, JPEG, WebP. (wxauth itself walks the whole
 * structure, and refuses a signature in front of anything else; the client does not depend on that.)
 */
function imageFormat(bytes) {
  if (bytes.length >= 8 && bytes.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) {
    return { ext: 'png', type: 'image/png' };
  }
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return { ext: 'jpg', type: 'image/jpeg' };
  if (bytes.length >= 12 && bytes.toString('latin1', 0, 4) === 'RIFF' && bytes.toString('latin1', 8, 12) === 'WEBP') {
    return { ext: 'webp', type: 'image/webp' };
  }
  return null;
}

function b64url(buf) {
  return buf.toString('base64').replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function sha1Hex(text) {
  return crypto.createHash('sha1').update(text, 'utf8').digest('hex');
}

function encrypt(obj, sessionKey) {
  const iv = crypto.randomBytes(16);
  const cipher = crypto.createCipheriv('aes-128-cbc', Buffer.from(sessionKey, 'base64'), iv);
  const encrypted = Buffer.concat([cipher.update(JSON.stringify(obj), 'utf8'), cipher.final()]);
  return { encryptedData: encrypted.toString('base64'), iv: iv.toString('base64') };
}

/** Decrypts WeChat user data; null on any failure (wrong key, padding, JSON, watermark). */
function decrypt(encryptedData, ivB64, sessionKey) {
  try {
    const decipher = crypto.createDecipheriv('aes-128-cbc', Buffer.from(sessionKey, 'base64'),
      Buffer.from(ivB64, 'base64'));
    const plain = Buffer.concat([decipher.update(Buffer.from(encryptedData, 'base64')), decipher.final()]);
    const obj = JSON.parse(plain.toString('utf8'));
    if (!obj || !obj.watermark || obj.watermark.appid !== APPID) return null;
    return obj;
  } catch (e) {
    return null;
  }
}

class ApiError extends Error {
  constructor(status, code, message, headers) {
    super(message || code);
    this.status = status;
    this.code = code;
    this.headers = headers || {};
  }
}

/** Minimal multipart/form-data parser: {fields: {name: value}, files: [{name, filename, content}]}. */
function parseMultipart(buffer, contentType) {
  const m = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(contentType || '');
  if (!m) throw new ApiError(400, 'BAD_REQUEST', 'multipart body without boundary');
  const boundary = '--' + (m[1] || m[2]);
  const text = buffer.toString('latin1');
  const fields = {};
  const files = [];
  for (const raw of text.split(boundary).slice(1)) {
    if (raw.startsWith('--')) break;
    const headerEnd = raw.indexOf('\r\n\r\n');
    if (headerEnd < 0) continue;
    const headers = raw.slice(0, headerEnd);
    const content = Buffer.from(raw.slice(headerEnd + 4, raw.length - 2), 'latin1');
    const name = /name="([^"]*)"/.exec(headers);
    const filename = /filename="([^"]*)"/.exec(headers);
    if (!name) continue;
    if (filename) files.push({ name: name[1], filename: filename[1], content });
    else fields[name[1]] = content.toString('utf8');
  }
  return { fields, files };
}

function startFakeServer(options = {}) {
  const state = {
    expiresIn: options.expiresIn || 604800,
    /** ms to wait inside POST /login: widens the window in which concurrent callers could double-login. */
    loginDelayMs: options.loginDelayMs || 0,
    /** Whether each login gives the user a new session_key (WeChat may do so on any wx.login). */
    rotateSessionKey: options.rotateSessionKey !== false,
    /** JWT mode (issue 16): login answers a session JWT, GET /me and the app's routes want it. */
    jwt: options.jwt === true,
    tokenTtl: options.tokenTtl || 600,
    /** The session JWT signer (KMS) is down: login answers `token: null`, POST /token 503 SIGNING_UNAVAILABLE. */
    signingDown: false,
    /** Multi-app (issue 12): the appids served; null = single app, `appid` ignored. */
    appids: options.appids || null,
    accounts: options.accounts === true,
    tokens: new Map(), // token -> {skey, openid, expiresAt}
    avatars: new Map(), // uid -> {file, content, type}
    codes: new Map(), // code -> user name (fresh codes from /dev/code)
    usedCodes: new Set(),
    phoneCodes: new Map(), // code -> phone number
    users: new Map(), // openid -> {openid, sessionKey, sessionKeyExpired, profile, phone}
    sessions: new Map(), // skey -> {openid, expiresAt, revoked, expireInFunction}
    scripted: [], // canned answers: {method, path, status, body, times}
    log: [], // {method, path, skey, body}
    uploads: []
  };

  function openidOf(user) {
    return 'o' + b64url(crypto.createHash('sha256').update('user:' + user).digest()).slice(0, 27);
  }

  function mintCode(user = 'dev') {
    const code = 'code-' + crypto.randomBytes(12).toString('hex');
    state.codes.set(code, user);
    return code;
  }

  function send(res, status, body, headers = {}) {
    const text = JSON.stringify(body);
    res.writeHead(status, Object.assign({ 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) }, headers));
    res.end(text);
  }

  function uidOf(openid) {
    return 'u' + b64url(crypto.createHash('sha256').update('uid:' + openid).digest()).slice(0, 21);
  }

  function issueToken(skey) {
    if (state.signingDown) return { token: null };
    const session = state.sessions.get(skey);
    const value = 'jwt.' + b64url(crypto.randomBytes(24)) + '.sig';
    state.tokens.set(value, { skey, openid: session.openid, expiresAt: Date.now() + state.tokenTtl * 1000 });
    return { token: value, token_expires_in: state.tokenTtl };
  }

  function liveSession(skey) {
    const session = skey ? state.sessions.get(skey) : null;
    if (!session || session.revoked || session.expiresAt <= Date.now()) return null;
    return session;
  }

  function readBody(req, limit) {
    return new Promise((resolve, reject) => {
      const chunks = [];
      let size = 0;
      let tooLarge = false;
      req.on('data', (c) => {
        size += c.length;
        if (size > limit) tooLarge = true;
        else chunks.push(c);
      });
      req.on('end', () => (tooLarge
        ? reject(new ApiError(413, 'PAYLOAD_TOO_LARGE', 'body over the limit'))
        : resolve(Buffer.concat(chunks))));
      req.on('error', reject);
    });
  }

  function jsonBody(buffer, { optional = false } = {}) {
    const text = buffer.toString('utf8');
    if (text.trim() === '') {
      if (optional) return {};
      throw new ApiError(400, 'BAD_REQUEST', 'empty body');
    }
    let value;
    try {
      value = JSON.parse(text);
    } catch (e) {
      throw new ApiError(400, 'BAD_REQUEST', 'malformed JSON');
    }
    if (!value || typeof value !== 'object' || Array.isArray(value)) {
      throw new ApiError(400, 'BAD_REQUEST', 'body must be a JSON object');
    }
    return value;
  }

  function requireString(body, field) {
    if (typeof body[field] !== 'string' || body[field] === '') {
      throw new ApiError(400, 'BAD_REQUEST', field + ' must be a non-empty string');
    }
    return body[field];
  }

  /** The gateway + authorizer: 401 without header, 403 for unknown / expired / revoked skeys. */
  function gateway(req) {
    const skey = req.headers['x-wx-skey'];
    if (!skey) return { answer: [401, { message: 'Unauthorized' }] };
    const session = liveSession(skey);
    if (!session) return { answer: [403, { message: 'Forbidden' }] };
    return { session, user: state.users.get(session.openid) };
  }

  /** API Gateway's JWT authorizer: 401 {"message":"Unauthorized"} for a missing, unknown or expired token. */
  function jwtGateway(req) {
    const m = /^Bearer (\S+)$/.exec(req.headers.authorization || '');
    const claims = m ? state.tokens.get(m[1]) : null;
    if (!claims || claims.expiresAt <= Date.now()) return { answer: [401, { message: 'Unauthorized' }] };
    // A token outlives its session (issue 16: documented bound): the claims are all the backend gets.
    return { session: state.sessions.get(claims.skey), user: state.users.get(claims.openid), token: m[1] };
  }

  const routes = {
    'POST /login': async (ctx) => {
      const body = jsonBody(ctx.body);
      const code = requireString(body, 'code');
      if (body.appid !== undefined) requireString(body, 'appid');
      if (state.appids && body.appid !== undefined && !state.appids.includes(body.appid)) {
        throw new ApiError(400, 'UNKNOWN_APP', 'this deployment does not serve ' + body.appid);
      }
      if (state.loginDelayMs) await new Promise((r) => setTimeout(r, state.loginDelayMs));
      if (code === 'invalid-code') throw new ApiError(400, 'INVALID_CODE', 'invalid code (40029)');
      if (code === 'blocked-user') throw new ApiError(403, 'USER_BLOCKED', 'high risk user (40226)');
      if (code === 'rate-limited') throw new ApiError(429, 'RATE_LIMITED', 'too many logins (45011)', { 'Retry-After': '30' });
      if (code === 'system-busy') throw new ApiError(503, 'WECHAT_BUSY', 'system busy (-1)');
      if (state.usedCodes.has(code)) throw new ApiError(400, 'CODE_USED', 'code been used (40163)');
      if (!state.codes.has(code)) throw new ApiError(400, 'INVALID_CODE', 'invalid code (40029)');
      state.usedCodes.add(code);
      const openid = openidOf(state.codes.get(code));
      let user = state.users.get(openid);
      if (!user) {
        user = { openid, sessionKey: null, sessionKeyExpired: false, profile: null, phone: null };
        state.users.set(openid, user);
      }
      if (!user.sessionKey || state.rotateSessionKey || user.sessionKeyExpired) {
        user.sessionKey = crypto.randomBytes(16).toString('base64');
      }
      user.sessionKeyExpired = false;
      const skey = b64url(crypto.randomBytes(32));
      state.sessions.set(skey, {
        openid, expiresAt: Date.now() + state.expiresIn * 1000, revoked: false, expireInFunction: false,
        appid: body.appid || null
      });
      const answer = { skey, expires_in: state.expiresIn };
      if (state.accounts) answer.uid = uidOf(openid);
      if (state.jwt) Object.assign(answer, issueToken(skey));
      return [200, answer];
    },

    // Public route (issue 16): the function checks the skey itself, with one read.
    'POST /token': (ctx) => {
      if (!state.jwt) throw new ApiError(404, 'NOT_FOUND', 'no such route (skey mode)');
      const session = liveSession(ctx.skey);
      if (!session || session.expireInFunction) throw new ApiError(401, 'SESSION_EXPIRED', 'session expired');
      if (state.signingDown) throw new ApiError(503, 'SIGNING_UNAVAILABLE', 'the session JWT cannot be signed now');
      return [200, issueToken(ctx.skey)];
    },

    'POST /userinfo': { auth: true, handler: (ctx) => {
      if (ctx.user.sessionKeyExpired) throw new ApiError(401, 'SESSION_KEY_EXPIRED', 'session_key expired');
      const body = jsonBody(ctx.body);
      const encryptedData = requireString(body, 'encryptedData');
      const iv = requireString(body, 'iv');
      if (Buffer.from(iv, 'base64').length !== 16) throw new ApiError(400, 'BAD_REQUEST', 'iv must be 16 bytes');
      if (body.rawData !== undefined || body.signature !== undefined) {
        const rawData = requireString(body, 'rawData');
        if (sha1Hex(rawData + ctx.user.sessionKey) !== requireString(body, 'signature')) {
          throw new ApiError(400, 'INVALID_SIGNATURE', 'signature mismatch');
        }
      }
      const data = decrypt(encryptedData, iv, ctx.user.sessionKey);
      if (!data || data.openId !== ctx.user.openid) throw new ApiError(400, 'DECRYPT_FAILED', 'cannot decrypt');
      delete data.watermark;
      ctx.user.profile = Object.assign({}, data);
      return [200, { user: ctx.user.profile }];
    } },

    'GET /me': { auth: 'app', handler: (ctx) => {
      const answer = { openid: ctx.user.openid, unionid: null, user: ctx.user.profile, phone: ctx.user.phone };
      if (state.accounts) answer.uid = uidOf(ctx.user.openid);
      return [200, answer];
    } },

    'POST /logout': { auth: true, handler: (ctx) => {
      const body = jsonBody(ctx.body, { optional: true });
      let revoked = 0;
      if (body.all === true || body.account === true) {
        for (const s of state.sessions.values()) {
          if (s.openid === ctx.user.openid && !s.revoked) {
            s.revoked = true;
            revoked += 1;
          }
        }
      } else {
        ctx.session.revoked = true;
        revoked = 1;
      }
      return [200, { revoked }];
    } },

    'PUT /profile': { auth: true, handler: (ctx) => {
      const body = jsonBody(ctx.body);
      if (body.nickName === undefined && body.avatarUrl === undefined) {
        throw new ApiError(400, 'INVALID_PROFILE', 'nickName and/or avatarUrl');
      }
      const patch = {};
      if (body.nickName !== undefined) {
        const nickName = typeof body.nickName === 'string' ? body.nickName.trim() : '';
        if (!nickName || nickName.length > 64) throw new ApiError(400, 'INVALID_PROFILE', 'nickName: 1 to 64 characters');
        patch.nickName = nickName;
      }
      if (body.avatarUrl !== undefined) {
        const avatarUrl = body.avatarUrl;
        const own = typeof avatarUrl === 'string' && avatarUrl.startsWith(ctx.baseUrl + '/avatars/');
        if (typeof avatarUrl !== 'string' || !(own || /^https:\/\/\S+$/.test(avatarUrl)) || avatarUrl.length > 1024) {
          throw new ApiError(400, 'INVALID_PROFILE', 'avatarUrl must be an https URL');
        }
        patch.avatarUrl = avatarUrl;
      }
      ctx.user.profile = Object.assign({ openId: ctx.user.openid, nickName: '微信用户', avatarUrl: '' }, ctx.user.profile, patch);
      return [200, { user: ctx.user.profile }];
    } },

    'POST /phone': { auth: true, handler: (ctx) => {
      const body = jsonBody(ctx.body);
      let phoneNumber;
      if (body.code !== undefined) {
        const code = requireString(body, 'code');
        if (!state.phoneCodes.has(code) || state.usedCodes.has(code)) throw new ApiError(400, 'INVALID_CODE', 'invalid phone code');
        state.usedCodes.add(code);
        phoneNumber = state.phoneCodes.get(code);
      } else {
        if (ctx.user.sessionKeyExpired) throw new ApiError(401, 'SESSION_KEY_EXPIRED', 'session_key expired');
        const data = decrypt(requireString(body, 'encryptedData'), requireString(body, 'iv'), ctx.user.sessionKey);
        if (!data) throw new ApiError(400, 'DECRYPT_FAILED', 'cannot decrypt');
        phoneNumber = data.purePhoneNumber;
      }
      ctx.user.phone = { phoneNumber, purePhoneNumber: phoneNumber, countryCode: '86' };
      return [200, { phone: ctx.user.phone }];
    } },

    'POST /dev/code': (ctx) => {
      const body = jsonBody(ctx.body, { optional: true });
      return [200, { code: mintCode(typeof body.user === 'string' && body.user ? body.user : 'dev') }];
    },

    'POST /dev/userinfo': { auth: true, handler: (ctx) => {
      const user = ctx.user;
      const name = 'user-' + user.openid.slice(1, 7);
      const info = {
        nickName: name, gender: 0, language: 'zh_CN', city: '', province: '', country: '',
        avatarUrl: 'https://thirdwx.qlogo.cn/mmopen/vi_32/' + user.openid + '/132'
      };
      const rawData = JSON.stringify(info);
      const sealed = encrypt(Object.assign({ openId: user.openid }, info, {
        watermark: { appid: APPID, timestamp: Math.floor(Date.now() / 1000) }
      }), user.sessionKey);
      return [200, { rawData, signature: sha1Hex(rawData + user.sessionKey), encryptedData: sealed.encryptedData, iv: sealed.iv }];
    } },

    // wxauth's simulator: a picture as chooseAvatar gives one (here: a PNG signature is all it takes).
    'GET /dev/avatar.png': () => ({ raw: Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex'), type: 'image/png' }),

    'POST /dev/phone-code': (ctx) => {
      const body = jsonBody(ctx.body, { optional: true });
      const code = 'phone-' + crypto.randomBytes(12).toString('hex');
      state.phoneCodes.set(code, typeof body.phoneNumber === 'string' ? body.phoneNumber : '13800138000');
      return [200, { code }];
    },

    // wxauth's avatar route (issue 15): skey, multipart, the file in the part `file`.
    'POST /avatar': { auth: true, upload: MAX_AVATAR_BODY, handler: (ctx) => {
      const form = parseMultipart(ctx.body, ctx.req.headers['content-type']);
      const files = form.files.filter((f) => f.name === 'file');
      if (files.length !== 1) throw new ApiError(400, 'BAD_REQUEST', 'exactly one file part named "file"');
      const file = files[0];
      if (file.content.length > MAX_AVATAR) throw new ApiError(413, 'PAYLOAD_TOO_LARGE', 'avatar over 1 MiB');
      const format = imageFormat(file.content);
      if (!format) throw new ApiError(400, 'INVALID_AVATAR', 'not a PNG, JPEG or WebP image');
      const uid = uidOf(ctx.user.openid);
      const name = crypto.createHash('sha256').update(file.content).digest('hex') + '.' + format.ext;
      state.avatars.set(uid, { file: name, content: file.content, type: format.type });
      state.uploads.push({ skey: ctx.skey, fields: form.fields, name: file.name, filename: file.filename, content: file.content });
      // wxauth answers the stored profile (PUT /profile's shape): its fields, no openId, no placeholders.
      ctx.user.profile = Object.assign({}, ctx.user.profile, { avatarUrl: ctx.baseUrl + '/avatars/' + uid + '/' + name });
      return [200, { user: ctx.user.profile }];
    } },

    'GET /avatars/:uid/:file': (ctx) => {
      const avatar = state.avatars.get(ctx.params.uid);
      if (!avatar || avatar.file !== ctx.params.file) throw new ApiError(404, 'NOT_FOUND', 'no such avatar');
      return { raw: avatar.content, type: avatar.type };
    },

    // The app's own API behind the same authorizer (not wxauth's): what request() mostly talks to.
    'GET /orders': { auth: 'app', handler: () => [200, [{ id: '1', total: 99 }]] },
    'DELETE /orders/:id': { auth: 'app', handler: (ctx) => {
      if (ctx.params.id === '1') return [200, { deleted: '1' }];
      return [403, { code: 40301, msg: 'not your order' }, { 'X-Request-Id': 'req-' + ctx.params.id }];
    } },
    'POST /files': { auth: 'app', upload: MAX_UPLOAD, handler: (ctx) => {
      const form = parseMultipart(ctx.body, ctx.req.headers['content-type']);
      const file = form.files[0];
      if (!file) throw new ApiError(400, 'BAD_REQUEST', 'no file part');
      const digest = crypto.createHash('sha256').update(file.content).digest('hex');
      state.uploads.push({ skey: ctx.skey, fields: form.fields, name: file.name, filename: file.filename, content: file.content });
      return [200, { url: 'https://cdn.example.com/files/' + digest.slice(0, 16) + '.png', size: file.content.length }];
    } }
  };

  /** The route for METHOD path: exact keys first, then keys with `:param` segments. */
  function findRoute(method, pathname) {
    const exact = routes[method + ' ' + pathname];
    if (exact) return { route: exact, params: {} };
    const parts = pathname.split('/');
    for (const key of Object.keys(routes)) {
      const [m, pattern] = key.split(' ');
      if (m !== method || !pattern.includes(':')) continue;
      const want = pattern.split('/');
      if (want.length !== parts.length) continue;
      const params = {};
      if (want.every((w, i) => (w.startsWith(':') ? (params[w.slice(1)] = decodeURIComponent(parts[i]), parts[i] !== '') : w === parts[i]))) {
        return { route: routes[key], params };
      }
    }
    return null;
  }

  function knownPath(pathname) {
    return ['GET', 'POST', 'PUT', 'DELETE'].some((m) => findRoute(m, pathname));
  }

  async function handle(req, res) {
    const url = new URL(req.url, 'http://127.0.0.1');
    const found = findRoute(req.method, url.pathname);
    const route = found && found.route;
    const spec = typeof route === 'function' ? { handler: route } : route;
    const body = await readBody(req, spec && spec.upload ? spec.upload : MAX_BODY);
    const delay = Number(url.searchParams.get('delay') || 0);
    if (delay > 0) await new Promise((r) => setTimeout(r, Math.min(delay, 5000)));
    const skey = req.headers['x-wx-skey'] || null;
    state.log.push({
      method: req.method, path: url.pathname, skey, authorization: req.headers.authorization || null, body: body.toString('utf8')
    });

    const scriptedIndex = state.scripted.findIndex((s) => s.method === req.method && s.path === url.pathname);
    if (scriptedIndex >= 0) {
      const s = state.scripted[scriptedIndex];
      s.times -= 1;
      if (s.times <= 0) state.scripted.splice(scriptedIndex, 1);
      if (typeof s.body === 'string') {
        res.writeHead(s.status, Object.assign({ 'Content-Type': 'text/html' }, s.headers));
        res.end(s.body);
      } else {
        send(res, s.status, s.body, s.headers);
      }
      return;
    }

    if (!spec) {
      if (knownPath(url.pathname)) throw new ApiError(405, 'METHOD_NOT_ALLOWED', 'method not allowed');
      throw new ApiError(404, 'NOT_FOUND', 'no such route');
    }
    const ctx = { req, body, skey, params: found.params, baseUrl: serverUrl };
    if (spec.auth) {
      // In JWT mode GET /me and the app's routes are behind the JWT authorizer; wxauth's others keep the skey.
      const g = spec.auth === 'app' && state.jwt ? jwtGateway(req) : gateway(req);
      if (g.answer) {
        send(res, g.answer[0], g.answer[1]);
        return;
      }
      if (!g.token && g.session.expireInFunction) throw new ApiError(401, 'SESSION_EXPIRED', 'session expired');
      ctx.session = g.session;
      ctx.user = g.user;
    }
    const result = await spec.handler(ctx);
    if (result && result.raw) {
      res.writeHead(200, {
        'Content-Type': result.type,
        'X-Content-Type-Options': 'nosniff',
        'Cache-Control': 'public, max-age=31536000, immutable',
        'Content-Length': result.raw.length
      });
      res.end(result.raw);
      return;
    }
    const [status, answer, headers] = result;
    send(res, status, answer, headers);
  }
  let serverUrl = '';

  function requests(method, pathname) {
    return state.log.filter((r) => r.method === method && r.path === pathname);
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err) => {
      if (err instanceof ApiError) send(res, err.status, { error: { code: err.code, message: err.message } }, err.headers);
      else send(res, 500, { error: { code: 'INTERNAL', message: String(err && err.message) } });
    });
  });

  return new Promise((resolve, reject) => {
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      serverUrl = 'http://127.0.0.1:' + port;
      resolve({
        url: serverUrl,
        state,
        mintCode,
        openidOf,
        /** Requests that reached the server, by method and path. */
        requests,
        count: (method, pathname) => requests(method, pathname).length,
        /** Server-side logout of one skey (what POST /logout or an admin would do). */
        revoke: (skey) => { state.sessions.get(skey).revoked = true; },
        /** The authorizer still accepts the skey, but the function finds the session gone (SESSION_EXPIRED). */
        expireInFunction: (skey) => { state.sessions.get(skey).expireInFunction = true; },
        /** WeChat's checksession now fails for this skey's user: SESSION_KEY_EXPIRED until the next login. */
        expireSessionKey: (skey) => { state.users.get(state.sessions.get(skey).openid).sessionKeyExpired = true; },
        /** The session JWT signer fails (true) or works again (false). */
        signing: (works) => { state.signingDown = !works; },
        /** Every session JWT issued so far is expired (the JWT authorizer now answers 401). */
        expireTokens: () => { for (const t of state.tokens.values()) t.expiresAt = 0; },
        /** The next `times` requests to METHOD path get this canned answer (a string body is sent as HTML). */
        failNext: (method, pathname, status, body, times = 1, headers = {}) => {
          state.scripted.push({ method, path: pathname, status, body, times, headers });
        },
        close: () => new Promise((r) => {
          server.closeAllConnections();
          server.close(() => r());
        })
      });
    });
  });
}

/**
 * A port on 127.0.0.1 where nothing listens. A port bound then released could be handed by the OS to a
 * server of another test file running at the same time; port 1 (tcpmux) is privileged, never handed out
 * as an ephemeral port, and unused on development and CI machines. Checked, with the old way as fallback.
 */
async function closedPort() {
  const refused = await new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port: 1 });
    socket.on('connect', () => { socket.destroy(); resolve(false); });
    socket.on('error', (err) => resolve(err.code === 'ECONNREFUSED'));
  });
  if (refused) return 1;
  return new Promise((resolve, reject) => {
    const s = http.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

module.exports = { startFakeServer, closedPort, APPID, encrypt, sha1Hex, imageFormat };
