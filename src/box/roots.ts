// The root file systems of the boxes whose dom0 is not the host: a Debian 13 "trixie" root with
// Xen 4.20 (the 4.17 box's dom0 runs the host's own root). Built once with mmdebstrap from Debian's
// trixie suite, read through the host's own Debian mirror (the URI is taken from the system's apt
// sources at run time), and cached outside the checkout, keyed by the versions of every package
// in it, so that a fresh clone on the same machine reuses it.
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BoxSetupError } from './errors';

/** The Xen versions a box can run. '4.17' is the host's own (Debian 12); the others get a root. */
export type XenVersion = '4.17' | '4.20';
export const XEN_VERSIONS: readonly XenVersion[] = ['4.17', '4.20'];

export function parseXenVersion(v: string | undefined): XenVersion {
  if (v === undefined || v === '') return '4.17';
  if ((XEN_VERSIONS as readonly string[]).includes(v)) return v as XenVersion;
  throw new BoxSetupError(`no box for Xen ${v}: the box runs Xen ${XEN_VERSIONS.join(' or ')}`);
}

export interface RootSpec {
  xen: XenVersion;
  suite: string;
  /** Packages installed on top of the essential set (their dependencies come with them). */
  packages: string[];
}

/** Xen 4.20 from Debian 13 "trixie": hypervisor, tools, device model, kernel, build tools, Node. */
export const TRIXIE_420: RootSpec = {
  xen: '4.20',
  suite: 'trixie',
  packages: [
    'xen-hypervisor-4.20-amd64',
    'xen-utils-4.20',
    // The HVM device model (and qdisk backend), its firmware and the emulated NICs' option ROMs.
    'qemu-system-xen',
    'seabios',
    'ipxe-qemu',
    'linux-image-amd64',
    'kmod',
    'busybox-static',
    'iproute2',
    'procps',
    // What the integration suite runs in dom0 beside xl, as the 4.17 box has it from the host: disk
    // images, the HVM guests' boot CD, the exporter's HTTP checks, the console through tmux, gdb on
    // the guests (and Xen's symbols), xz for the root's kernel modules.
    'qemu-utils',
    'xorriso',
    'curl',
    'tmux',
    'gdb',
    'xen-hypervisor-4.20-amd64-dbg',
    'xz-utils',
    // Building the addon against 4.20's libxenlight inside dom0, with the root's own Node (node-gyp
    // takes Node's headers from libnode-dev: dom0 has no network to download them).
    'libxen-dev',
    'g++',
    'make',
    'python3',
    'nodejs',
    'libnode-dev',
    // npm, as a Debian 13 user installs it: test/xen/24-package installs the packed tarball with it.
    'npm',
  ],
};

export const ROOT_SPECS: Record<Exclude<XenVersion, '4.17'>, RootSpec> = { '4.20': TRIXIE_420 };

/** Bumped when the way a root is built changes (not its packages: their versions are in the key). */
const RECIPE = 1;

export interface BoxRoot {
  xen: XenVersion;
  /** The root file system (read-only for the box: dom0 puts a tmpfs over it). */
  dir: string;
  /** The hypervisor, gzip'd, inside the root. */
  xenGz: string;
  kernelVersion: string;
  kernel: string;
  /** Where xl, xenstored, xen-init-dom0 and xenconsoled are in the root. */
  xenBin: string;
  /** Package → version, as installed. */
  packages: Record<string, string>;
}

/** Where roots are cached: XENLIGHT_ROOTS_CACHE, or /var/cache/xenlight/roots (outside any checkout). */
export function defaultRootsDir(): string {
  return process.env.XENLIGHT_ROOTS_CACHE ?? '/var/cache/xenlight/roots';
}

