// Taro (React or Vue, Taro 3 or 4, WeChat build): src/services/auth.js
import Taro from '@tarojs/taro';
import { createClient, ClientErrorCodes } from 'wxauth-client';
import { API_BASE } from '../config';

// Taro's API object, as it is. Its calls return promises (Taro.request one with abort()); the client
// passes its own callbacks, ignores those promises, and gives you the task through `onTask`.
export const auth = createClient({ baseUrl: API_BASE, wx: Taro });

// Your own API, with the credential added and renewed by the client.
export function loadOrders() {
  return auth.request({ url: '/orders' });
}

// Your API's own refusal comes back as it is: no re-login, no second DELETE, the body in err.data.
export function deleteOrder(id) {
  return auth.request({ url: '/orders/' + id, method: 'DELETE' }).then(() => true, (err) => {
    if (err.code === ClientErrorCodes.HTTP_ERROR && err.status === 403) {
      Taro.showToast({ title: err.data.msg, icon: 'none' });
      return false;
    }
    throw err;
  });
}
