// Tracing (#25): every native call is traced on the `xenlight:operation` diagnostics_channel
// TracingChannel, with the operation, what it is for, the domid and the error, in
// TracingChannel's event order; checked against xl's view of the guest at each step.
import { strict as assert } from 'node:assert';
import * as diagnostics_channel from 'node:diagnostics_channel';
import { types } from 'node:util';
import { OPERATION_CHANNEL, XenError } from '../../src';
import type { OperationContext } from '../../src';
import { contextOf } from '../../src/core/host';
import { useHost } from '../support/host';
import { until, xl, xlBootPvGuest, xlList } from '../support/xl';

type Seen = { event: string; operation: string; description: string; domid?: number; error?: unknown };

describe('tracing: the xenlight:operation channel', function () {
  this.timeout(120_000);
  const ctx = useHost();
  let id: number;
  let seen: Seen[] = [];
  const channel = diagnostics_channel.tracingChannel<OperationContext>(OPERATION_CHANNEL);
  const record = (event: string) => (c: OperationContext) => {
    seen.push({ event, operation: c.operation, description: c.description, domid: c.domid, error: c.error });
  };
  const handlers = {
    start: record('start'),
    end: record('end'),
    asyncStart: record('asyncStart'),
    asyncEnd: record('asyncEnd'),
    error: record('error'),
  };

  before(async function () {
    id = await xlBootPvGuest({ name: 'trace-1' });
  });

  afterEach(function () {
    channel.unsubscribe(handlers);
  });

  it('nobody subscribed: calls go straight to the addon (no wrapper)', function () {
    assert.equal(types.isProxy(contextOf(ctx.host).native('probe')), false);
    channel.subscribe(handlers);
    assert.equal(types.isProxy(contextOf(ctx.host).native('probe')), true);
  });

  it('pause and unpause: start/end of the domain lookup, then start/end/asyncStart/asyncEnd of libxl_domain_pause, with the domid; xl sees each', async function () {
    const dom = await ctx.host.domain(id);
    channel.subscribe(handlers);
    seen = [];
    await dom.pause();
    assert.match(xlList().find((r) => r.id === id)!.state, /p/, 'xl list: paused');
    const pause = seen.filter((s) => s.operation === 'pause');
    assert.deepEqual(
      pause.map((s) => s.event),
      ['start', 'end', 'asyncStart', 'asyncEnd'],
    );
    assert.ok(pause.every((s) => s.domid === id && s.description === `pause domain ${id}` && s.error === undefined));
    const info = seen.filter((s) => s.operation === 'domainInfo');
    assert.deepEqual(
      info.map((s) => s.event),
      ['start', 'end'],
      'a synchronous call: start and end',
    );
    assert.ok(seen.indexOf(info[1]) < seen.indexOf(pause[0]), 'the lookup, then the pause');
    seen = [];
    await dom.unpause();
    assert.doesNotMatch(xlList().find((r) => r.id === id)!.state, /p/, 'xl list: running again');
    assert.deepEqual(
      seen.filter((s) => s.operation === 'unpause').map((s) => s.event),
      ['start', 'end', 'asyncStart', 'asyncEnd'],
    );
  });

  it('a refusal is published as `error` with the XenError the caller gets (libxl error name as its code)', async function () {
    const missing = 31_999;
    assert.ok(!xlList().some((r) => r.id === missing));
    channel.subscribe(handlers);
    seen = [];
    const err = await ctx.host.domain(missing).then(
      () => assert.fail(`found a domain ${missing}`),
      (e: unknown) => e,
    );
    assert.ok(err instanceof XenError, String(err));
    assert.equal(err.code, 'ERROR_DOMAIN_NOTFOUND');
    assert.deepEqual(
      seen.map((s) => [s.event, s.operation, s.domid]),
      [
        ['start', 'domainInfo', missing],
        ['error', 'domainInfo', missing],
        ['end', 'domainInfo', missing],
      ],
    );
    assert.equal(seen[1].error, err, 'the same object');
  });

  it('a destroyed guest: the handle rejects, and nothing reaches libxl_domain_pause', async function () {
    const dom = await ctx.host.domain(id);
    xl('destroy', String(id));
    await until('xl list no longer shows it', () => !xlList().some((r) => r.id === id), 30_000);
    channel.subscribe(handlers);
    seen = [];
    await assert.rejects(dom.pause(), (e: unknown) => e instanceof XenError && e.code === 'ERROR_DOMAIN_NOTFOUND');
    assert.deepEqual(
      seen.filter((s) => s.event === 'start').map((s) => s.operation),
      ['domainInfo', 'listDomains'],
      'its domid, then the list for its UUID; no pause',
    );
  });
});