/** The URI of the Debian archive the host's apt reads (deb822 sources or sources.list). */
export function hostDebianMirror(): string {
  const candidates: string[] = [];
  const dir = '/etc/apt/sources.list.d';
  const files = [
    ...(fs.existsSync(dir)
      ? fs
          .readdirSync(dir)
          .filter((f) => f.endsWith('.sources') || f.endsWith('.list'))
          .map((f) => path.join(dir, f))
      : []),
    '/etc/apt/sources.list',
  ];
  for (const file of files) {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n')) {
      const m = /^\s*URIs:\s*(.+)$/i.exec(line) ?? /^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s/.exec(line);
      if (m) candidates.push(...m[1].trim().split(/\s+/));
    }
  }
  // The main archive, not debian-security or a third party's.
  const uri = candidates.find((u) => /^https?:\/\/.+\/debian\/?$/.test(u));
  if (!uri) {
    throw new BoxSetupError(
      'cannot find the Debian archive in the host apt sources (/etc/apt/sources.list.d, /etc/apt/sources.list): ' +
        'the Xen 4.20 box builds its trixie root from the same archive',
    );
  }
  return uri.replace(/\/$/, '');
}

function run(cmd: string, args: string[], what: string, env?: NodeJS.ProcessEnv): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: env ?? process.env, maxBuffer: 64 << 20 });
  if (r.error || r.status !== 0) {
    const err = r.error ? String(r.error) : (r.stderr || r.stdout).trim().split('\n').slice(-15).join('\n');
    throw new BoxSetupError(`${what} failed (${cmd} ${args.slice(0, 4).join(' ')} …): ${err}`);
  }
  return r.stdout;
}

/**
 * apt's view of the suite, in a directory of its own (the system's sources and state are not
 * touched): an apt.conf that the caller passes as APT_CONFIG.
 */
function aptFor(spec: RootSpec, rootsDir: string, mirror: string): string {
  const dir = path.join(rootsDir, `apt-${spec.suite}`);
  for (const d of ['lists/partial', 'archives/partial', 'cache', 'sources.d'])
    fs.mkdirSync(path.join(dir, d), { recursive: true });
  fs.writeFileSync(path.join(dir, 'status'), '');
  fs.writeFileSync(
    path.join(dir, 'sources.d', `${spec.suite}.sources`),
    `Types: deb\nURIs: ${mirror}\nSuites: ${spec.suite}\nComponents: main\n` +
      'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n',
  );
  const conf = path.join(dir, 'apt.conf');
  fs.writeFileSync(
    conf,
    [
      'Dir::Etc::sourcelist "/dev/null";',
      `Dir::Etc::sourceparts "${dir}/sources.d";`,
      `Dir::State::Lists "${dir}/lists";`,
      `Dir::State::status "${dir}/status";`,
      `Dir::Cache::archives "${dir}/archives";`,
      `Dir::Cache "${dir}/cache";`,
      'APT::Install-Recommends "false";',
      '',
    ].join('\n'),
  );
  return conf;
}

/**
 * Every package a root of `spec` would hold, with its version, as the suite has it now (apt's
 * simulation of installing them on an empty system): the cache key.
 */
