'use strict';
/** Shared set-up of the unit tests: a fake server, a wx fake logging in against it, a client. */
const assert = require('node:assert/strict');
const { startFakeServer } = require('./fake-server');
const { createWxFake, countRequests } = require('./wx-fake');
const { createClient, WxAuthError } = require('./client');

/**
 * Starts a fake server and returns {server, wx, counter, client, newClient, close}.
 * `wx` is the raw fake (storage, calls, checkSession knobs); the client sees `counter.wx`, which counts
 * every wx.request / wx.uploadFile. `newClient(extra)` makes another client (a new "app start") over the
 * same wx storage unless extra.wx is given.
 */
async function setup({ server: serverOptions, user = 'alice', codeProvider, client: clientOptions, wx: wxOptions } = {}) {
  const server = await startFakeServer(serverOptions);
  const wx = createWxFake(Object.assign({ codeProvider: codeProvider || (() => server.mintCode(user)) }, wxOptions));
  const counter = countRequests(wx);
  const newClient = (extra = {}) => createClient(Object.assign({ baseUrl: server.url, wx: counter.wx }, clientOptions, extra));
  const client = newClient();
  return { server, wx, counter, client, newClient, close: () => server.close() };
}

/** Resolves with the rejection reason of `promise`; fails when it resolves. */
async function rejectionOf(promise) {
  try {
    const value = await promise;
    throw new Error('expected a rejection, got ' + JSON.stringify(value));
  } catch (err) {
    return err;
  }
}

/** `err` is a WxAuthError with this code (and HTTP status, when given) and a message. */
function assertWxAuthError(err, code, status) {
  assert.ok(err instanceof WxAuthError, 'expected a WxAuthError, got ' + (err && err.stack));
  assert.ok(err instanceof Error);
  assert.equal(err.name, 'WxAuthError');
  assert.equal(err.code, code, err.message);
  if (status !== undefined) assert.equal(err.status, status, err.message);
  assert.equal(typeof err.message, 'string');
  assert.ok(err.message.length > 0);
}

module.exports = { setup, rejectionOf, assertWxAuthError };
