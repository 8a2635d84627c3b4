// The set-up the integration suites (test/xen, in dom0) share: a clean box and an open Host.
import { Host } from '../../src';
import { destroyAllGuests } from './xl';

export interface UseHostOptions {
  /**
   * Destroy every guest xl lists before the Host opens, and again after it closes (the default).
   * False leaves the guests alone: for a suite whose tests clean up for themselves (07-xlcfg).
   */
  destroyGuests?: boolean;
}

export interface HostFixture {
  /** The Host that useHost's before() hook opened (throws before that hook has run). */
  readonly host: Host;
}

/**
 * Called at the top of a describe(): registers a before() hook that destroys every guest and
 * opens a Host, and an after() hook that closes the Host and destroys every guest again.
 * Returns the accessor for that Host: `const ctx = useHost(); … ctx.host`.
 *
 * Mocha runs a describe's hooks of one kind in the order they were registered, so a before()
 * that the describe registers after this call finds no guest and the Host open, and an after()
 * registered after it runs once the Host is closed and the guests are destroyed. A hook that
 * fails stops the hooks of its kind that come after it, as a throw in one hook body would.
 * Each hook takes the describe's timeout as it stands when useHost() is called (mocha copies it
 * into the hook then): call useHost() after the describe's this.timeout().
 */
export function useHost(opts: UseHostOptions = {}): HostFixture {
  const destroyGuests = opts.destroyGuests ?? true;
  let host: Host | undefined;
  before('useHost: open a Host', async function () {
    if (destroyGuests) destroyAllGuests();
    host = await Host.open();
  });
  after('useHost: close the Host', async function () {
    await host?.close();
    if (destroyGuests) destroyAllGuests();
  });
  return {
    get host(): Host {
      if (!host) throw new Error('useHost: no Host yet (its before() hook has not run, or it failed)');
      return host;
    },
  };
}

/**
 * useHost() without the Host, for suites that drive xl, the CLI or the examples only: registers
 * a before() hook and an after() hook that destroy every guest xl lists. The same ordering
 * holds: a before() registered after this call runs with no guest left; an after() registered
 * after it runs once they are destroyed.
 */
export function useNoGuests(): void {
  before('useNoGuests: destroy the guests', () => destroyAllGuests());
  after('useNoGuests: destroy the guests', () => destroyAllGuests());
}
