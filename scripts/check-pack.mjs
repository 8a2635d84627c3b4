#!/usr/bin/env node
// `npm run check:pack`: what `npm pack` would put in the tarball, checked against what an install
// needs (the compiled API, its types, the prebuilt addon, the sources of the build-from-source
// fallback) and against what must stay out (tests, benchmarks, caches, local builds, tarballs).
// Exit status 1 with one line per problem. test/unit/package.test.ts runs the same checks.
//
//   --scripts   run prepack (tsc and the prebuild) first, as a real `npm pack` does; by default
//               the tarball is listed from the current dist/ and prebuilds/ (--ignore-scripts)
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Everything in the tarball matches one of these. */
const ALLOWED = [
  /^package\.json$/,
  /^README\.md$/,
  /^LICEN[CS]E(\.\w+)?$/,
  /^binding\.gyp$/,
  /^native\/(?:[\w-]+\/)?[\w-]+\.(cc|h)$/,
  /^dist\/[\w/-]+(\.js|\.d\.ts)$/,
  /^prebuilds\/[\w]+-[\w+]+\/[\w.-]+\.node$/,
  /^examples\/[\w-]+\.ts$/,
  /^scripts\/install\.js$/,
];

/** Named so that the problem says what went wrong (all of these are also outside ALLOWED). */
const FORBIDDEN = [
  [/^test\//, 'a test source'],
  [/^out\//, "the tests' build (compiled tests, benches and examples)"],
  [/^bench\//, 'a benchmark'],
  [/^\.cache\//, 'the local cache (Xen in a box images, promtool)'],
  [/^build\//, 'the local node-gyp build (the prebuild and the sources replace it)'],
  [/\.tgz$/, 'a tarball'],
  [/^\.ci\//, 'CI configuration'],
  [/(^|\/)node_modules\//, 'node_modules'],
  [/^docs\//, 'the generated API reference'],
  [/\.map$/, 'a source map (its sources, src/*.ts, are not shipped)'],
  [/^src\//, 'a TypeScript source'],
  [/^scripts\/(?!install\.js$)/, 'a development script'],
];

/** An unpacked size above this means something big came in by mistake (a prebuild is ~0.5 MB). */
export const MAX_UNPACKED = 4 * 1024 * 1024;

/**
 * The problems of a tarball's file list (paths relative to the package root), given the
 * package.json and the checkout it was packed from. Empty when the tarball is right.
 */
export function checkPack(files, pkg = readPackage(), root = ROOT) {
  const problems = [];
  const have = new Set(files);
  const need = (file, why) => {
    if (!have.has(file)) problems.push(`missing ${file} (${why})`);
  };

  for (const file of files) {
    const bad = FORBIDDEN.find(([re]) => re.test(file));
    if (bad) problems.push(`forbidden ${file}: ${bad[1]}`);
    else if (!ALLOWED.some((re) => re.test(file)))
      problems.push(`unexpected ${file}: not in the allow-list of scripts/check-pack.mjs`);
  }

  need('package.json', 'npm');
  need('README.md', 'the documentation');
  need('binding.gyp', 'the build-from-source fallback');
  need('scripts/install.js', 'the install script (keeps the prebuild on a machine without Xen)');
  // Every source the build-from-source fallback compiles, and every header in native/.
  const gyp = JSON.parse(fs.readFileSync(path.join(root, 'binding.gyp'), 'utf8'));
  for (const target of gyp.targets) for (const src of target.sources) need(src, `a source of ${target.target_name}`);
  for (const f of fs.readdirSync(path.join(root, 'native'), { recursive: true })) {
    if (/\.(cc|h)$/.test(f)) need(`native/${f.split(path.sep).join('/')}`, 'a native source');
  }

  // The entry points: main, types, bin, and every target of the exports map.
  const targets = [pkg.main, pkg.types, ...Object.values(pkg.bin ?? {})];
  const walk = (v) => {
    if (typeof v === 'string') targets.push(v);
    else if (v && typeof v === 'object') Object.values(v).forEach(walk);
  };
  walk(pkg.exports);
  for (const t of targets) need(path.posix.normalize(t), 'an entry point of package.json');
  need('dist/index.js', 'the API');
  need('dist/index.d.ts', "the API's types");

  // Each TypeScript source under src/ compiled, with its declarations.
  for (const ts of listTs(path.join(root, 'src'))) {
    const base = `dist/${path.relative(path.join(root, 'src'), ts).replace(/\.ts$/, '')}`;
    need(`${base}.js`, `the compiled src/${base.slice(5)}.ts`);
    need(`${base}.d.ts`, `the declarations of src/${base.slice(5)}.ts`);
  }

  // The prebuilt addons (one per Xen version) the loader takes when the package has no build/.
  if (!files.some((f) => /^prebuilds\/linux-x64\/[\w.-]+\.node$/.test(f))) {
    problems.push('missing prebuilds/linux-x64/*.node (npm run build:prebuild; prepack builds it)');
  }
  return problems;
}

function listTs(dir) {
  const out = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...listTs(p));
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

export function readPackage(root = ROOT) {
  return JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
}

/** `npm pack --dry-run --json`: { files, size, unpackedSize, entryCount, filename }. */
export function packList({ scripts = false, root = ROOT } = {}) {
  const args = ['pack', '--dry-run', '--json', '--loglevel=error'];
  if (!scripts) args.push('--ignore-scripts');
  const r = spawnSync('npm', args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', scripts ? 'inherit' : 'pipe'] });
  if (r.status !== 0) throw new Error(`npm ${args.join(' ')} exited with ${r.status}: ${r.stderr ?? ''}`);
  // With scripts, prepack's own output comes first on stdout; the JSON is the last thing printed.
  const json = JSON.parse(r.stdout.slice(r.stdout.lastIndexOf('\n[\n') + 1 || 0))[0];
  return { ...json, files: json.files.map((f) => f.path) };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const pack = packList({ scripts: process.argv.includes('--scripts') });
  const problems = checkPack(pack.files);
  if (pack.unpackedSize > MAX_UNPACKED) problems.push(`unpacked size ${pack.unpackedSize} bytes is over ${MAX_UNPACKED}`);
  for (const p of problems) console.error(`check-pack: ${p}`);
  console.log(
    `check-pack: ${pack.filename}: ${pack.entryCount} files, ${pack.size} bytes packed, ` +
      `${pack.unpackedSize} unpacked: ${problems.length ? `${problems.length} problem(s)` : 'ok'}`,
  );
  process.exit(problems.length ? 1 : 0);
}
