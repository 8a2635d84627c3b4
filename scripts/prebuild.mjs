#!/usr/bin/env node
// `npm run build:prebuild`: the prebuilt addon that `npm pack` ships, built by prebuildify for
// this platform (linux-x64) with Node-API (one binary for every Node >= 20), stripped, into
// prebuilds/<platform>-<arch>/xenlight.glibc.node — where node-gyp-build finds it when the
// package has no build/ (an installed tarball).
//
// prebuildify runs `node-gyp rebuild` in its working directory and then *moves* the result out
// of build/Release; run in the checkout, that would delete the build/ everyone else's tests are
// loading. So the sources (binding.gyp, native/) are staged in a temporary directory and built
// there; build/ is never touched.
//
//   --if-stale   do nothing when the prebuild is newer than binding.gyp and every native/ file
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const NAME = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).name;
const TUPLE = `${os.platform()}-${os.arch()}`;
const OUT_DIR = path.join(ROOT, 'prebuilds', TUPLE);
// --tag-libc: a musl system (Alpine) does not take this glibc binary and builds from source.
const FILE = `${NAME}.glibc.node`;
export const PREBUILD = path.join(OUT_DIR, FILE);

function sources() {
  const native = path.join(ROOT, 'native');
  return [path.join(ROOT, 'binding.gyp'), ...fs.readdirSync(native, { recursive: true }).map((f) => path.join(native, f))];
}

function stale() {
  if (!fs.existsSync(PREBUILD)) return true;
  const built = fs.statSync(PREBUILD).mtimeMs;
  return sources().some((f) => fs.statSync(f).mtimeMs > built);
}

if (process.argv.includes('--if-stale') && !stale()) {
  console.error(`prebuild: ${path.relative(ROOT, PREBUILD)} is up to date`);
  process.exit(0);
}

const stage = fs.mkdtempSync(path.join(os.tmpdir(), 'xenlight-prebuild-'));
try {
  fs.copyFileSync(path.join(ROOT, 'binding.gyp'), path.join(stage, 'binding.gyp'));
  fs.cpSync(path.join(ROOT, 'native'), path.join(stage, 'native'), { recursive: true });
  fs.writeFileSync(path.join(stage, 'package.json'), JSON.stringify({ name: NAME, private: true }));
  // binding.gyp asks node for node-addon-api's include dir from the build directory.
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(stage, 'node_modules'));

  const env = { ...process.env };
  // Node's own headers where this Node installed them (Debian's /usr/include/node), instead of
  // a download from nodejs.org; npm passes its `nodedir` setting this way too.
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  if (!env.npm_config_nodedir && fs.existsSync(path.join(prefix, 'include', 'node', 'node_api.h'))) {
    env.npm_config_nodedir = prefix;
  }
  const args = ['--napi', '--strip', '--tag-libc', '--target', process.versions.node, '--out', path.join(stage, 'out')];
  console.error(`prebuild: prebuildify ${args.slice(0, -2).join(' ')} (in ${stage})`);
  const r = spawnSync(path.join(ROOT, 'node_modules', '.bin', 'prebuildify'), args, {
    cwd: stage,
    env,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (r.error) throw r.error;
  if (r.status !== 0) {
    console.error(`prebuild: prebuildify exited with ${r.status ?? r.signal}`);
    process.exit(1);
  }
  const built = path.join(stage, 'out', 'prebuilds', TUPLE, FILE);
  if (!fs.existsSync(built)) throw new Error(`prebuildify made no ${built}`);
  // Replace the prebuild in one rename; drop any other (older naming) binary of this platform.
  fs.mkdirSync(OUT_DIR, { recursive: true });
  fs.copyFileSync(built, `${PREBUILD}.tmp`);
  fs.renameSync(`${PREBUILD}.tmp`, PREBUILD);
  for (const f of fs.readdirSync(OUT_DIR)) if (f !== FILE) fs.rmSync(path.join(OUT_DIR, f), { force: true });
  console.error(`prebuild: ${path.relative(ROOT, PREBUILD)} (${fs.statSync(PREBUILD).size} bytes)`);
} finally {
  fs.rmSync(stage, { recursive: true, force: true });
}
