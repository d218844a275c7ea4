// Type definitions for wxauth-client (hand-written; the implementation is index.js).
// The wx types come from miniprogram-api-typings, which TypeScript mini programs already install.
/// <reference types="miniprogram-api-typings" />

/** Error codes of the wxauth server (`{"error":{"code":..}}`), see docs/contract.md. */
export type ServerErrorCode =
  | 'BAD_REQUEST'
  | 'PAYLOAD_TOO_LARGE'
  | 'NOT_FOUND'
  | 'METHOD_NOT_ALLOWED'
  | 'INVALID_CODE'
  | 'CODE_USED'
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
  | 'WECHAT_ERROR'
  | 'STORE_UNAVAILABLE';

/** Error codes made by the client, for failures without a server error code. */
export type ClientErrorCode =
  | 'NETWORK_ERROR'
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'LOGIN_FAILED'
  | 'STALE_DATA'
  | 'USER_DENIED'
  | 'INVALID_ARGUMENT'
  | 'BAD_RESPONSE'
  | 'HTTP_ERROR';

/** Any `WxAuthError.code`. A newer server may send a code this version does not list. */
export type ErrorCode = ServerErrorCode | ClientErrorCode | (string & {});

/** The server's error codes, as constants (`ErrorCodes.CODE_USED === 'CODE_USED'`). */
export declare const ErrorCodes: Readonly<{ [K in ServerErrorCode]: K }>;

/** The client's error codes, as constants. */
export declare const ClientErrorCodes: Readonly<{ [K in ClientErrorCode]: K }>;

/** Storage key used when `createClient` gets no `storageKey`: `"wxauth:skey"`. */
export declare const DEFAULT_STORAGE_KEY: 'wxauth:skey';

/** Request header that carries the skey: `"X-WX-Skey"`. */
export declare const SKEY_HEADER: 'X-WX-Skey';

export interface WxAuthErrorExtra {
  status?: number;
  data?: unknown;
  cause?: unknown;
}

/** The one error type the client rejects with. */
export declare class WxAuthError extends Error {
  constructor(code: ErrorCode, message?: string, extra?: WxAuthErrorExtra);
  readonly name: 'WxAuthError';
  /** The server's error code, or a client code such as NETWORK_ERROR. */
  code: ErrorCode;
  /** HTTP status of the answer; 0 when there was no HTTP answer. */
  status: number;
  /** The response body, when there was one. */
  data?: unknown;
  /** The underlying failure: a wx `fail` result, the server error behind STALE_DATA... */
  cause?: unknown;
}

/** The wx APIs the client uses: the global `wx` or anything shaped like it. */
export type WxLike = Pick<
  WechatMiniprogram.Wx,
  'login' | 'request' | 'uploadFile' | 'checkSession' | 'getStorageSync' | 'setStorageSync' | 'removeStorageSync'
>;

export interface ClientOptions {
  /** API base URL, e.g. "https://abc.execute-api.ap-east-1.amazonaws.com". */
  baseUrl: string;
  /** Storage key of the session, default "wxauth:skey". */
  storageKey?: string;
  /** The wx API object, default the global `wx`. */
  wx?: WxLike;
  /** Default timeout (ms) of wx.request / wx.uploadFile. */
  timeout?: number;
  /** Clock in ms, default Date.now (tests). */
  now?: () => number;
}

/** The session as the client keeps it. */
export interface Session {
  skey: string;
  /** Epoch ms after which the skey is no longer valid, or null when the server gave no lifetime. */
  expiresAt: number | null;
}

/** Options of the client's own, on top of wx's. */
export interface AuthOptions {
  /** false: a public route, no skey and no login. Default true. */
  auth?: boolean;
}

/** `wx.request` options without the callbacks; `url` is a path under baseUrl or an absolute URL under it. */
export type RequestOptions = Omit<WechatMiniprogram.RequestOption, 'success' | 'fail' | 'complete'> & AuthOptions;

/** `wx.uploadFile` options without the callbacks; `url` as for RequestOptions. */
export type UploadFileOptions = Omit<WechatMiniprogram.UploadFileOption, 'success' | 'fail' | 'complete'> &
  AuthOptions & {
    /** Passed to every upload task (an upload retried after a re-login gets a new task). */
    onProgressUpdate?: WechatMiniprogram.UploadTaskOnProgressUpdateCallback;
  };

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
  phone: PhoneInfo | null;
}

export interface WxAuthClient {
  /** The base URL, without trailing slash. */
  readonly baseUrl: string;
  /** The storage key of the session. */
  readonly storageKey: string;
  /** A fresh wx.login + POST /login. Concurrent calls share one. */
  login(): Promise<Session>;
  /** The current session, logging in only when there is none or it expired. */
  ensureLogin(): Promise<Session>;
  /** The current skey, or null when not logged in. */
  getSkey(): string | null;
  /**
   * wx.request with X-WX-Skey; logs in first when needed; on a session failure logs in again once and
   * retries once. Resolves with the body of a 2xx answer, rejects with WxAuthError.
   */
  request<T = any>(options: RequestOptions): Promise<T>;
  /** wx.uploadFile with X-WX-Skey, same session handling; resolves with the JSON-parsed body. */
  uploadFile<T = any>(options: UploadFileOptions): Promise<T>;
  /** POST /userinfo. Rejects STALE_DATA when the data was made with an old session_key. */
  getUserInfo(
    detail: UserInfoDetail | WechatMiniprogram.GetUserInfoSuccessCallbackResult | { detail: UserInfoDetail }
  ): Promise<{ user: UserProfile }>;
  /** POST /phone with {code} (or {encryptedData, iv}). */
  getPhoneNumber(
    detail: PhoneNumberDetail | WechatMiniprogram.ButtonGetPhoneNumber | { detail: PhoneNumberDetail }
  ): Promise<{ phone: PhoneInfo }>;
  /** PUT /profile. */
  updateProfile(profile: { nickName: string; avatarUrl: string }): Promise<{ user: UserProfile }>;
  /** GET /me. */
  me(): Promise<MeResponse>;
  /** POST /logout (all: every session of the user). The stored skey is cleared even when it fails. */
  logout(all?: boolean): Promise<{ revoked: number }>;
}

export declare function createClient(options: ClientOptions): WxAuthClient;
