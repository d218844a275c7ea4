// Type definitions for wxauth-client (hand-written; the implementation is index.js).
//
// Self-contained on purpose: no `/// <reference types="miniprogram-api-typings" />`. The shapes below are
// structural, so `wx` and the event types of miniprogram-api-typings 3.x, 4.x and 5.x fit them, and so do
// Taro's `Taro` and uni-app's `uni`; a project without any of those typings type-checks too.

/** Error codes of the wxauth server (`{"error":{"code":..}}`), see docs/contract.md. */
export type ServerErrorCode =
  | 'BAD_REQUEST'
  | 'PAYLOAD_TOO_LARGE'
  | 'NOT_FOUND'
  | 'METHOD_NOT_ALLOWED'
  | 'INVALID_CODE'
  | 'CODE_USED'
  | 'UNKNOWN_APP'
  | 'USER_BLOCKED'
  | 'RATE_LIMITED'
  | 'WECHAT_BUSY'
  | 'WECHAT_UNAVAILABLE'
  | 'MISCONFIGURED'
  | 'SESSION_EXPIRED'
  | 'SESSION_KEY_EXPIRED'
  | 'INVALID_SIGNATURE'
  | 'DECRYPT_FAILED'
  | 'INVALID_PROFILE'
  | 'INVALID_AVATAR'
  | 'NICKNAME_REJECTED'
  | 'WECHAT_ERROR'
  | 'STORE_UNAVAILABLE'
  | 'SIGNING_UNAVAILABLE'
  | 'INTERNAL';

/** Error codes made by the client, for failures without a server error code. */
export type ClientErrorCode =
  | 'NETWORK_ERROR'
  | 'ABORTED'
  | 'DOMAIN_NOT_ALLOWED'
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'NOT_LOGGED_IN'
  | 'LOGIN_FAILED'
  | 'STALE_DATA'
  | 'USER_DENIED'
  | 'PHONE_QUOTA_EXHAUSTED'
  | 'INVALID_ARGUMENT'
  | 'BAD_RESPONSE'
  | 'HTTP_ERROR';

/** Any `WxAuthError.code`. A newer server may send a code this version does not list (e.g. UNKNOWN_APP). */
export type ErrorCode = ServerErrorCode | ClientErrorCode | (string & {});

/** The server's error codes, as constants (`ErrorCodes.CODE_USED === 'CODE_USED'`). */
export declare const ErrorCodes: Readonly<{ [K in ServerErrorCode]: K }>;

/** The client's error codes, as constants. */
export declare const ClientErrorCodes: Readonly<{ [K in ClientErrorCode]: K }>;

/** Storage key used when `createClient` gets no `storageKey`: `"wxauth:skey"`. */
export declare const DEFAULT_STORAGE_KEY: 'wxauth:skey';

/** Request header that carries the skey: `"X-WX-Skey"`. */
export declare const SKEY_HEADER: 'X-WX-Skey';

/** Response headers as wx gives them (the server's spelling of the names). */
export type ResponseHeaders = Record<string, string | string[] | undefined>;

export interface WxAuthErrorExtra {
  status?: number;
  data?: unknown;
  headers?: ResponseHeaders;
  retryAfter?: number;
  cause?: unknown;
}

/** The one error type the client rejects with. */
export declare class WxAuthError extends Error {
  constructor(code: ErrorCode, message?: string, extra?: WxAuthErrorExtra);
  readonly name: 'WxAuthError';
  /** The server's error code, a client code such as NETWORK_ERROR, or HTTP_ERROR for your API's own errors. */
  code: ErrorCode;
  /** HTTP status of the answer; 0 when there was no HTTP answer. */
  status: number;
  /** The response body, when there was one (your API's own error body, as it came). */
  data?: unknown;
  /** The response headers, when there was an answer. */
  headers?: ResponseHeaders;
  /** Seconds to wait, from a Retry-After header (RATE_LIMITED). Never retried by the client itself. */
  retryAfter?: number;
  /** The underlying failure: a wx `fail` result, the server error behind STALE_DATA... */
  cause?: unknown;
}

/** A function of wx (or Taro, or uni): anything callable with an options object. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type WxFunction = (...args: any[]) => any;

/**
 * The wx APIs the client uses: the global `wx`, Taro's `Taro`, uni-app's `uni`, or anything shaped like
 * them (tests, plugins).
 */
export interface WxLike {
  login: WxFunction;
  request: WxFunction;
  getStorageSync: WxFunction;
  setStorageSync: WxFunction;
  removeStorageSync: WxFunction;
  uploadFile?: WxFunction;
  checkSession?: WxFunction;
  getAccountInfoSync?: WxFunction;
}

