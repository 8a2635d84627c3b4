// The box's own errors (not Xen's: those are XenErrors from inside dom0).

export type BoxErrorCode =
  /** A host package or file the box needs is missing, or its images could not be built. */
  | 'ERR_BOX_SETUP'
  /** The disk holding the box's cache, state or exchange directory is full. */
  | 'ERR_BOX_NOSPACE'
  /** QEMU did not start, or Xen/dom0 did not come up (the serial console's tail says why). */
  | 'ERR_BOX_BOOT'
  /** No box is running in that state directory. */
  | 'ERR_BOX_DOWN'
  /** A box was started there but its QEMU is gone (killed, or Xen/dom0 crashed). */
  | 'ERR_BOX_DEAD';

export class BoxError extends Error {
  override name = 'BoxError';
  constructor(
    readonly code: BoxErrorCode,
    message: string,
    /** The last lines of the serial console (Xen and dom0's kernel), when they tell the story. */
    readonly serialTail?: string,
    /** QEMU's pid when the error is about it; timedOut when a time limit killed it. */
    readonly detail: { pid?: number; timedOut?: boolean } = {},
  ) {
    super(serialTail ? `${message}\n--- last lines of the serial console ---\n${serialTail}` : message);
  }
}

/** A missing host prerequisite (kept as its own class: callers print it without a stack). */
export class BoxSetupError extends BoxError {
  override name = 'BoxSetupError';
  constructor(message: string) {
    super('ERR_BOX_SETUP', message);
  }
}
