// pages/index/index.js: the profile fill-in (avatar, nickname), the phone number, privacy consent, logout.
// There is no login code on the page: every call waits for the session and renews it when needed.
const { ClientErrorCodes } = require('wxauth-client');

const app = getApp();

Page({
  data: {
    loggedOut: false,
    openid: '',
    nickName: '',
    avatarUrl: '',
    phone: '',
    privacyShown: false,
    error: ''
  },

  onLoad() {
    // Privacy consent (base library 2.32.3+): the avatar button, the nickname input and the phone button
    // need it. WeChat asks the page to show its own popup; from base library 3.4.2 the consent is part of
    // WeChat's permission popup and this listener is simply not called.
    if (wx.onNeedPrivacyAuthorization) {
      wx.onNeedPrivacyAuthorization((resolve) => {
        this.resolvePrivacy = resolve;
        this.setData({ privacyShown: true });
      });
    }
    return this.refresh();
  },

  // GET /me. The first call of a fresh install logs in on its own; an expired or revoked session is
  // renewed on the way, without the page noticing.
  refresh() {
    if (app.auth.isLoggedOut()) {
      this.setData({ loggedOut: true, openid: '', nickName: '', avatarUrl: '', phone: '', error: '' });
      return Promise.resolve();
    }
    return app.auth.me().then((me) => {
      this.setData({
        loggedOut: false,
        openid: me.openid,
        nickName: me.user ? me.user.nickName : '',
        avatarUrl: me.user ? me.user.avatarUrl : '',
        // A stored phone number hides the phone button: asking WeChat again would cost money.
        phone: me.phone ? me.phone.phoneNumber : '',
        error: ''
      });
      if (!me.user && wx.requirePrivacyAuthorize) {
        // A new user will fill in the profile: ask for consent now rather than on the first tap.
        wx.requirePrivacyAuthorize({ fail: () => undefined });
      }
    }).catch((err) => this.showError(err));
  },

  // The privacy popup of this page: "Agree" is <button open-type="agreePrivacyAuthorization">.
  onAgreePrivacy() {
    this.setData({ privacyShown: false });
    if (this.resolvePrivacy) this.resolvePrivacy({ buttonId: 'agree-privacy', event: 'agree' });
  },

  onDisagreePrivacy() {
    this.setData({ privacyShown: false });
    if (this.resolvePrivacy) this.resolvePrivacy({ event: 'disagree' });
  },

  onOpenPrivacyContract() {
    wx.openPrivacyContract({});
  },

  // <button open-type="chooseAvatar">: detail.avatarUrl is a temporary local file. updateAvatar uploads
  // it to POST /avatar (wx.uploadFile) and answers the profile, whose avatarUrl the server now serves.
  onChooseAvatar(e) {
    return app.auth.updateAvatar(e.detail.avatarUrl)
      .then((profile) => this.setData({ avatarUrl: profile.avatarUrl, error: '' }))
      .catch((err) => this.showError(err));
  },

  // <form bindsubmit>: the value of <input type="nickname"> arrives with the form, which also covers a
  // nickname picked from WeChat's suggestion above the keyboard.
  onSave(e) {
    const nickName = (e.detail.value.nickName || '').trim();
    if (!nickName) {
      wx.showToast({ title: 'Choose a nickname', icon: 'none' });
      return Promise.resolve();
    }
    return app.auth.updateProfile({ nickName })
      .then((res) => this.setData({ nickName: res.user.nickName, error: '' }))
      .catch((err) => this.showError(err));
  },

  // <button open-type="getPhoneNumber">: every successful tap costs money (¥0.03), so the button is only
  // shown while GET /me has no phone, and a known number is never asked for again.
  onGetPhoneNumber(e) {
    if (this.data.phone) return Promise.resolve();
    return app.auth.getPhoneNumber(e.detail)
      .then((res) => this.setData({ phone: res.phone.phoneNumber, error: '' }))
      .catch((err) => {
        if (err.code === ClientErrorCodes.USER_DENIED) return; // the user said no: nothing to report
        this.showError(err);
      });
  },

  onLogin() {
    return app.auth.login().then(() => this.refresh()).catch((err) => this.showError(err));
  },

  onLogout() {
    // Resolves or rejects, the user is logged out either way, and stays so (even after a restart) until
    // they tap "Log in": a request still on its way cannot log them in again.
    return app.auth.logout().catch(() => undefined).then(() => this.refresh());
  },

  showError(err) {
    // err is a WxAuthError: err.code is the server's error code or a client one (NETWORK_ERROR...).
    if (err.code === ClientErrorCodes.NOT_LOGGED_IN) return this.refresh();
    const titles = {
      [ClientErrorCodes.NETWORK_ERROR]: 'No network, try again',
      // A configuration mistake, not the network: add the API host to the mini program's legal domains.
      [ClientErrorCodes.DOMAIN_NOT_ALLOWED]: 'API host not in the legal domains',
      // The paid phone-number quota is used up: top it up in the mini program admin console.
      [ClientErrorCodes.PHONE_QUOTA_EXHAUSTED]: 'Phone number unavailable, try later'
    };
    this.setData({ error: err.code });
    wx.showToast({ title: titles[err.code] || 'Something went wrong (' + err.code + ')', icon: 'none' });
    return undefined;
  }
});
