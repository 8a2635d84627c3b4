#!/usr/bin/env node
// `npm install` of xenlight. The package ships a prebuilt addon per Xen version (libxenlight's
// soname changes with each release); the loader (dist/core/native.js) takes the one whose
// libxenlight this host has. A machine without Xen's libraries (a developer laptop, a CI runner)
// loads none, and must not need a compiler for that. So:
// - the prebuild of this host's Xen (or a local build) loads: done;
// - it loads but for Xen's libraries (none installed): keep it and say so; `require('xenlight')`
//   works, and Host.open() names what is missing (ERR_NOT_XEN, ERR_NO_LIBXENLIGHT);
// - no binary fits this platform, the host has a Xen with no prebuild (ERR_XEN_ABI), or
//   --build-from-source: compile with node-gyp (needs libxen-dev, g++, make, python3).
'use strict';
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const root = path.resolve(__dirname, '..');

/** node-gyp: our own dependency, npm's (npm_config_node_gyp, or the one next to npm's CLI), or PATH's. */
function nodeGyp() {
  const fs = require('node:fs');
  try {
    const pkg = require.resolve('node-gyp/package.json');
    const bin = require(pkg).bin;
    return [process.execPath, path.join(path.dirname(pkg), typeof bin === 'string' ? bin : bin['node-gyp'])];
  } catch {
    // not a dependency of ours
  }
  const npmCli = process.env.npm_execpath;
  const candidates = [
    process.env.npm_config_node_gyp,
    npmCli && path.join(path.dirname(npmCli), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ];
  for (const c of candidates) if (c && fs.existsSync(c)) return [process.execPath, c];
  return ['node-gyp'];
}

function build(why) {
  console.error(`xenlight: building from source (${why})`);
  const args = [...nodeGyp(), 'rebuild'];
  const r = spawnSync(args[0], args.slice(1), { cwd: root, stdio: 'inherit' });
  if (r.error)
    console.error(`xenlight: cannot run node-gyp (${r.error.message}): install it, or libxen-dev, g++, make and python3`);
  process.exit(r.status ?? 1);
}

function main() {
  if (process.env.npm_config_build_from_source === 'true') return build('--build-from-source');
  let native;
  try {
    // The loader itself (shipped compiled in dist/): the file it takes and, if none loads, the
    // error the user would see later.
    native = require(path.join(root, 'dist', 'core', 'native.js'));
  } catch (err) {
    return build(`no compiled loader (${String(err && err.message).split('\n')[0]})`);
  }
  const found = native.findAddon('install', root);
  if (found.file) return undefined;
  if (found.error.code === 'ERR_NO_LIBXENLIGHT') {
    const kept = native.addonFiles(root, () => []);
    console.error(
      `xenlight: kept the prebuilt binaries (for Xen ${kept.prebuilt.join(', ') || 'none'}); they need Xen's libraries, ` +
        `which this machine lacks:\n  ${found.error.message}`,
    );
    return undefined;
  }
  return build(found.error.message);
}

main();
