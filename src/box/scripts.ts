// Shell scripts that run inside Xen in a box. They are busybox/dash scripts kept here as text so
// that a change to them changes the image cache key.

/** Markers dom0 writes to its console (which Xen copies to the serial line the host reads). */
export const MARK = 'XENLIGHT-BOX:';

/**
 * dom0's /init: load modules, put the host's root (read-only 9p) under a tmpfs overlay, mount
 * the exchange share and hand over to the per-run script in it.
 */
export const DOM0_INIT = `#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
fail() {
  echo "${MARK} init failed: $*" > /dev/console
  sleep 1
  echo o > /proc/sysrq-trigger
  sleep 30
}
for m in $(cat /etc/modules.order); do
  insmod "/lib/modules/$m" || fail "insmod $m"
done
mkdir -p /lower /upper /newroot
mount -t 9p -o ro,trans=virtio,version=9p2000.L,msize=512000 hostroot /lower || fail "mount of the host root (9p)"
mount -t tmpfs -o mode=0755 tmpfs /upper
mkdir -p /upper/data /upper/work
mount -t overlay overlay -o lowerdir=/lower,upperdir=/upper/data,workdir=/upper/work /newroot || fail "overlay"
mkdir -p /newroot/xfer
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 xfer /newroot/xfer || fail "mount of the exchange share (9p)"
mount --move /proc /newroot/proc
mount --move /sys /newroot/sys
mount --move /dev /newroot/dev
# PID 1 stays here, in memory: if it exited (or ran from the 9p root while that goes away
# during power-off) the kernel would panic.
chroot /newroot /bin/sh /xfer/run.sh
sync
echo o > /newroot/proc/sysrq-trigger
while :; do sleep 1; done
`;

/**
 * dom0's /init for a box with a root of its own (Xen 4.20's trixie root): the same, with the root
 * shared as `hostroot`, then the host directories listed in /xfer/.box/shares mounted read-only
 * ("tag path cache" lines: the checkout, its node_modules, the image cache and the npm cache at
 * their host paths, uncached; the host's Node at HOST_NODE_DIR, cached).
 */
export const DOM0_INIT_SHARES = DOM0_INIT.replace(
  // The root does not change while a box runs (it is a cached, finished root): dom0's kernel may
  // cache it. Without that, Debian 13's kernel (6.12, 9p over netfs) reads every page of every
  // binary over 9p again: \`node -e 0\` took 3.5 s warm and 28 s cold, against 0.7 s on 4.17's.
  'mount -t 9p -o ro,trans=virtio',
  'mount -t 9p -o ro,cache=loose,trans=virtio',
).replace(
  'mount --move /proc /newroot/proc\n',
  `if [ -f /newroot/xfer/.box/shares ]; then
  while read -r tag dir cache; do
    mkdir -p "/newroot$dir" && mount -t 9p -o ro,cache=$cache,trans=virtio,version=9p2000.L,msize=512000 "$tag" "/newroot$dir" || fail "mount of $dir (9p)"
  done < /newroot/xfer/.box/shares
fi
mount --move /proc /newroot/proc
`,
);

/**
 * Where a box with a root of its own mounts the directory of the host's Node binary. dom0 runs
 * that Node (first on PATH), as the 4.17 box does: Debian 13's nodejs is built without Node's
 * startup snapshot and code cache, and under emulation each of its starts takes ~4× as long
 * (`bash bench/box-probe.sh --xen 4.20`). Debian 13's own Node stays at /usr/bin/node.
 */
export const HOST_NODE_DIR = '/opt/xenlight/host-node';

/** Where the agent keeps its files inside the exchange share (/xfer). */
export const AGENT_DIR = '.box';

/**
 * The dom0 script (runs in dom0's new root as /bin/sh = dash): the rest of a dom0 that xl needs,
 * then the agent: it runs the jobs the host drops into /xfer/.box/jobs/<id>/ one at a time, in
 * name order (the host's job ids sort by time), each in its own session so that a cancel kills
 * all it started; output into the job's directory, status last. /xfer/.box/poweroff ends it.
 */
