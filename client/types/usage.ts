// Compiled with `tsc --noEmit` by `npm test`: proves index.d.ts is valid, fits miniprogram-api-typings,
// and types what a mini program written in TypeScript does. The @ts-expect-error lines must stay errors.
import {
  createClient,
  WxAuthError,
  ErrorCodes,
  ClientErrorCodes,
  DEFAULT_STORAGE_KEY,
  SKEY_HEADER,
  type WxAuthClient,
  type Session,
  type MeResponse,
  type ErrorCode,
} from '..';

const auth: WxAuthClient = createClient({ baseUrl: 'https://api.example.com', timeout: 10000 });
const withWx = createClient({ baseUrl: 'https://api.example.com', wx, storageKey: 'app:skey', now: () => Date.now() });
// @ts-expect-error baseUrl is required
createClient({});
// @ts-expect-error the wx option must look like wx
createClient({ baseUrl: 'https://api.example.com', wx: { login() {} } });

const key: 'wxauth:skey' = DEFAULT_STORAGE_KEY;
const header: 'X-WX-Skey' = SKEY_HEADER;
const used: 'CODE_USED' = ErrorCodes.CODE_USED;
const offline: 'NETWORK_ERROR' = ClientErrorCodes.NETWORK_ERROR;
// @ts-expect-error not a server error code
ErrorCodes.NETWORK_ERROR;

interface Order {
  id: string;
  total: number;
}

async function page(): Promise<void> {
  const session: Session = await auth.ensureLogin();
  const expires: number | null = session.expiresAt;
  const fresh = await withWx.login();
  const skey: string | null = auth.getSkey();

  const me: MeResponse = await auth.me();
  const nick: string | undefined = me.user?.nickName;
  const orders = await auth.request<Order[]>({ url: '/orders', method: 'GET', data: { page: 1 } });
  const total: number = orders[0].total;
  await auth.request({ url: '/dev/code', method: 'POST', auth: false, data: {}, header: { 'X-Trace': '1' } });
  // @ts-expect-error url is required
  await auth.request({ method: 'GET' });

  const uploaded = await auth.uploadFile<{ url: string }>({
    url: '/avatar',
    filePath: 'wxfile://tmp/a.png',
    name: 'file',
    formData: { kind: 'avatar' },
    onProgressUpdate: (p) => console.log(p.progress),
  });
  const { user } = await auth.updateProfile({ nickName: 'Ann', avatarUrl: uploaded.url });
  const openId: string = user.openId;
  // @ts-expect-error nickName is required
  await auth.updateProfile({ avatarUrl: uploaded.url });

  const { revoked } = await auth.logout(true);
  const n: number = revoked;
  console.log(expires, fresh.skey, skey, nick, total, openId, n, key, header, used, offline);
}

// Button handlers with the event types of miniprogram-api-typings.
function onGetPhoneNumber(e: WechatMiniprogram.ButtonGetPhoneNumber): Promise<string> {
  return auth.getPhoneNumber(e.detail).then((res) => res.phone.phoneNumber);
}
function onGetPhoneNumberEvent(e: WechatMiniprogram.ButtonGetPhoneNumber): Promise<string> {
  return auth.getPhoneNumber(e).then((res) => res.phone.purePhoneNumber);
}
function onUserInfo(res: WechatMiniprogram.GetUserInfoSuccessCallbackResult): Promise<string> {
  return auth.getUserInfo(res).then((r) => r.user.nickName);
}

// Errors: narrow with instanceof, switch on the code.
function describe(err: unknown): string {
  if (err instanceof WxAuthError) {
    const code: ErrorCode = err.code;
    const status: number = err.status;
    switch (err.code) {
      case ClientErrorCodes.STALE_DATA:
        return 'ask WeChat again';
      case ErrorCodes.CODE_USED:
        return 'login code reused';
      default:
        return code + ' ' + status + ' ' + err.message;
    }
  }
  return String(err);
}

const made = new WxAuthError('NETWORK_ERROR', 'down', { status: 0, cause: { errMsg: 'request:fail' } });
const name: 'WxAuthError' = made.name;

export { page, onGetPhoneNumber, onGetPhoneNumberEvent, onUserInfo, describe, name };