/** What `isSessionDead` gets: the HTTP answer of a call that was refused. */
export interface SessionDeadResponse {
  statusCode: number;
  data: unknown;
  header: ResponseHeaders;
}

export interface ClientOptions {
  /** API base URL, e.g. "https://abc.execute-api.ap-east-1.amazonaws.com". */
  baseUrl: string;
  /** Storage key of the session, default "wxauth:skey". */
  storageKey?: string;
  /** The wx API object (or `Taro`, or `uni`), default the global `wx`. */
  wx?: WxLike;
  /** The appid sent with POST /login; default `wx.getAccountInfoSync().miniProgram.appId` (none: not sent). */
  appid?: string;
  /** false: the client never logs in by itself, only `login()` does. Default true. */
  autoLogin?: boolean;
  /** 'jwt': use the session JWT for your APIs; 'skey': never. Default: JWT when POST /login answers a token. */
  authMode?: 'jwt' | 'skey';
  /**
   * Whether a refused call means a dead session (log in again, send once more). `byDefault` is the client's
   * own answer: true only for the gateway's exact 401 `{"message":"Unauthorized"}` / 403
   * `{"message":"Forbidden"}` and wxauth's 401 SESSION_EXPIRED.
   */
  isSessionDead?: (response: SessionDeadResponse, byDefault: boolean) => boolean;
  /** Default timeout (ms) of wx.request / wx.uploadFile. */
  timeout?: number;
  /** Clock in ms, default Date.now (tests). */
  now?: () => number;
  /** Timer, default the global setTimeout (tests). */
  setTimeout?: (callback: () => void, ms: number) => unknown;
}

/** The session as the client keeps it. */
export interface Session {
  skey: string;
  /** Epoch ms after which the skey is no longer valid, or null when the server gave no lifetime. */
  expiresAt: number | null;
  /** The account id, when the server serves accounts (several mini programs, one person). */
  uid?: string;
}

/** The task of one send: wx's RequestTask / UploadTask (Taro: its promise with abort()). */
export interface WxTask {
  abort(): void;
  [member: string]: unknown;
}

/** Options of the client's own, on top of wx's. */
export interface AuthOptions {
  /**
   * true (default): the session's credential (the skey; in JWT mode the session JWT, except on wxauth's
   * state-changing routes). false: a public route, no credential and no login. 'skey' / 'jwt': that one.
   */
  auth?: boolean | 'skey' | 'jwt';
  /** Called with the task of every send (a re-login means two sends), e.g. to abort(). */
  onTask?: (task: WxTask) => void;
  /** Callbacks are not taken (the call returns a promise): passing one rejects INVALID_ARGUMENT. */
  success?: never;
  fail?: never;
  complete?: never;
}

export type HttpMethod = 'OPTIONS' | 'GET' | 'HEAD' | 'POST' | 'PUT' | 'DELETE' | 'TRACE' | 'CONNECT' | 'PATCH';

/** `wx.request` options without the callbacks; `url` is a path under baseUrl or an absolute URL under it. */
export interface RequestOptions extends AuthOptions {
  url: string;
  method?: HttpMethod;
  data?: string | Record<string, unknown> | ArrayBuffer | unknown[];
  header?: Record<string, string>;
  timeout?: number;
  dataType?: 'json' | string;
  responseType?: 'text' | 'arraybuffer';
  /** Resolve with {statusCode, data, header} instead of the body. */
  fullResponse?: boolean;
  /** Any other option of wx.request / Taro.request / uni.request is passed on as it is. */
  [option: string]: unknown;
}

/** `wx.uploadFile` options without the callbacks; `url` as for RequestOptions. */
export interface UploadFileOptions extends AuthOptions {
  url: string;
  filePath: string;
  name: string;
  header?: Record<string, string>;
  formData?: Record<string, unknown>;
  timeout?: number;
  /** Passed to every upload task (an upload sent again after a re-login gets a new task). */
  onProgressUpdate?: (result: { progress: number; totalBytesSent: number; totalBytesExpectedToSend: number }) => void;
  /** Resolve with {statusCode, data, header} instead of the body. */
  fullResponse?: boolean;
  [option: string]: unknown;
}

/** The answer of a call with `fullResponse: true`. */
export interface FullResponse<T> {
  statusCode: number;
  data: T;
  header: ResponseHeaders;
  cookies?: string[];
}

/** The `detail` of wx.getUserInfo / a getUserInfo button. */
export interface UserInfoDetail {
  encryptedData: string;
  iv: string;
  rawData?: string;
  signature?: string;
  errMsg?: string;
}

