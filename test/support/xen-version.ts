// The Xen version of the box (or dom0) the suite runs in: each test asserts that version's own
// behaviour (its xl, its messages, its paths), never a skip.
import * as fs from 'node:fs';

export type SuiteXen = '4.17' | '4.20';

let cached: SuiteXen | undefined;

/** '4.17' or '4.20', from the hypervisor's own /sys/hypervisor/version (dom0's sysfs). */
export function suiteXen(): SuiteXen {
  if (cached) return cached;
  const read = (f: string) => fs.readFileSync(`/sys/hypervisor/version/${f}`, 'utf8').trim();
  const v = `${read('major')}.${read('minor')}`;
  if (v !== '4.17' && v !== '4.20') throw new Error(`the integration suite knows Xen 4.17 and 4.20; this is Xen ${v}`);
  return (cached = v);
}

/** Xen's tools directory of this version (xenctx, xentop, xl live there). */
export function xenLibexec(): string {
  return `/usr/lib/xen-${suiteXen()}/bin`;
}
