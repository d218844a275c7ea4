// app.js: one wxauth client for the whole mini program.
const { createClient } = require('wxauth-client');
const { apiBase } = require('./config');

App({
  onLaunch() {
    this.auth = createClient({ baseUrl: apiBase });
    // After a logout the user stays logged out, across restarts, until they tap "Log in" (auth.login()).
    if (this.auth.isLoggedOut()) return Promise.resolve();
    // Log in early, so that WeChat's session_key is settled before the user taps a button that returns
    // encrypted data. Pages need not wait for this: every call of the client waits for the login itself,
    // and a failed login is simply tried again by the next call.
    return this.auth.ensureLogin().catch((err) => {
      console.warn('wxauth: login failed (' + err.code + '), the next request will try again');
    });
  }
});
