'use strict';
/**
 * The package as it ships, built the way a mini program developer builds it:
 *
 *   npm pack                       -> wxauth-client-<version>.tgz (only the `files` of package.json)
 *   npm install <tgz> in a mini program project -> node_modules/wxauth-client (a copy, not a symlink)
 *   DevTools "Tools -> Build npm"  -> miniprogram_npm/wxauth-client/index.js
 *
 * The last step is miniprogram-ci's packNpmManually: the same npm builder as the DevTools, published by
 * Tencent as a Node package; it runs offline. Every step happens in a fresh temporary folder.
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');

const CLIENT_DIR = path.join(__dirname, '..');

/** `npm pack` of the client into `dir`; returns the tarball's path. */
function packTarball(dir) {
  const out = execFileSync('npm', ['pack', '--json', '--pack-destination', dir], {
    cwd: CLIENT_DIR, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe']
  });
  const [info] = JSON.parse(out);
  return { tarball: path.join(dir, info.filename), files: info.files.map((f) => f.path).sort() };
}

/** Installs the tarball into `projectDir/node_modules/wxauth-client` the way npm does: by extracting it. */
function installTarball(tarball, projectDir) {
  const target = path.join(projectDir, 'node_modules', 'wxauth-client');
  fs.mkdirSync(target, { recursive: true });
  execFileSync('tar', ['-xzf', tarball, '-C', target, '--strip-components=1']);
  return target;
}

/**
 * A fresh mini program project with the packed client installed and "Build npm" run on it. Returns
 * {dir, built, files}: `built` is the path of miniprogram_npm/wxauth-client/index.js.
 */
async function buildMiniprogramNpm() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wxauth-mp-'));
  const { tarball, files } = packTarball(dir);
  const project = path.join(dir, 'miniprogram');
  fs.mkdirSync(project);
  fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({
    name: 'demo-miniprogram', version: '1.0.0', private: true, dependencies: { 'wxauth-client': 'file:' + tarball }
  }, null, 2));
  installTarball(tarball, project);
  const ci = require('miniprogram-ci');
  const log = console.log;
  console.log = () => {}; // miniprogram-ci greets on stdout, which would end up in the TAP stream
  let result;
  try {
    result = await ci.packNpmManually({
      packageJsonPath: path.join(project, 'package.json'),
      miniprogramNpmDistDir: project
    });
  } finally {
    console.log = log;
  }
  const built = path.join(project, 'miniprogram_npm', 'wxauth-client', 'index.js');
  if (!fs.existsSync(built)) throw new Error('miniprogram-ci built no ' + built + ': ' + JSON.stringify(result));
  return { dir, project, built, files, result, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

module.exports = { CLIENT_DIR, packTarball, installTarball, buildMiniprogramNpm };