export function resolveVersions(spec: RootSpec, rootsDir: string, mirror: string, update: boolean): Record<string, string> {
  const conf = aptFor(spec, rootsDir, mirror);
  const env = { ...process.env, APT_CONFIG: conf, DEBIAN_FRONTEND: 'noninteractive' };
  if (update) run('apt-get', ['-q', 'update'], `apt-get update of Debian ${spec.suite}`, env);
  const out = run('apt-get', ['-s', '-q', 'install', ...spec.packages], `resolving the ${spec.suite} root's packages`, env);
  const versions: Record<string, string> = {};
  for (const line of out.split('\n')) {
    const m = /^Inst (\S+) \((\S+) /.exec(line);
    if (m) versions[m[1]] = m[2];
  }
  for (const p of spec.packages) {
    if (!versions[p]) throw new BoxSetupError(`Debian ${spec.suite} has no package ${p} (apt-get -s install)`);
  }
  return versions;
}

function describeRoot(spec: RootSpec, dir: string, packages: Record<string, string>): BoxRoot {
  const boot = path.join(dir, 'boot');
  const kernels = fs
    .readdirSync(boot)
    .map((f) => /^vmlinuz-(.+)$/.exec(f)?.[1])
    .filter((v): v is string => !!v && fs.existsSync(path.join(dir, 'lib/modules', v, 'modules.dep')))
    .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  const kernelVersion = kernels.at(-1);
  const xenGz = path.join(boot, `xen-${spec.xen}-amd64.gz`);
  const xenBin = `/usr/lib/xen-${spec.xen}/bin`;
  if (!kernelVersion || !fs.existsSync(xenGz) || !fs.existsSync(path.join(dir, xenBin, 'xl'))) {
    throw new BoxSetupError(`the ${spec.suite} root in ${dir} lacks a kernel with modules, ${xenGz} or ${xenBin}/xl`);
  }
  return { xen: spec.xen, dir, xenGz, kernelVersion, kernel: path.join(boot, `vmlinuz-${kernelVersion}`), xenBin, packages };
}

/**
 * The root of a Xen version's box, built (mmdebstrap, a few minutes) when no root with the same
 * package versions is cached. Atomic: built in a temporary directory, renamed into place. When
 * the archive cannot be reached, a cached root of the same recipe is used as it is.
 */
export function prepareRoot(
  xen: Exclude<XenVersion, '4.17'>,
  opts: { rootsDir?: string; log?: (msg: string) => void; update?: boolean } = {},
): BoxRoot {
  const spec = ROOT_SPECS[xen];
  const rootsDir = opts.rootsDir ?? defaultRootsDir();
  const log = opts.log ?? (() => {});
  try {
    fs.mkdirSync(rootsDir, { recursive: true });
    fs.accessSync(rootsDir, fs.constants.W_OK);
  } catch (e) {
    throw new BoxSetupError(
      `cannot write the box roots' cache ${rootsDir} (set XENLIGHT_ROOTS_CACHE to another directory): ${e}`,
    );
  }
  const mirror = hostDebianMirror();
  const prefix = `${spec.suite}-xen${spec.xen}-r${RECIPE}-`;
  // Package lists fresher than a day are good enough: no network needed for the next boots.
  const lists = path.join(rootsDir, `apt-${spec.suite}`, 'lists');
  const stale =
    !fs.existsSync(lists) ||
    !fs
      .readdirSync(lists)
      .some((f) => f.endsWith('_Packages') && Date.now() - fs.statSync(path.join(lists, f)).mtimeMs < 86400e3);
  let versions: Record<string, string>;
  try {
    versions = resolveVersions(spec, rootsDir, mirror, opts.update ?? stale);
  } catch (e) {
    const cached = fs
      .readdirSync(rootsDir)
      .filter((d) => d.startsWith(prefix) && fs.existsSync(path.join(rootsDir, d, '.xenlight-root.json')));
    if (cached.length) {
      const dir = path.join(rootsDir, cached.sort().at(-1)!);
      log(`cannot reach Debian ${spec.suite} (${(e as Error).message.split('\n')[0]}); using the cached root ${dir}`);
      return JSON.parse(fs.readFileSync(path.join(dir, '.xenlight-root.json'), 'utf8')) as BoxRoot;
    }
    throw e;
  }
  const key = createHash('sha256')
    .update(JSON.stringify([RECIPE, spec, Object.entries(versions).sort()]))
    .digest('hex')
    .slice(0, 16);
  const dir = path.join(rootsDir, prefix + key);
  const manifest = path.join(dir, '.xenlight-root.json');
  if (fs.existsSync(manifest)) return JSON.parse(fs.readFileSync(manifest, 'utf8')) as BoxRoot;

  const tmp = fs.mkdtempSync(path.join(rootsDir, `.build-${spec.suite}-`));
  const started = Date.now();
  log(`building the Debian ${spec.suite} root for the Xen ${xen} box in ${dir} (mmdebstrap, a few minutes)`);
  try {
    const which = spawnSync('mmdebstrap', ['--version'], { encoding: 'utf8' });
    if (which.error || which.status !== 0) {
      throw new BoxSetupError(
        'mmdebstrap not found: install the Debian package mmdebstrap (or run `bash scripts/setup.sh --xen 4.20`)',
      );
    }
    run(
      'mmdebstrap',
      [
        '--quiet',
        '--mode=root',
        '--variant=apt',
        '--keyring=/usr/share/keyrings/debian-archive-keyring.gpg',
        '--aptopt=APT::Install-Recommends "false"',
        // The kernel's postinst would build an initramfs the box never uses.
        '--dpkgopt=path-exclude=/etc/kernel/postinst.d/initramfs-tools',
        `--include=${spec.packages.join(',')}`,
        spec.suite,
        tmp,
        `deb ${mirror} ${spec.suite} main`,
      ],
      `mmdebstrap of Debian ${spec.suite}`,
    );
    const root = describeRoot(spec, tmp, versions);
    const final: BoxRoot = {
      ...root,
      dir,
      xenGz: root.xenGz.replace(tmp, dir),
      kernel: root.kernel.replace(tmp, dir),
    };
    fs.writeFileSync(path.join(tmp, '.xenlight-root.json'), JSON.stringify(final, null, 2) + '\n');
    fs.renameSync(tmp, dir);
    log(`root built in ${((Date.now() - started) / 1000).toFixed(0)} s`);
    // Older roots of the same recipe: replaced by this one.
    for (const old of fs.readdirSync(rootsDir)) {
      if (old.startsWith(prefix) && old !== path.basename(dir))
        fs.rmSync(path.join(rootsDir, old), { recursive: true, force: true });
    }
    return final;
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    if (e instanceof BoxSetupError) throw e;
    throw new BoxSetupError(`building the Debian ${spec.suite} root failed: ${(e as Error).message}`);
  }
}

/**
 * Runs a shell command as root in a chroot of a box root, on this machine (not in the box): for
 * building against that Xen version's libraries (the addon's prebuild, the benches' C
 * baselines) at the host's speed instead of under QEMU's emulated CPU. The root stays as it is:
 * everything happens in a private mount namespace that ends with the command, with a tmpfs on
 * the root's /tmp, its /proc and /dev, and `binds` (a directory under /tmp inside the root, to a
 * host directory). Resolves with the command's output; throws with it on failure.
 */
export function runInRoot(root: BoxRoot, command: string, binds: Record<string, string> = {}): string {
  if (process.getuid?.() !== 0) throw new BoxSetupError(`running in the Xen ${root.xen} root needs root (chroot, mounts)`);
  const lines = [
    'set -eu',
    'R=$1',
    'mount -t tmpfs tmpfs "$R/tmp"',
    'mount -t proc proc "$R/proc"',
    'mount --bind /dev "$R/dev"',
  ];
  const args: string[] = [];
  for (const [inside, outside] of Object.entries(binds)) {
    if (!/^\/(mnt|tmp)(\/[\w.-]+)*$/.test(inside))
      throw new BoxSetupError(`runInRoot: bind target ${inside} is not /mnt or under /tmp`);
    args.push(inside, outside);
    const n = args.length;
    // $1 is the root; args[i] is ${i + 2}.
    lines.push(`mkdir -p "$R\${${n}}"`, `mount --bind "\${${n + 1}}" "$R\${${n}}"`);
  }
  lines.push(
    `exec chroot "$R" /bin/sh -c ${shellQuote(`export HOME=/tmp PATH=${root.xenBin}:/usr/sbin:/usr/bin:/sbin:/bin; ${command}`)}`,
  );
  const r = spawnSync('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', lines.join('\n'), 'sh', root.dir, ...args], {
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  if (r.error) throw new BoxSetupError(`unshare: ${r.error.message}`);
  const out = `${r.stdout}${r.stderr}`;
  if (r.status !== 0)
    throw new BoxSetupError(
      `in the Xen ${root.xen} root, \`${command}\` failed (exit ${r.status ?? r.signal}):\n${out.trim().split('\n').slice(-40).join('\n')}`,
    );
  return out;
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
