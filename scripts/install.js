#!/usr/bin/env node
// `npm install` of xenlight. node-gyp-build alone compiles whenever the prebuild fails to load,
// and a machine without Xen's libraries (a developer laptop, a CI runner) fails that load too, so
// the install would fail there for want of a compiler. Instead:
// - the prebuild (or a local build) loads: done;
// - it loads but for Xen's libraries (none installed): keep it and say so; `require('xenlight')`
//   works, and Host.open() names what is missing (ERR_NOT_XEN, ERR_NO_LIBXENLIGHT);
// - no binary fits this platform, the host has another Xen version (ERR_XEN_ABI), or
//   --build-from-source: compile with node-gyp (needs libxen-dev, g++, make, python3).
'use strict';
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const root = path.resolve(__dirname, '..');

function build(why) {
  console.error(`xenlight: building from source (${why})`);
  let args = ['node-gyp', 'rebuild'];
  // npm's own node-gyp, as node-gyp-build finds it.
  const npmGyp = process.env.npm_config_node_gyp;
  try {
    const pkg = require.resolve('node-gyp/package.json');
    const bin = require(pkg).bin;
    args = [process.execPath, path.join(path.dirname(pkg), typeof bin === 'string' ? bin : bin['node-gyp']), 'rebuild'];
  } catch {
    if (npmGyp) args = [process.execPath, npmGyp, 'rebuild'];
  }
  const r = spawnSync(args[0], args.slice(1), { cwd: root, stdio: 'inherit' });
  process.exit(r.status ?? 1);
}

function main() {
  if (process.env.npm_config_build_from_source === 'true') return build('--build-from-source');
  let file;
  try {
    file = require('node-gyp-build').path(root);
  } catch {
    return build(`no prebuilt binary for ${process.platform}-${process.arch}`);
  }
  try {
    require(file);
    return undefined;
  } catch (err) {
    let classified;
    try {
      // The loader's own diagnosis (shipped compiled in dist/): what the user will see later.
      classified = require(path.join(root, 'dist', 'src', 'native.js')).loadError('install', err);
    } catch {
      return build(String(err && err.message));
    }
    if (classified.code === 'ERR_NO_LIBXENLIGHT') {
      console.error(`xenlight: kept the prebuilt binary (${path.relative(root, file)}); it needs Xen's libraries, ` +
        `which this machine lacks:\n  ${classified.message}`);
      return undefined;
    }
    return build(classified.message);
  }
}

main();
