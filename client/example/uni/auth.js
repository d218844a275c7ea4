// uni-app (Vue 2 or Vue 3, mp-weixin): common/auth.js
import { createClient, ClientErrorCodes } from 'wxauth-client';
import { API_BASE } from './config';

// `uni` is a global of uni-app. Given as it is: the client always passes callbacks, so uni hands it the
// wx task, and neither Vue 2's `[err, res]` promises nor Vue 3's plain ones get in the way.
export const auth = createClient({ baseUrl: API_BASE, wx: uni });

// Your own API, with the credential added and renewed by the client.
export function loadOrders() {
  return auth.request({ url: '/orders' });
}

// Your API's own refusal comes back as it is: no re-login, no second DELETE, the body in err.data.
export function deleteOrder(id) {
  return auth.request({ url: '/orders/' + id, method: 'DELETE' }).then(() => true, (err) => {
    if (err.code === ClientErrorCodes.HTTP_ERROR && err.status === 403) {
      uni.showToast({ title: err.data.msg, icon: 'none' });
      return false;
    }
    throw err;
  });
}
