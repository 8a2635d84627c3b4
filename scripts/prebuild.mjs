#!/usr/bin/env node
// `npm run build:prebuild`: the prebuilt addons that `npm pack` ships, one per Xen version, into
// prebuilds/<platform>-<arch>/xenlight.xen<version>.glibc.node. libxenlight's soname (and ABI)
// changes with every Xen release, so each version needs its own binary; the loader
// (src/core/native.ts, addonFiles) takes the one whose libxenlight the host has. Node-API: one
// binary per Xen version serves every Node >= 20.
//
// - The host's Xen (4.17 on Debian 12): prebuildify, in a temporary copy of the sources
//   (prebuildify *moves* build/Release away; the checkout's build/ is never touched).
// - Another Xen (4.20): node-gyp in a chroot of that version's Debian root, the one the Xen in a
//   box of that version runs (src/box/roots.ts, built once and cached), with the root's own
//   compiler, libxen-dev and Node headers: the same binary a Debian 13 machine would build, in
//   about 30 s (in the box's dom0, under QEMU's emulated CPU, it takes 8-10 minutes). Needs root
//   (chroot, mounts in a private namespace; nothing outside the namespace changes).
//
//   --xen V      build for Xen V (repeatable; 'host' is the host's own). Default: host.
//   --all        the host's Xen and every version that has a box root (what prepack ships)
//   --if-stale   skip a version whose prebuild is newer than binding.gyp and every native/ file
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const NAME = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).name;
const TUPLE = `${os.platform()}-${os.arch()}`;
const OUT_DIR = path.join(ROOT, 'prebuilds', TUPLE);
// glibc: a musl system (Alpine) does not take these binaries and builds from source.
const fileFor = (xen) => `${NAME}.xen${xen}.glibc.node`;
export const prebuildPath = (xen) => path.join(OUT_DIR, fileFor(xen));

function say(msg) {
  console.error(`prebuild: ${msg}`);
}

function sources() {
  const native = path.join(ROOT, 'native');
  return [path.join(ROOT, 'binding.gyp'), ...fs.readdirSync(native, { recursive: true }).map((f) => path.join(native, f))];
}

function stale(file) {
  if (!fs.existsSync(file)) return true;
  const built = fs.statSync(file).mtimeMs;
  return sources().some((f) => fs.statSync(f).mtimeMs > built);
}

/** The Xen version of the libxenlight the linker would use here (the dev symlink's target). */
export function hostXen() {
  const multiarch = { x64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu' }[process.arch];
  for (const dir of [multiarch && `/usr/lib/${multiarch}`, '/usr/lib64', '/usr/lib', '/usr/local/lib'].filter(Boolean)) {
    try {
      const target = fs.realpathSync(path.join(dir, 'libxenlight.so'));
      const m = /libxenlight\.so\.(\d+\.\d+)/.exec(path.basename(target));
      if (m) return m[1];
    } catch {
      // not in this directory
    }
  }
  throw new Error('no libxenlight.so (install libxen-dev): cannot build the prebuild for the host');
}

/** A staged copy of what the build needs: binding.gyp, native/, a package.json. */
function stage() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xenlight-prebuild-'));
  fs.copyFileSync(path.join(ROOT, 'binding.gyp'), path.join(dir, 'binding.gyp'));
  fs.cpSync(path.join(ROOT, 'native'), path.join(dir, 'native'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: NAME, private: true }));
  return dir;
}

function install(built, xen) {
  const dest = prebuildPath(xen);
  fs.mkdirSync(OUT_DIR, { recursive: true });
  fs.copyFileSync(built, `${dest}.tmp`);
  fs.renameSync(`${dest}.tmp`, dest);
  // Binaries of an older naming (xenlight.glibc.node): the loader no longer takes them.
  for (const f of fs.readdirSync(OUT_DIR))
    if (!/^\S+\.xen\d+\.\d+\.glibc\.node$/.test(f)) fs.rmSync(path.join(OUT_DIR, f), { force: true });
  say(`${path.relative(ROOT, dest)} (${fs.statSync(dest).size} bytes)`);
}

function buildHost(xen) {
  const dir = stage();
  try {
    // binding.gyp asks node for node-addon-api's include dir from the build directory.
    fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
    const env = { ...process.env };
    // Node's own headers where this Node installed them (Debian's /usr/include/node), instead of
    // a download from nodejs.org; npm passes its `nodedir` setting this way too.
    const prefix = path.resolve(path.dirname(process.execPath), '..');
    if (!env.npm_config_nodedir && fs.existsSync(path.join(prefix, 'include', 'node', 'node_api.h'))) {
      env.npm_config_nodedir = prefix;
    }
    const args = ['--napi', '--strip', '--tag-libc', '--target', process.versions.node, '--out', path.join(dir, 'out')];
    say(`Xen ${xen} (this host): prebuildify ${args.slice(0, -2).join(' ')} (in ${dir})`);
    const r = spawnSync(path.join(ROOT, 'node_modules', '.bin', 'prebuildify'), args, {
      cwd: dir,
      env,
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    if (r.error) throw r.error;
    if (r.status !== 0) throw new Error(`prebuildify exited with ${r.status ?? r.signal}`);
    const built = path.join(dir, 'out', 'prebuilds', TUPLE, `${NAME}.glibc.node`);
    if (!fs.existsSync(built)) throw new Error(`prebuildify made no ${built}`);
    install(built, xen);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function buildInRoot(xen) {
  const { prepareRoot, runInRoot } = require(path.join(ROOT, 'dist', 'box', 'roots.js'));
  const root = prepareRoot(xen, { log: say });
  const dir = stage();
  try {
    fs.mkdirSync(path.join(dir, 'node_modules'));
    const started = Date.now();
    say(`Xen ${xen}: node-gyp in a chroot of ${root.dir}`);
    const out = runInRoot(
      root,
      'cd /tmp/src && node node_modules/node-gyp/bin/node-gyp.js rebuild --nodedir=/usr -j 2 > gyp.log 2>&1 || { tail -40 gyp.log; exit 1; }; ' +
        'strip --strip-unneeded build/Release/xenlight.node && ldd build/Release/xenlight.node',
      { '/tmp/src': dir, '/tmp/src/node_modules': path.join(ROOT, 'node_modules') },
    );
    if (!new RegExp(`libxenlight\\.so\\.${xen.replace('.', '\\.')}\\b`).test(out)) {
      throw new Error(`the Xen ${xen} build does not link libxenlight.so.${xen}:\n${out}`);
    }
    install(path.join(dir, 'build', 'Release', 'xenlight.node'), xen);
    say(`Xen ${xen}: built in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function main(argv) {
  const host = hostXen();
  let versions = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--xen') versions.push(argv[++i] === 'host' ? host : argv[i]);
    else if (argv[i] === '--all') {
      const { XEN_VERSIONS } = require(path.join(ROOT, 'dist', 'box', 'roots.js'));
      versions.push(host, ...XEN_VERSIONS);
    } else if (argv[i] !== '--if-stale') throw new Error(`prebuild: unknown argument ${argv[i]}`);
  }
  if (!versions.length) versions = [host];
  for (const xen of [...new Set(versions)]) {
    if (argv.includes('--if-stale') && !stale(prebuildPath(xen))) {
      say(`${path.relative(ROOT, prebuildPath(xen))} is up to date`);
      continue;
    }
    if (xen === host) buildHost(xen);
    else buildInRoot(xen);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  try {
    main(process.argv.slice(2));
  } catch (e) {
    say(e.message);
    process.exit(1);
  }
}
