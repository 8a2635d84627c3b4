// xl's save-image format, so images move freely between xenlight and `xl save`/`xl restore`:
// a 32-byte magic, four uint32s (byte order, mandatory flags, optional flags, optional data
// length), the optional data (uint32 length + the domain config as libxl JSON with its NUL),
// then libxl's migration stream (v2).
import * as fs from 'node:fs';
import { XenError } from '../core/errors';

export const SAVE_MAGIC = Buffer.from('Xen saved domain, xl format\n \0 \r', 'latin1');
const BYTEORDER = 0x01020304;
const FLAG_JSON = 1 << 0;
const FLAG_STREAM_V2 = 1 << 1;
const KNOWN_FLAGS = FLAG_JSON | FLAG_STREAM_V2;

/** The header xl writes before libxl's stream (uint32s in this machine's byte order). */
export function encodeSaveHeader(configJson: string): Buffer {
  const config = Buffer.concat([Buffer.from(configJson, 'utf8'), Buffer.from([0])]);
  const fixed = Buffer.alloc(SAVE_MAGIC.length + 16 + 4);
  SAVE_MAGIC.copy(fixed, 0);
  fixed.writeUInt32LE(BYTEORDER, 32);
  fixed.writeUInt32LE(FLAG_STREAM_V2 | FLAG_JSON, 36);
  fixed.writeUInt32LE(0, 40);
  fixed.writeUInt32LE(4 + config.length, 44);
  fixed.writeUInt32LE(config.length, 48);
  return Buffer.concat([fixed, config]);
}

function readExactly(fd: number, n: number, op: string): Buffer {
  const buf = Buffer.alloc(n);
  let got = 0;
  while (got < n) {
    const r = fs.readSync(fd, buf, got, n - got, null);
    if (r === 0) throw new XenError(`${op}: the image ends inside its header`, { code: 'ERR_INVALID_ARG', op });
    got += r;
  }
  return buf;
}

/** The fixed part of the header is this long; it says how long the rest is. */
export const FIXED_HEADER_LENGTH = 48;

/** Checks the fixed part of xl's header; returns the length of the optional data after it. */
export function parseFixedHeader(fixed: Buffer, op: string): number {
  if (!fixed.subarray(0, 32).equals(SAVE_MAGIC)) {
    throw new XenError(`${op}: not an xl save image (wrong magic)`, { code: 'ERR_INVALID_ARG', op });
  }
  if (fixed.readUInt32LE(32) !== BYTEORDER) {
    throw new XenError(`${op}: the image was saved on a machine of the other byte order`, { code: 'ERR_INVALID_ARG', op });
  }
  const mandatory = fixed.readUInt32LE(36);
  if (mandatory & ~KNOWN_FLAGS || !(mandatory & FLAG_STREAM_V2)) {
    throw new XenError(`${op}: unsupported image (mandatory flags 0x${mandatory.toString(16)})`, { code: 'ERR_INVALID_ARG', op });
  }
  if (fixed.readUInt32LE(40) !== 0) {
    throw new XenError(`${op}: unsupported image (optional flags)`, { code: 'ERR_INVALID_ARG', op });
  }
  const optLen = fixed.readUInt32LE(44);
  if (!(mandatory & FLAG_JSON) || optLen < 4 || optLen > 16 << 20) {
    throw new XenError(`${op}: the image carries no domain configuration`, { code: 'ERR_INVALID_ARG', op });
  }
  return optLen;
}

/** The domain configuration JSON in the header's optional data. */
export function parseOptionalData(opt: Buffer, op: string): string {
  const len = opt.readUInt32LE(0);
  if (len + 4 > opt.length || len === 0) throw new XenError(`${op}: corrupt image header`, { code: 'ERR_INVALID_ARG', op });
  return opt
    .subarray(4, 4 + len)
    .toString('utf8')
    .replace(/\0+$/, '');
}

/**
 * Reads and checks xl's header from fd (which then stands at the start of libxl's stream) and
 * returns the domain configuration JSON it carries.
 */
export function readSaveHeader(fd: number, op: string): string {
  const optLen = parseFixedHeader(readExactly(fd, FIXED_HEADER_LENGTH, op), op);
  return parseOptionalData(readExactly(fd, optLen, op), op);
}

/** The configuration JSON an image header carries, parsed. */
export function parseImageConfig(json: string, op: string): unknown {
  try {
    return JSON.parse(json);
  } catch (err) {
    throw new XenError(`${op}: the image's domain configuration is not valid JSON`, { code: 'ERR_INVALID_ARG', op, cause: err });
  }
}
