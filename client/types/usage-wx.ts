// Type-checked with miniprogram-api-typings 3.x, 4.x and 5.x (test/types-matrix.js): the global `wx` and
// the typings' event types fit the client's structural types.
import { createClient } from '..';

const auth = createClient({ baseUrl: 'https://api.example.com', wx });
const byDefault = createClient({ baseUrl: 'https://api.example.com' });

// Button handlers with the event types of miniprogram-api-typings.
function onGetPhoneNumber(e: WechatMiniprogram.ButtonGetPhoneNumber): Promise<string> {
  return auth.getPhoneNumber(e.detail).then((res) => res.phone.phoneNumber);
}
function onGetPhoneNumberEvent(e: WechatMiniprogram.ButtonGetPhoneNumber): Promise<string> {
  return byDefault.getPhoneNumber(e).then((res) => res.phone.purePhoneNumber);
}
function onUserInfo(res: WechatMiniprogram.GetUserInfoSuccessCallbackResult): Promise<string> {
  return auth.getUserInfo(res).then((r) => r.user.nickName);
}
function onChooseAvatar(e: { detail: { avatarUrl: string } }): Promise<string> {
  return auth.updateAvatar(e).then((profile) => profile.avatarUrl);
}
function withTask(): Promise<unknown> {
  return auth.request({
    url: '/orders',
    header: { 'X-Trace': '1' },
    onTask: (task) => {
      const requestTask = task as unknown as WechatMiniprogram.RequestTask;
      requestTask.abort();
    },
  });
}

export { onGetPhoneNumber, onGetPhoneNumberEvent, onUserInfo, onChooseAvatar, withTask };
