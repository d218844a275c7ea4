// pages/index/index.js: profile (avatar + nickname) and phone number, with no login code in sight.
const { ClientErrorCodes } = require('wxauth-client');

const app = getApp();

Page({
  data: {
    openid: '',
    nickName: '',
    avatarUrl: '',
    phone: '',
    error: ''
  },

  onLoad() {
    return this.refresh();
  },

  // GET /me. The first call of a fresh install logs in on its own; an expired or revoked session is
  // renewed on the way, without the page noticing.
  refresh() {
    return app.auth.me().then((me) => {
      this.setData({
        openid: me.openid,
        nickName: me.user ? me.user.nickName : '',
        avatarUrl: me.user ? me.user.avatarUrl : '',
        phone: me.phone ? me.phone.phoneNumber : '',
        error: ''
      });
    }).catch((err) => this.showError(err));
  },

  // <button open-type="chooseAvatar">: detail.avatarUrl is a temporary local file. Upload it right away
  // to your own upload route (wxauth stores no files) and keep the URL it answers with.
  onChooseAvatar(e) {
    return app.auth.uploadFile({ url: '/avatar', filePath: e.detail.avatarUrl, name: 'file' })
      .then((res) => this.setData({ avatarUrl: res.url, error: '' }))
      .catch((err) => this.showError(err));
  },

  // <form bindsubmit>: the value of <input type="nickname"> arrives with the form, which also covers a
  // nickname picked from WeChat's suggestion above the keyboard.
  onSave(e) {
    const nickName = (e.detail.value.nickName || '').trim();
    if (!nickName || !this.data.avatarUrl) {
      wx.showToast({ title: 'Choose an avatar and a nickname', icon: 'none' });
      return Promise.resolve();
    }
    return app.auth.updateProfile({ nickName, avatarUrl: this.data.avatarUrl })
      .then((res) => this.setData({ nickName: res.user.nickName, avatarUrl: res.user.avatarUrl, error: '' }))
      .catch((err) => this.showError(err));
  },

  // <button open-type="getPhoneNumber">: the detail carries a single-use code for POST /phone.
  onGetPhoneNumber(e) {
    return app.auth.getPhoneNumber(e.detail)
      .then((res) => this.setData({ phone: res.phone.phoneNumber, error: '' }))
      .catch((err) => {
        if (err.code === ClientErrorCodes.USER_DENIED) return; // the user said no: nothing to report
        this.showError(err);
      });
  },

  onLogout() {
    // Resolves or rejects, the stored skey is gone either way; the next call would log in again.
    return app.auth.logout().catch(() => undefined).then(() => {
      this.setData({ openid: '', nickName: '', avatarUrl: '', phone: '', error: '' });
    });
  },

  showError(err) {
    // err is a WxAuthError: err.code is the server's error code or a client one (NETWORK_ERROR...).
    const offline = err.code === ClientErrorCodes.NETWORK_ERROR;
    this.setData({ error: err.code });
    wx.showToast({ title: offline ? 'No network, try again' : 'Something went wrong (' + err.code + ')', icon: 'none' });
  }
});
