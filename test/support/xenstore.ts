// xenstore as dom0's tools read it, beside the API's view.
import { execFileSync } from 'node:child_process';

/** The domids that have a node under /local/domain (dom0's `xenstore-list /local/domain`). */
export const domainsInXenstore = (): string[] =>
  execFileSync('xenstore-list', ['/local/domain'], { encoding: 'utf8' }).split('\n').filter(Boolean);
