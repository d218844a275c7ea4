// Type-checked by `npm test` (test/types-matrix.js) with TypeScript 4.9, 5.x and the current release, with
// miniprogram-api-typings 3.x, 4.x, 5.x AND without any: this file uses no WechatMiniprogram type.
// The @ts-expect-error lines must stay errors.
import {
  createClient,
  WxAuthError,
  ErrorCodes,
  ClientErrorCodes,
  DEFAULT_STORAGE_KEY,
  SKEY_HEADER,
  type WxAuthClient,
  type WxLike,
  type Session,
  type MeResponse,
  type ErrorCode,
  type FullResponse,
  type UserProfile,
  type PhoneInfo,
} from '..';

declare const someWx: WxLike;
const auth: WxAuthClient = createClient({ baseUrl: 'https://api.example.com', wx: someWx, timeout: 10000 });
const tuned = createClient({
  baseUrl: 'https://api.example.com',
  wx: someWx,
  storageKey: 'app:skey',
  appid: 'wx0123456789abcdef',
  autoLogin: false,
  authMode: 'jwt',
  now: () => Date.now(),
  setTimeout: (fn, ms) => schedule(fn, ms),
  isSessionDead: (res, byDefault) => byDefault || (res.statusCode === 403 && res.data === 'denied'),
});
// @ts-expect-error baseUrl is required
createClient({});
// @ts-expect-error the wx option must look like wx
createClient({ baseUrl: 'https://api.example.com', wx: { login() {} } });
// @ts-expect-error authMode is 'jwt' or 'skey'
createClient({ baseUrl: 'https://api.example.com', authMode: 'cookie' });

const key: 'wxauth:skey' = DEFAULT_STORAGE_KEY;
const header: 'X-WX-Skey' = SKEY_HEADER;
const used: 'CODE_USED' = ErrorCodes.CODE_USED;
const internal: 'INTERNAL' = ErrorCodes.INTERNAL;
const offline: 'NETWORK_ERROR' = ClientErrorCodes.NETWORK_ERROR;
const quota: 'PHONE_QUOTA_EXHAUSTED' = ClientErrorCodes.PHONE_QUOTA_EXHAUSTED;
const loggedOut: 'NOT_LOGGED_IN' = ClientErrorCodes.NOT_LOGGED_IN;
// @ts-expect-error not a server error code
ErrorCodes.NETWORK_ERROR;

interface Order {
  id: string;
  total: number;
}

async function page(): Promise<void> {
  const session: Session = await auth.ensureLogin();
  const expires: number | null = session.expiresAt;
  const uid: string | undefined = session.uid;
  const fresh = await tuned.login();
  const skey: string | null = auth.getSkey();
  const token: string | null = auth.getToken();
  const out: boolean = auth.isLoggedOut();
  auth.setAutoLogin(true);

  const me: MeResponse = await auth.me();
  const nick: string | undefined = me.user?.nickName;
  const orders = await auth.request<Order[]>({ url: '/orders', method: 'GET', data: { page: 1 } });
  const total: number = orders[0].total;
  // request<T> defaults to unknown, not any: the body must be narrowed before use.
  const untyped = await auth.request({ url: '/orders' });
  // @ts-expect-error unknown has no members
  untyped.length;
  const full: FullResponse<Order[]> = await auth.request<Order[]>({ url: '/orders', fullResponse: true });
  const status: number = full.statusCode;
  const requestId = full.header['X-Request-Id'];
  await auth.request({
    url: '/orders/42',
    method: 'DELETE',
    onTask: (task) => task.abort(),
  });
  await auth.request({ url: '/dev/code', method: 'POST', auth: false, data: {}, header: { 'X-Trace': '1' } });
  await auth.request({ url: '/my/skey-route', auth: 'skey' });
  // @ts-expect-error url is required
  await auth.request({ method: 'GET' });
  // @ts-expect-error callbacks are not taken: the call returns a promise
  await auth.request({ url: '/orders', success: () => undefined });

  const uploaded = await auth.uploadFile<{ url: string }>({
    url: '/files',
    filePath: 'wxfile://tmp/a.png',
    name: 'file',
    formData: { kind: 'photo' },
    onProgressUpdate: (p) => p.progress,
  });
  const profile: UserProfile = await auth.updateAvatar('wxfile://tmp/avatar.png', { onProgressUpdate: (p) => p.progress });
  const viaEvent: UserProfile = await auth.updateAvatar({ detail: { avatarUrl: 'wxfile://tmp/a.png' } });
  const { user } = await auth.updateProfile({ nickName: 'Ann' });
  await auth.updateProfile({ nickName: 'Ann', avatarUrl: uploaded.url });
  const openId: string = user.openId;
  // @ts-expect-error a profile update needs a field
  await auth.updateProfile({});

  const known: PhoneInfo | null = await auth.knownPhone();
  if (!known) {
    const { phone } = await auth.getPhoneNumber({ errMsg: 'getPhoneNumber:ok', code: 'c' });
    console_.log(phone.purePhoneNumber);
  }

  const { revoked } = await auth.logout(true);
  await auth.logout({ account: true });
  const n: number = revoked;
  console_.log(expires, uid, fresh.skey, skey, token, out, nick, total, status, requestId, profile, viaEvent, openId, n,
    key, header, used, internal, offline, quota, loggedOut);
}

// Errors: narrow with instanceof, switch on the code.
function describe(err: unknown): string {
  if (err instanceof WxAuthError) {
    const code: ErrorCode = err.code;
    const status: number = err.status;
    const wait: number | undefined = err.retryAfter;
    const requestId = err.headers?.['x-request-id'];
    switch (err.code) {
      case ClientErrorCodes.STALE_DATA:
        return 'ask WeChat again';
      case ClientErrorCodes.HTTP_ERROR:
        return 'your API said ' + status + ' ' + JSON.stringify(err.data) + ' ' + String(requestId);
      case ErrorCodes.RATE_LIMITED:
        return 'wait ' + wait;
      case 'UNKNOWN_APP': // a newer server's code: still a string
        return 'configure the appid';
      default:
        return code + ' ' + status + ' ' + err.message;
    }
  }
  return String(err);
}

const made = new WxAuthError('NETWORK_ERROR', 'down', { status: 0, cause: { errMsg: 'request:fail' } });
const name: 'WxAuthError' = made.name;
declare const console_: { log(...args: unknown[]): void };
declare function schedule(fn: () => void, ms: number): number;

export { page, describe, name };
