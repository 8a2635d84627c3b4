// Tracing of every call into the addon (libxl, libxenctrl, xenstore) through Node's
// diagnostics_channel, for OpenTelemetry and other tracers: one TracingChannel,
// `xenlight:operation`, whose start / end / asyncStart / asyncEnd / error events carry an
// OperationContext. Nothing is wrapped or published while nobody subscribes.
import * as diagnostics_channel from 'node:diagnostics_channel';
import type { NativeContext } from './native';

/** What a `xenlight:operation` event carries. */
export interface OperationContext {
  /** The native call: `createDomain`, `destroy`, `pause`, `listDomains`, `saveDomain`… */
  operation: string;
  /** What it is for, as error messages say it: "destroy domain 3". */
  description: string;
  /** The domain it acts on, when its first argument is a domid. */
  domid?: number;
  /** Set before `error`: the XenError (its `code` is libxl's error name or ours). */
  error?: unknown;
  /** Set before `end` (a synchronous call) or `asyncEnd` (an asynchronous one). */
  result?: unknown;
}

/** The channel's name, for `diagnostics_channel.tracingChannel(…)` and `subscribe`. */
export const OPERATION_CHANNEL = 'xenlight:operation';

/** The tracing channel of every native call (`diagnostics_channel.tracingChannel('xenlight:operation')`). */
export const operationChannel = diagnostics_channel.tracingChannel<OperationContext>(OPERATION_CHANNEL);

/** True while something listens (checked per call: subscribing takes effect at once). */
function traced(): boolean {
  const c = operationChannel;
  return c.start.hasSubscribers || c.end.hasSubscribers || c.asyncEnd.hasSubscribers || c.error.hasSubscribers;
}

function isPromise(v: unknown): v is Promise<unknown> {
  return typeof (v as Promise<unknown> | null)?.then === 'function';
}

/** Runs one native call inside the channel's events, with TracingChannel's order and meaning. */
function traceCall(context: OperationContext, call: () => unknown): unknown {
  const { start, end, asyncStart, asyncEnd, error } = operationChannel;
  return start.runStores(context, () => {
    let result: unknown;
    try {
      result = call();
    } catch (err) {
      context.error = err;
      error.publish(context);
      end.publish(context);
      throw err;
    }
    if (!isPromise(result)) {
      context.result = result;
      end.publish(context);
      return result;
    }
    end.publish(context);
    return result.then(
      (value) => {
        context.result = value;
        asyncStart.publish(context);
        asyncEnd.publish(context);
        return value;
      },
      (err: unknown) => {
        context.error = err;
        error.publish(context);
        asyncStart.publish(context);
        asyncEnd.publish(context);
        throw err;
      },
    );
  });
}

/**
 * The native context as `description`'s caller will use it: itself when nobody listens, else a
 * view whose every method call is traced (the methods still run on the real object).
 */
export function traceNative(ctx: NativeContext, description: string): NativeContext {
  if (!traced()) return ctx;
  return new Proxy(ctx, {
    get(target, key) {
      const value = Reflect.get(target, key) as unknown;
      if (typeof value !== 'function' || typeof key !== 'string') return value;
      return (...args: unknown[]) =>
        traceCall({ operation: key, description, domid: typeof args[0] === 'number' ? args[0] : undefined }, () =>
          (value as (...a: unknown[]) => unknown).apply(target, args),
        );
    },
  });
}
