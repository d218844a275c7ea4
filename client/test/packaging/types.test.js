'use strict';
/**
 * The typings matrix (issue 17.7): index.d.ts with miniprogram-api-typings 3.x, 4.x, 5.x and without any,
 * each with TypeScript 4.9, 5.x and the current release, `strict` and `skipLibCheck: false` (so index.d.ts
 * itself is checked). Plus the installs a mini program developer makes: a copy (npm pack, or
 * `npm install --install-links`) and a symlink (`npm install ../path`) next to the project's own typings,
 * which used to pull the checkout's typings in a second time (91 duplicate-global errors), and a project
 * without typings (TS2688 "Cannot find type definition file").
 */
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFile } = require('node:child_process');
const { CLIENT_DIR, packTarball, installTarball } = require('../build');

const COMPILERS = {
  'TypeScript 4.9': 'typescript49',
  'TypeScript 5.x': 'typescript5',
  'TypeScript current': 'typescript'
};
const TYPINGS = {
  'typings 3.x': 'miniprogram-api-typings3',
  'typings 4.x': 'miniprogram-api-typings4',
  'typings 5.x': 'miniprogram-api-typings5',
  'no typings': null
};

function versionOf(pkg) {
  return JSON.parse(fs.readFileSync(path.join(CLIENT_DIR, 'node_modules', pkg, 'package.json'), 'utf8')).version;
}

/** The declaration file a package's `types` (or `typings`) field names. */
function typingsEntry(pkg) {
  const dir = path.join(CLIENT_DIR, 'node_modules', pkg);
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
  return path.join(dir, manifest.types || manifest.typings || 'index.d.ts');
}

function tsc(compiler, project) {
  const bin = path.join(CLIENT_DIR, 'node_modules', compiler, 'bin', 'tsc');
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, '--noEmit', '-p', project], { cwd: path.dirname(project) }, (err, stdout, stderr) => {
      resolve({ ok: !err, output: (stdout + stderr).trim() });
    });
  });
}

const COMPILER_OPTIONS = {
  strict: true,
  noEmit: true,
  target: 'es2017',
  module: 'nodenext',
  moduleResolution: 'nodenext',
  lib: ['es2017'],
  skipLibCheck: false,
  noUnusedLocals: true
};

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wxauth-types-'));
test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));

test('the typings matrix: 3.x, 4.x, 5.x and none, with TypeScript 4.9, 5.x and current', { concurrency: 2 }, async (t) => {
  const runs = [];
  for (const [compilerName, compiler] of Object.entries(COMPILERS)) {
    for (const [typingsName, typings] of Object.entries(TYPINGS)) {
      const label = compilerName + ' (' + versionOf(compiler) + ') + ' + typingsName + (typings ? ' (' + versionOf(typings) + ')' : '');
      runs.push(t.test(label, async () => {
        const project = path.join(tmp, compiler + '-' + (typings || 'none') + '.json');
        const files = [path.join(CLIENT_DIR, 'index.d.ts'), path.join(CLIENT_DIR, 'types', 'usage.ts')];
        if (typings) files.push(typingsEntry(typings), path.join(CLIENT_DIR, 'types', 'usage-wx.ts'));
        fs.writeFileSync(project, JSON.stringify({
          // The project lives in a temporary folder: the typings are named by file, as `types` would find them.
          compilerOptions: Object.assign({}, COMPILER_OPTIONS, { types: [] }),
          files
        }, null, 2));
        const res = await tsc(compiler, project);
        assert.ok(res.ok, label + ':\n' + res.output);
      }));
    }
  }
  await Promise.all(runs);
});

test('index.d.ts has no hard reference to miniprogram-api-typings, and the peer range takes 3.x-5.x', () => {
  const dts = fs.readFileSync(path.join(CLIENT_DIR, 'index.d.ts'), 'utf8');
  assert.doesNotMatch(dts, /^\/\/\/\s*<reference/m);
  assert.doesNotMatch(dts, /WechatMiniprogram\./, 'no dependency on the typings\' global namespace');
  const pkg = JSON.parse(fs.readFileSync(path.join(CLIENT_DIR, 'package.json'), 'utf8'));
  assert.equal(pkg.peerDependencies['miniprogram-api-typings'], '>=3.0.0');
  assert.equal(pkg.peerDependenciesMeta['miniprogram-api-typings'].optional, true);
  for (const typings of Object.values(TYPINGS).filter(Boolean)) {
    const major = Number(versionOf(typings).split('.')[0]);
    assert.ok(major >= 3, typings + ' inside the peer range');
  }
});

/** A consumer mini program in TypeScript: its own typings (or none) and wxauth-client installed `how`. */
async function consumer(how, typings, compiler) {
  const dir = fs.mkdtempSync(path.join(tmp, 'consumer-'));
  const modules = path.join(dir, 'node_modules');
  fs.mkdirSync(modules);
  if (how === 'copy') {
    installTarball(packTarball(dir).tarball, dir);
  } else {
    fs.symlinkSync(CLIENT_DIR, path.join(modules, 'wxauth-client'), 'dir');
  }
  if (typings) fs.symlinkSync(path.join(CLIENT_DIR, 'node_modules', typings), path.join(modules, 'miniprogram-api-typings'), 'dir');
  fs.writeFileSync(path.join(dir, 'app.ts'), [
    "import { createClient, ClientErrorCodes } from 'wxauth-client';",
    typings ? 'export const auth = createClient({ baseUrl: \'https://api.example.com\', wx });'
      : 'declare const host: { login(): void; request(): void; getStorageSync(): void; setStorageSync(): void; removeStorageSync(): void };\n' +
        'export const auth = createClient({ baseUrl: \'https://api.example.com\', wx: host });',
    'export const code: string = ClientErrorCodes.NOT_LOGGED_IN;',
    ''
  ].join('\n'));
  const project = path.join(dir, 'tsconfig.json');
  fs.writeFileSync(project, JSON.stringify({
    compilerOptions: Object.assign({}, COMPILER_OPTIONS, { types: typings ? ['miniprogram-api-typings'] : [] }),
    files: ['app.ts']
  }, null, 2));
  return tsc(compiler, project);
}

test('installs: a copy (npm pack / --install-links) and a symlink, next to typings 4.x, and without typings', { concurrency: 2 }, async (t) => {
  const runs = [];
  for (const how of ['copy', 'symlink']) {
    for (const typings of ['miniprogram-api-typings4', null]) {
      for (const compiler of ['typescript49', 'typescript']) {
        const label = how + ' install, ' + (typings || 'no typings') + ', ' + compiler;
        runs.push(t.test(label, async () => {
          const res = await consumer(how, typings, compiler);
          assert.ok(res.ok, label + ':\n' + res.output);
        }));
      }
    }
  }
  await Promise.all(runs);
});