export function dom0AgentScript(xen = '4.17'): string {
  const j = `/xfer/${AGENT_DIR}`;
  return `set -u
say() { echo "${MARK} $*" > /dev/console; }
# Returning hands over to /init (in memory), which powers off.
poweroff_now() { sync; exit 0; }
export PATH=/usr/lib/xen-${xen}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root
# The host's Node, when the box shares it (see HOST_NODE_DIR), comes first on PATH.
if [ -x ${HOST_NODE_DIR}/node ]; then mkdir -p /usr/local/bin && ln -sf ${HOST_NODE_DIR}/node /usr/local/bin/node; fi
# devpts: without it xl create fails with "console tty: timed out".
mkdir -p /dev/pts /dev/shm
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
# devtmpfs lacks these; without them the block hotplug script spins in its locking code.
ln -sf /proc/self/fd /dev/fd
ln -sf /proc/self/fd/0 /dev/stdin
ln -sf /proc/self/fd/1 /dev/stdout
ln -sf /proc/self/fd/2 /dev/stderr
mount -t xenfs xenfs /proc/xen || { say "xenfs failed"; poweroff_now; }
mount -t tmpfs -o mode=0755 tmpfs /run
mkdir -p /run/lock /run/xen /run/xenstored /var/lib/xenstored /var/log/xen/console /var/lib/xen
ip link set lo up
xenstored --pid-file=/run/xenstored.pid || { say "xenstored failed"; poweroff_now; }
xen-init-dom0 > /var/log/xen/xen-init-dom0.log 2>&1 || { say "xen-init-dom0 failed"; poweroff_now; }
# Guest consoles are logged so tests can wait for a prompt (or a panic) without attaching.
xenconsoled --pid-file=/run/xenconsoled.pid --log=guest --log-dir=/var/log/xen/console || { say "xenconsoled failed"; poweroff_now; }
# HVM device models cannot load option ROMs through 9p: real copies on the tmpfs layer.
mkdir -p /usr/share/qemu
for f in /usr/share/seabios/*.bin; do cp --remove-destination "$f" /usr/share/qemu/; done
# Emulated NICs' option ROMs (Debian's ipxe-qemu), which HVM guests' vifs need.
for f in /usr/lib/ipxe/qemu/*.rom; do cp --remove-destination "$f" /usr/share/qemu/; done
${
  xen === '4.17'
    ? ''
    : `# Debian 13's ipxe-qemu puts them in /usr/share/qemu itself: real copies there too.
for f in /usr/share/qemu/*.rom; do [ -L "$f" ] || { cp "$f" "$f.tmp" && mv "$f.tmp" "$f"; }; done
`
}# The bridge guests' vifs join (link-local addresses only; the box has no NIC).
ip link add xenbr0 type bridge 2>/dev/null && ip link set xenbr0 up
export XENLIGHT_BOX=1 XENLIGHT_XFER=/xfer
mkdir -p ${j}/jobs
up=$(cut -d' ' -f1 /proc/uptime)
echo "$up" > ${j}/ready.tmp && mv ${j}/ready.tmp ${j}/ready
say "ready $up"
while :; do
  if [ -e ${j}/poweroff ]; then say "done"; poweroff_now; fi
  for go in ${j}/jobs/*/go; do
    [ -e "$go" ] || continue
    d=\${go%/go}
    rm -f "$go"
    setsid sh "$d/script" > "$d/out" 2>&1 < /dev/null &
    pid=$!
    # A watcher, not this shell, polls for a cancel: kill -0 on an unreaped child would succeed.
    ( while kill -0 $pid 2>/dev/null; do
        [ -e "$d/cancel" ] && kill -KILL -$pid 2>/dev/null
        sleep 0.5
      done ) &
    watcher=$!
    wait $pid
    echo $? > "$d/rc.tmp"
    kill $watcher 2>/dev/null; wait $watcher 2>/dev/null
    mv "$d/rc.tmp" "$d/rc"
  done
  sleep 0.2
done
`;
}

/** The script of one job: its directory, its environment, its command line (sh syntax). */
export function jobScript(opts: { cwd: string; command: string; env: Record<string, string> }): string {
  const envLines = Object.entries(opts.env)
    .map(([k, v]) => `export ${k}=${shellQuote(v)}`)
    .join('\n');
  return `${envLines}
cd ${shellQuote(opts.cwd)} 2>/dev/null || { echo "no such directory in dom0: ${opts.cwd.replace(/[^\w./-]/g, '?')}" >&2; exit 125; }
${opts.command}
`;
}

export const GUEST_INITTAB = `::sysinit:/etc/rc
hvc0::respawn:/bin/sh
::ctrlaltdel:/sbin/reboot
::shutdown:/bin/sync
`;

export const GUEST_RC = `#!/bin/sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts && mount -t devpts devpts /dev/pts
for m in $(cat /etc/modules.order); do insmod "/lib/modules/$m"; done
ip link set lo up
echo "xenlight-guest: up"
`;

/** Quotes one word for a POSIX shell. */
export function shellQuote(s: string): string {
  if (/^[\w@%+=:,./-]+$/.test(s)) return s;
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
