'use strict';
/**
 * The client under test. By default the source (`require('..')`). With WXAUTH_CLIENT_BUILD set to the path
 * of the file that the DevTools npm build produced (miniprogram_npm/wxauth-client/index.js, see
 * test/build.js), every unit test runs against THAT file instead, loaded the way the mini program loads
 * it: as a function of (require, module, exports) whose other free names are not Node's. Node's globals
 * (process, Buffer, global, setImmediate, require's resolution...) are shadowed by undefined, so a use of
 * any of them fails. `wx`, timers, console and the JS built-ins stay, as in the mini program. (The same
 * file also runs in a separate realm with nothing else in test/packaging/sandbox.test.js.)
 */
const fs = require('node:fs');

const NODE_ONLY = [
  'process', 'Buffer', 'global', 'setImmediate', 'clearImmediate', 'queueMicrotask', '__dirname', '__filename',
  'structuredClone', 'fetch', 'URL', 'URLSearchParams', 'TextEncoder', 'TextDecoder', 'AbortController',
  'performance', 'navigator', 'crypto', 'atob', 'btoa', 'Blob', 'MessageChannel', 'BroadcastChannel', 'WebAssembly'
];

function loadBuilt(file) {
  const source = fs.readFileSync(file, 'utf8');
  // eslint-disable-next-line no-new-func
  const fn = new Function(['require', 'module', 'exports'].concat(NODE_ONLY).join(','), source);
  const module = { exports: {} };
  const requireShim = (name) => { throw new Error('the built client required ' + name + ': it must need nothing'); };
  fn(requireShim, module, module.exports);
  return module.exports;
}

const built = process.env.WXAUTH_CLIENT_BUILD;
module.exports = built ? loadBuilt(built) : require('..');