/** The `detail` of `<button open-type="getPhoneNumber">`: a code, or the older encryptedData/iv. */
export interface PhoneNumberDetail {
  code?: string;
  encryptedData?: string;
  iv?: string;
  errMsg?: string;
  /** 1400001: the paid phone-number quota is used up (PHONE_QUOTA_EXHAUSTED). */
  errno?: number;
}

/** The `detail` of `<button open-type="chooseAvatar">`: a temporary local file. */
export interface ChooseAvatarDetail {
  avatarUrl: string;
}

/** A user's profile as the server returns it. */
export interface UserProfile {
  openId: string;
  nickName: string;
  avatarUrl: string;
  gender?: number;
  language?: string;
  city?: string;
  province?: string;
  country?: string;
  unionId?: string;
}

export interface PhoneInfo {
  phoneNumber: string;
  purePhoneNumber: string;
  countryCode: string | number;
}

export interface MeResponse {
  openid: string;
  unionid: string | null;
  user: UserProfile | null;
  /** The phone number already stored. Asking WeChat again costs money (¥0.03 a tap): check this first. */
  phone: PhoneInfo | null;
  /** Several mini programs: the account id and the app of this session. */
  uid?: string;
  appid?: string;
  [field: string]: unknown;
}

export interface LogoutScope {
  /** Every session of this user in this mini program. */
  all?: boolean;
  /** Every session of the account, in every mini program. */
  account?: boolean;
}

export interface UploadControl {
  onProgressUpdate?: UploadFileOptions['onProgressUpdate'];
  onTask?: (task: WxTask) => void;
  timeout?: number;
}

export interface WxAuthClient {
  /** The base URL, without trailing slash. */
  readonly baseUrl: string;
  /** The storage key of the session. */
  readonly storageKey: string;
  /** A fresh wx.login + POST /login; ends the logged-out state of logout(). Concurrent calls share one. */
  login(): Promise<Session>;
  /** The current session, logging in only when there is none or it expired (NOT_LOGGED_IN after logout()). */
  ensureLogin(): Promise<Session>;
  /** The current skey, or null when not logged in. */
  getSkey(): string | null;
  /** The current session JWT (JWT mode, kept in memory only), or null. */
  getToken(): string | null;
  /** Whether logout() was called and login() not since; kept in storage across restarts. */
  isLoggedOut(): boolean;
  /** Silent login on or off; on also ends the logged-out state of logout(). */
  setAutoLogin(enabled: boolean): void;
  /**
   * wx.request with the session's credential; logs in first when needed; on a dead session (the gateway's
   * own 401/403, SESSION_EXPIRED) logs in again once and sends once more. Resolves with the body of a 2xx
   * answer (or the full response), rejects with WxAuthError (your API's own errors: HTTP_ERROR with
   * status, data and headers).
   */
  request<T = unknown>(options: RequestOptions & { fullResponse: true }): Promise<FullResponse<T>>;
  request<T = unknown>(options: RequestOptions): Promise<T>;
  /** wx.uploadFile with the credential, same session handling; resolves with the JSON-parsed body. */
  uploadFile<T = unknown>(options: UploadFileOptions & { fullResponse: true }): Promise<FullResponse<T>>;
  uploadFile<T = unknown>(options: UploadFileOptions): Promise<T>;
  /** POST /userinfo. Rejects STALE_DATA when the data was made with an old session_key. */
  getUserInfo(detail: UserInfoDetail | { detail: UserInfoDetail }): Promise<{ user: UserProfile }>;
  /**
   * POST /phone with {code} (or {encryptedData, iv}). PAID: every successful tap of the getPhoneNumber
   * button costs ¥0.03, so show the button only when knownPhone() (GET /me's phone) is null.
   */
  getPhoneNumber(detail: PhoneNumberDetail | { detail: PhoneNumberDetail }): Promise<{ phone: PhoneInfo }>;
  /** The phone number the server already has (GET /me's `phone`), or null: check before asking WeChat (paid). */
  knownPhone(): Promise<PhoneInfo | null>;
  /** PUT /profile with the fields given. */
  updateProfile(profile: { nickName: string; avatarUrl?: string } | { nickName?: string; avatarUrl: string }): Promise<{ user: UserProfile }>;
  /** POST /avatar (wx.uploadFile, part `file`) with chooseAvatar's temporary file; resolves with the profile. */
  updateAvatar(avatar: string | ChooseAvatarDetail | { detail: ChooseAvatarDetail }, control?: UploadControl): Promise<UserProfile>;
  /** GET /me. */
  me(): Promise<MeResponse>;
  /** POST /logout (true or {all}: every session of the user; {account}: of the account). Stays logged out. */
  logout(scope?: boolean | LogoutScope): Promise<{ revoked: number }>;
}

export declare function createClient(options: ClientOptions): WxAuthClient;
