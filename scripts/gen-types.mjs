#!/usr/bin/env node
// Generates src/generated/libxl-types.ts and libxl-versions.ts from libxl's generated C
// header _libxl_types.h of every supported Xen version (scripts/libxl-headers/<version>/).
//
// The TypeScript types describe libxl's own JSON shape of every IDL type: what
// libxl_<type>_to_json() prints and libxl_<type>_from_json() accepts. That JSON
// is the bridge between the native addon and TypeScript. They are the union of
// all versions' types; what not every version has says so in its JSDoc, and
// libxl-versions.ts lists it for the check of configurations (libxl's parser
// silently drops the keys it does not know).
//
// Usage: node scripts/gen-types.mjs [--headers DIR] [--out DIR] [--check]
//   --headers  the directory of <version>/_libxl_types.h (default scripts/libxl-headers)
//   --out      the directory to write into (default src/generated in this repository)
//   --check    do not write; exit 1 if a file on disk differs from what the
//              headers generate (for CI)
//
// No dependencies; Node 20. `generate(headers)` and `generateVersions(headers)`
// (headers: { version: text }, or one header's text) are exported for tests.
//
// The JSON rules below were checked against libxenlight 4.17 (Debian 12) by
// calling the real libxl_*_to_json / libxl_*_from_json functions:
//  - a struct prints as an object keyed by the C field names; fields still at
//    their default are omitted, nested structs are always printed (maybe {}).
//  - `const` fields (e.g. build_info.u.pv.features) and fields of private types
//    (libxl_ev_link) are neither printed nor parsed.
//  - an array is a pointer field preceded by its `int num_*` count field; the
//    JSON key is the pointer's name, the count is not in the JSON.
//  - a keyed union (key field immediately followed by `union {...} u;`) prints
//    as "<key>.<value>": {...members...}. Every value of the key enum has such
//    a key (values without a member print {}); there is NO plain "<key>" entry.
//    The parser sets the key from whichever "<key>.<value>" is present (two of
//    them trip an assertion in libxl).
//  - enums print libxl_<enum>_to_string(): the lower-case value name after the
//    enum's prefix; the parser matches case-insensitively.

import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DEFAULT_HEADERS = path.join(REPO_ROOT, 'scripts', 'libxl-headers');
const DEFAULT_OUT_DIR = path.join(REPO_ROOT, 'src', 'generated');

// Types whose fields libxl leaves out of the JSON (Builtin(..., private=True)).
const PRIVATE_TYPES = new Set(['libxl_ev_link']);

const NUMBER_TYPES = new Set([
  'int',
  'unsigned',
  'long',
  'short',
  'int8_t',
  'int16_t',
  'int32_t',
  'int64_t',
  'uint8_t',
  'uint16_t',
  'uint32_t',
  'uint64_t',
  'libxl_domid',
  'libxl_devid',
]);

// libxl builtins (libxl.h / libxl_json.c) → helper types declared in PRELUDE.
const BUILTIN_TYPES = new Map([
  ['bool', 'boolean'],
  ['libxl_defbool', 'Defbool'],
  ['libxl_uuid', 'Uuid'],
  ['libxl_mac', 'Mac'],
  ['libxl_bitmap', 'Bitmap'],
  ['libxl_string_list', 'StringList'],
  ['libxl_key_value_list', 'KeyValueList'],
  ['libxl_hwcap', 'Hwcap'],
  ['libxl_ms_vm_genid', 'MsVmGenid'],
  ['libxl_cpuid_policy_list', 'CpuidPolicyList'],
]);

// Names that would clash with (or shadow) something confusing.
const RENAMES = new Map([['libxl_error', 'ErrorName']]);

const PRELUDE_NAMES = [
  'Defbool',
  'Uuid',
  'Mac',
  'Bitmap',
  'StringList',
  'KeyValueList',
  'Hwcap',
  'MsVmGenid',
  'CpuidLeaf',
  'CpuidMsr',
  'CpuidPolicyList',
  'TypeNames',
  'TypeName',
  'JsonTypes',
];

const PRELUDE = `/*
 * libxl's JSON shape of its IDL types: what libxl_<type>_to_json() prints and
 * libxl_<type>_from_json() accepts. Conventions:
 *  - Every field is optional: libxl omits fields that hold their default.
 *  - Keys are libxl's C field names. Array count fields (num_*) are not in the
 *    JSON: the array's length is the count.
 *  - A keyed union appears as "<key>.<value>": {...} (e.g. "type.hvm"), at
 *    most one per object; there is no plain "<key>" entry, the parser derives
 *    the key from the "<key>.<value>" name.
 *  - Enums are the lower-case strings of libxl_<enum>_to_string(); the
 *    <Enum>Values objects give the C numeric values.
 *  - Integers are JSON numbers; uint64_t values above 2^53 lose precision in
 *    JSON.parse.
 *  - The parser silently ignores unknown keys and values of the wrong JSON
 *    type (e.g. true for a Defbool), so stick to these types.
 */

/** libxl_defbool. The parser accepts exactly these strings (not JSON booleans). */
export type Defbool = '<default>' | 'True' | 'False';

/** libxl_uuid: "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" (printed in lower case). */
export type Uuid = string;

/** libxl_mac: "xx:xx:xx:xx:xx:xx" (printed in lower case). */
export type Mac = string;

/** libxl_bitmap: the numbers of the set bits, ascending, e.g. [0, 2, 15]. */
export type Bitmap = number[];

/** libxl_string_list. */
export type StringList = string[];

/** libxl_key_value_list: an object; libxl prints (and accepts) null values. */
export type KeyValueList = Record<string, string | null>;

/**
 * libxl_hwcap (uint32_t[8]): libxl prints the first 4 words only, and the
 * parser needs at least 4.
 */
export type Hwcap = number[];

/** libxl_ms_vm_genid: the 16 bytes of the VM generation ID as numbers. */
export type MsVmGenid = number[];

/**
 * One CPUID leaf of a libxl_cpuid_policy_list. Registers are 32-character
 * strings of policy characters (MSB first), as in xl.cfg's cpuid= option.
 */
export interface CpuidLeaf {
  leaf: number;
  /** Omitted when unused. */
  subleaf?: number;
  eax?: string;
  ebx?: string;
  ecx?: string;
  edx?: string;
}

/** One MSR entry of a libxl_cpuid_policy_list; policy has 64 characters. */
export interface CpuidMsr {
  index: number;
  policy: string;
}

/**
 * libxl_cpuid_policy_list. libxl prints the object form (both arrays are
 * required by the parser); the parser also accepts the older bare array of
 * leaves.
 */
export type CpuidPolicyList = { cpuid: CpuidLeaf[]; msr: CpuidMsr[] } | CpuidLeaf[];
`;

// ---------------------------------------------------------------------------
// Parsing

function fail(msg, lineNo) {
  throw new Error(`gen-types: ${msg}${lineNo !== undefined ? ` (header line ${lineNo + 1})` : ''}`);
}

const FIELD_RE = /^(const\s+)?([A-Za-z_]\w*)\s*((?:\*\s*)*)([A-Za-z_]\w*)\s*(?:\[\s*(\w+)\s*\])?\s*;$/;

/**
 * Parses the header into { items, jsonTypes }: items are the enums and structs
 * in header order, jsonTypes the names that have a libxl_<name>_to_json().
 */
export function parseHeader(headerText) {
  // Blank out comments but keep line numbers.
  const text = headerText.replace(/\/\*[\s\S]*?\*\//g, (c) => c.replace(/[^\n]/g, ' '));
  const lines = text.split('\n').map((l) => l.trim());
  const items = [];
  const jsonTypes = [];
  let i = 0;

  function parseEnum(name) {
    const values = [];
    for (i++; i < lines.length; i++) {
      const line = lines[i];
      if (line === '') continue;
      let m;
      if ((m = /^\}\s*(\w+)\s*;$/.exec(line))) {
        if (m[1] !== name) fail(`enum ${name} closed as ${m[1]}`, i);
        return { kind: 'enum', name, values };
      }
      if ((m = /^([A-Z_][A-Z0-9_]*)\s*=\s*(-?(?:0x[0-9a-fA-F]+|\d+))\s*,?$/.exec(line))) {
        values.push({ cname: m[1], value: Number(m[2]) });
        continue;
      }
      fail(`cannot parse enum line ${JSON.stringify(line)}`, i);
    }
    fail(`unterminated enum ${name}`);
  }

  // Parses struct/union members up to the closing brace; returns
  // { members, closeName } where closeName is the name after the brace.
  function parseBody() {
    const members = [];
    for (i++; i < lines.length; i++) {
      const line = lines[i];
      if (line === '') continue;
      let m;
      if ((m = /^\}\s*(\w+)\s*;$/.exec(line))) return { members, closeName: m[1] };
      if (line === 'struct {' || line === 'union {') {
        const kind = line === 'struct {' ? 'struct' : 'union';
        const lineNo = i;
        const body = parseBody();
        members.push({ kind, name: body.closeName, members: body.members, lineNo });
        continue;
      }
      if ((m = FIELD_RE.exec(line))) {
        members.push({
          kind: 'field',
          isConst: Boolean(m[1]),
          base: m[2],
          ptr: (m[3].match(/\*/g) || []).length,
          name: m[4],
          dim: m[5],
          lineNo: i,
        });
        continue;
      }
      fail(`cannot parse struct line ${JSON.stringify(line)}`, i);
    }
    fail('unterminated struct');
  }

  for (; i < lines.length; i++) {
    const line = lines[i];
    let m;
    if ((m = /^typedef enum (libxl_\w+) \{$/.exec(line))) {
      items.push(parseEnum(m[1]));
    } else if ((m = /^typedef struct (libxl_\w+) \{$/.exec(line))) {
      const name = m[1];
      const lineNo = i;
      const body = parseBody();
      if (body.closeName !== name) fail(`struct ${name} closed as ${body.closeName}`, i);
      items.push({ kind: 'struct', name, members: body.members, lineNo });
    } else if ((m = /^char \*(libxl_\w+)_to_json\(libxl_ctx \*ctx, (?:const )?(libxl_\w+) \*?p\);$/.exec(line))) {
      if (m[1] !== m[2]) fail(`${m[1]}_to_json takes ${m[2]}`, i);
      jsonTypes.push(m[1]);
    } else if (/^typedef (struct|enum|union)\b/.test(line)) {
      fail(`unexpected typedef ${JSON.stringify(line)}`, i);
    }
  }
  return { items, jsonTypes };
}

// ---------------------------------------------------------------------------
// Model: C declarations → JSON shape

function pascal(cname) {
  return cname
    .replace(/^libxl_/, '')
    .split('_')
    .filter(Boolean)
    .map((w) => w[0].toUpperCase() + w.slice(1))
    .join('');
}

function tsName(cname) {
  return RENAMES.get(cname) ?? pascal(cname);
}

/** Splits an enum's C value names into libxl's strings (libxl_X_to_string). */
function enumStrings(e) {
  const upper = e.name.replace(/^libxl_/, '').toUpperCase() + '_';
  for (const prefix of ['LIBXL_' + upper, upper]) {
    if (e.values.every((v) => v.cname.startsWith(prefix) && v.cname.length > prefix.length)) {
      return {
        prefix,
        values: e.values.map((v) => ({ ...v, str: v.cname.slice(prefix.length).toLowerCase() })),
      };
    }
  }
  fail(`enum ${e.name}: values do not share the prefix LIBXL_${upper} or ${upper}`);
}

function buildModel(parsed) {
  const enums = new Map();
  const structs = new Map();
  const warnings = [];
  for (const it of parsed.items) {
    if (enums.has(it.name) || structs.has(it.name)) fail(`${it.name} defined twice`);
    if (it.kind === 'enum') enums.set(it.name, { ...it, ...enumStrings(it) });
    else structs.set(it.name, it);
  }

  function isArrayPointer(f) {
    return f.kind === 'field' && f.ptr > 0 && !(f.base === 'char' && f.ptr === 1);
  }

  function typeRef(f) {
    if (f.dim !== undefined) fail(`field ${f.name}: unexpected C array`, f.lineNo);
    if (f.base === 'char' && f.ptr === 1) return { kind: 'prim', ts: 'string' };
    if (f.ptr !== 0) fail(`field ${f.name}: unexpected pointer`, f.lineNo);
    if (NUMBER_TYPES.has(f.base)) return { kind: 'prim', ts: 'number' };
    if (BUILTIN_TYPES.has(f.base)) return { kind: 'prim', ts: BUILTIN_TYPES.get(f.base) };
    if (enums.has(f.base)) return { kind: 'named', ts: tsName(f.base), cname: f.base };
    if (structs.has(f.base)) return { kind: 'named', ts: tsName(f.base), cname: f.base };
    warnings.push(`field ${f.name}: unknown type ${f.base}, typed as unknown`);
    return { kind: 'prim', ts: 'unknown', note: `unmapped libxl type ${f.base}` };
  }

  // Turns C members into JSON members:
  //   { kind: 'prop', key, type, note? } | { kind: 'skip', name, why }
  //   | { kind: 'keyed', keyvar, enumName, options: [{ str, members|null }] }
  // type: { kind: 'prim'|'named', ts } | { kind: 'array', elem }
  //       | { kind: 'object', members }
  function convert(members, where) {
    const out = [];
    for (let k = 0; k < members.length; k++) {
      const f = members[k];
      const next = members[k + 1];
      if (f.kind === 'union') fail(`${where}: union ${f.name} without a key field before it`, f.lineNo);
      if (f.kind === 'struct') {
        out.push({ kind: 'prop', key: f.name, type: { kind: 'object', members: convert(f.members, `${where}.${f.name}`) } });
        continue;
      }
      if (next && next.kind === 'union') {
        // Keyed union: key field, then union { struct {...} <value>; ... } u;
        if (f.ptr !== 0 || !enums.has(f.base)) fail(`${where}: union key ${f.name} is not an enum`, f.lineNo);
        const en = enums.get(f.base);
        const byName = new Map();
        for (const um of next.members) {
          if (um.kind !== 'struct') fail(`${where}.${next.name}: union member ${um.name} is not a struct`, um.lineNo);
          if (!en.values.some((v) => v.str === um.name))
            fail(`${where}.${next.name}: member ${um.name} is no value of ${en.name}`, um.lineNo);
          byName.set(um.name, convert(um.members, `${where}.${next.name}.${um.name}`));
        }
        out.push({
          kind: 'keyed',
          keyvar: f.name,
          enumName: en.name,
          options: en.values.map((v) => ({ str: v.str, members: byName.get(v.str) ?? null })),
        });
        k++;
        continue;
      }
      if (f.base === 'int' && f.ptr === 0 && f.name.startsWith('num_') && next && isArrayPointer(next)) {
        // Array: int num_*; T *name;
        const elem =
          next.ptr === 2 && next.base === 'char'
            ? { kind: 'prim', ts: 'string' }
            : next.ptr === 1
              ? typeRef({ ...next, ptr: 0 })
              : fail(`${where}: unsupported array ${next.name}`, next.lineNo);
        if (next.isConst) out.push({ kind: 'skip', name: next.name, why: 'const field' });
        else out.push({ kind: 'prop', key: next.name, type: { kind: 'array', elem } });
        k++;
        continue;
      }
      if (isArrayPointer(f)) fail(`${where}: pointer field ${f.name} without a preceding int num_* count`, f.lineNo);
      if (f.isConst) {
        out.push({ kind: 'skip', name: f.name, why: 'const field' });
        continue;
      }
      if (PRIVATE_TYPES.has(f.base)) {
        out.push({ kind: 'skip', name: f.name, why: `private type ${f.base}` });
        continue;
      }
      const type = typeRef(f);
      out.push({ kind: 'prop', key: f.name, type, note: type.note });
    }
    return out;
  }

  const result = { items: [], jsonTypes: parsed.jsonTypes, warnings };
  for (const it of parsed.items) {
    if (it.kind === 'enum') result.items.push(enums.get(it.name));
    else result.items.push({ kind: 'struct', name: it.name, members: convert(it.members, it.name) });
  }
  for (const t of parsed.jsonTypes) {
    if (!enums.has(t) && !structs.has(t)) fail(`${t}_to_json declared but ${t} is not defined in the header`);
  }

  // Exported names must be unique.
  const seen = new Map();
  const claim = (n, by) => {
    if (seen.has(n)) fail(`TypeScript name ${n} used by both ${seen.get(n)} and ${by}`);
    seen.set(n, by);
  };
  for (const n of PRELUDE_NAMES) claim(n, 'prelude');
  for (const it of result.items) {
    claim(tsName(it.name), it.name);
    if (it.kind === 'enum') {
      claim(valuesName(it), it.name);
      if (it.prefix !== 'LIBXL_' + it.name.replace(/^libxl_/, '').toUpperCase() + '_') claim(codesName(it), it.name);
    }
  }
  return result;
}

function baseName(e) {
  return pascal(e.name);
}

function valuesName(e) {
  return baseName(e) + 'Values';
}

function codesName(e) {
  return baseName(e) + 'Codes';
}

// ---------------------------------------------------------------------------
// Emitting

const IDENT_RE = /^[A-Za-z_$][\w$]*$/;

function quoteKey(k) {
  return IDENT_RE.test(k) ? k : `'${k}'`;
}

function renderType(type, indent, context) {
  switch (type.kind) {
    case 'prim':
    case 'named':
      return type.ts;
    case 'array': {
      const e = renderType(type.elem, indent, context);
      return /^[\w$.]+(\[\])*$/.test(e) ? `${e}[]` : `Array<${e}>`;
    }
    case 'object':
      return renderObject(type.members, indent, context);
    default:
      fail(`internal: unknown type kind ${type.kind}`);
  }
}

function renderObject(members, indent, context) {
  if (members.length === 0) return 'Record<string, never>';
  const lines = renderMembers(members, indent + '  ', context);
  return `{\n${lines.join('\n')}\n${indent}}`;
}

function versionNote(versions, context) {
  if (!versions || sameVersions(versions, context)) return undefined;
  const absent = context.filter((v) => !versions.includes(v));
  return `Only in Xen ${versions.join(', ')} (not in Xen ${absent.join(', ')}).`;
}

function sameVersions(a, b) {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

function renderMembers(members, indent, context) {
  const out = [];
  const doc = (m) => {
    const note = versionNote(m.versions, context);
    if (note) out.push(`${indent}/** ${note} */`);
  };
  for (const m of members) {
    const inner = m.versions ?? context;
    if (m.kind === 'skip') {
      const note = versionNote(m.versions, context);
      out.push(`${indent}// ${m.name}: ${m.why}, not part of libxl's JSON${note ? ` (${note.replace(/\.$/, '')})` : ''}`);
    } else if (m.kind === 'prop') {
      doc(m);
      const note = m.note ? ` // ${m.note}` : '';
      out.push(`${indent}${quoteKey(m.key)}?: ${renderType(m.type, indent, inner)};${note}`);
    } else if (m.kind === 'keyed') {
      doc(m);
      out.push(
        `${indent}// Keyed union on '${m.keyvar}' (${tsName(m.enumName)}): at most one '${m.keyvar}.<value>' key,`,
        `${indent}// which also sets ${m.keyvar}; there is no plain '${m.keyvar}' key.`,
      );
      for (const o of m.options) {
        const optContext = o.versions ?? inner;
        const type = o.members ? renderObject(o.members, indent, optContext) : 'Record<string, never>';
        const note = versionNote(o.versions, inner);
        if (note) out.push(`${indent}/** ${note} */`);
        out.push(`${indent}${quoteKey(`${m.keyvar}.${o.str}`)}?: ${type};`);
      }
    }
  }
  return out;
}

/** The JSDoc of a type: its C name, and what not every version has. */
function typeDoc(first, notes) {
  if (notes.length === 0) return [`/** ${first} */`];
  return ['/**', ` * ${first}`, ' *', ...notes.map((n) => ` * ${n}`), ' */'];
}

function renderEnum(e, all) {
  const name = tsName(e.name);
  const context = e.versions ?? all;
  const strs = e.values.map((v) => `'${v.str}'`);
  const out = [];
  const notes = [];
  const typeNote = versionNote(e.versions, all);
  if (typeNote) notes.push(typeNote);
  for (const v of e.values) {
    const note = versionNote(v.versions, context);
    if (note) notes.push(`'${v.str}': ${note[0].toLowerCase()}${note.slice(1)}`);
  }
  out.push(...typeDoc(`${e.name} (${e.prefix}*)`, notes));
  const oneLine = `export type ${name} = ${strs.join(' | ')};`;
  if (oneLine.length <= 100) out.push(oneLine);
  else out.push(`export type ${name} =`, ...strs.map((s, i) => `  | ${s}${i === strs.length - 1 ? ';' : ''}`));
  const valueDoc = (v) => {
    const note = versionNote(v.versions, context);
    if (note) out.push(`  /** ${note} */`);
  };
  out.push('', `/** ${e.name}: libxl's string → C value. */`, `export const ${valuesName(e)} = {`);
  for (const v of e.values) {
    valueDoc(v);
    out.push(`  ${quoteKey(v.str)}: ${v.value},`);
  }
  out.push('} as const;');
  if (e.prefix !== 'LIBXL_' + e.name.replace(/^libxl_/, '').toUpperCase() + '_') {
    out.push('', `/** ${e.name}: C constant name → C value. */`, `export const ${codesName(e)} = {`);
    for (const v of e.values) {
      valueDoc(v);
      out.push(`  ${v.cname}: ${v.value},`);
    }
    out.push('} as const;');
  }
  return out;
}

function renderStruct(s, all) {
  const typeNote = versionNote(s.versions, all);
  const out = typeDoc(s.name, typeNote ? [typeNote] : []);
  const members = renderMembers(s.members, '  ', s.versions ?? all);
  if (members.length === 0) out.push(`export interface ${tsName(s.name)} {}`);
  else out.push(`export interface ${tsName(s.name)} {`, ...members, '}');
  return out;
}

// ---------------------------------------------------------------------------
// Versions: one model per header, merged into the union of all of them. Every merged item,
// member, union option and enum value carries `versions` (the versions that have it).

/** Compares "4.17" and "4.20" as numbers, part by part. */
export function compareVersions(a, b) {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let k = 0; k < Math.max(pa.length, pb.length); k++) {
    const d = (pa[k] ?? 0) - (pb[k] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/**
 * Merges lists (one per version, oldest first) of things with keys into one list in which
 * every key appears once, in the newest order, with what only older lists have placed after
 * its predecessor there. Returns [{ key, byVersion: Map(version → thing) }].
 */
function mergeOrdered(lists, keyOf) {
  const merged = [];
  const index = new Map();
  for (const [version, things] of [...lists].reverse()) {
    let after = -1;
    for (const thing of things) {
      const key = keyOf(thing);
      let entry = index.get(key);
      if (!entry) {
        entry = { key, byVersion: new Map() };
        merged.splice(after + 1, 0, entry);
        index.set(key, entry);
      }
      if (entry.byVersion.has(version)) fail(`${key} appears twice in Xen ${version}'s header`);
      entry.byVersion.set(version, thing);
      after = merged.indexOf(entry);
    }
  }
  // Versions oldest first within each entry, as the lists were given.
  const order = lists.map(([v]) => v);
  for (const e of merged) e.byVersion = new Map(order.filter((v) => e.byVersion.has(v)).map((v) => [v, e.byVersion.get(v)]));
  return merged;
}

function memberKey(m) {
  if (m.kind === 'prop') return `prop ${m.key}`;
  if (m.kind === 'skip') return `skip ${m.name}`;
  return `keyed ${m.keyvar}`;
}

function mergeType(byVersion, where) {
  const types = [...byVersion.values()];
  const kinds = new Set(types.map((t) => t.kind));
  if (kinds.size !== 1) fail(`${where} changes its kind of type between Xen versions (${[...kinds].join(', ')})`);
  const kind = types[0].kind;
  if (kind === 'object') {
    return {
      kind,
      members: mergeMembers(
        [...byVersion].map(([v, t]) => [v, t.members]),
        where,
      ),
    };
  }
  if (kind === 'array') return { kind, elem: mergeType(new Map([...byVersion].map(([v, t]) => [v, t.elem])), `${where}[]`) };
  const ts = new Set(types.map((t) => t.ts));
  if (ts.size !== 1)
    fail(`${where} changes its type between Xen versions (${[...byVersion].map(([v, t]) => `${v}: ${t.ts}`).join(', ')})`);
  return types[0];
}

function mergeMembers(lists, where) {
  return mergeOrdered(lists, memberKey).map(({ byVersion }) => {
    const versions = [...byVersion.keys()];
    const first = [...byVersion.values()][0];
    if (first.kind === 'skip') return { ...first, versions };
    if (first.kind === 'prop') {
      const notes = new Set([...byVersion.values()].map((m) => m.note).filter(Boolean));
      return {
        ...first,
        versions,
        type: mergeType(new Map([...byVersion].map(([v, m]) => [v, m.type])), `${where}.${first.key}`),
        note: [...notes][0],
      };
    }
    const enums = new Set([...byVersion.values()].map((m) => m.enumName));
    if (enums.size !== 1) fail(`${where}: union on ${first.keyvar} is keyed by different enums between Xen versions`);
    const options = mergeOrdered(
      [...byVersion].map(([v, m]) => [v, m.options]),
      (o) => o.str,
    ).map(({ key, byVersion: opts }) => {
      const withMembers = [...opts].filter(([, o]) => o.members);
      return {
        str: key,
        versions: [...opts.keys()],
        members: withMembers.length
          ? mergeMembers(
              [...opts].map(([v, o]) => [v, o.members ?? []]),
              `${where}.${first.keyvar}.${key}`,
            )
          : null,
      };
    });
    return { ...first, versions, options };
  });
}

/** Merges the per-version models ([[version, model]], oldest first) into one. */
function mergeModels(models) {
  const all = models.map(([v]) => v);
  const items = mergeOrdered(
    models.map(([v, m]) => [v, m.items]),
    (it) => it.name,
  ).map(({ key, byVersion }) => {
    const versions = [...byVersion.keys()];
    const defs = [...byVersion.values()];
    const kinds = new Set(defs.map((d) => d.kind));
    if (kinds.size !== 1) fail(`${key} is an enum in one Xen version and a struct in another`);
    if (defs[0].kind === 'enum') {
      const prefixes = new Set(defs.map((d) => d.prefix));
      if (prefixes.size !== 1) fail(`enum ${key} changes its value prefix between Xen versions`);
      const values = mergeOrdered(
        [...byVersion].map(([v, d]) => [v, d.values]),
        (x) => x.str,
      ).map(({ key: str, byVersion: vals }) => {
        const numbers = new Set([...vals.values()].map((x) => x.value));
        if (numbers.size !== 1) fail(`enum ${key}: '${str}' changes its C value between Xen versions`);
        return { ...[...vals.values()][0], versions: [...vals.keys()] };
      });
      return { ...defs[0], versions, values };
    }
    return {
      kind: 'struct',
      name: key,
      versions,
      members: mergeMembers(
        [...byVersion].map(([v, d]) => [v, d.members]),
        key,
      ),
    };
  });
  const jsonTypes = mergeOrdered(
    models.map(([v, m]) => [v, m.jsonTypes]),
    (t) => t,
  ).map(({ key, byVersion }) => ({ name: key, versions: [...byVersion.keys()] }));
  return { versions: all, items, jsonTypes, warnings: models.flatMap(([v, m]) => m.warnings.map((w) => `Xen ${v}: ${w}`)) };
}

/** { version: headerText } or one header's text (a single, unnamed version) → [[version, text]]. */
function headerList(headers) {
  if (typeof headers === 'string') return [['', headers]];
  const list = Object.entries(headers).sort(([a], [b]) => compareVersions(a, b));
  if (list.length === 0) fail('no header given');
  return list;
}

/** The merged model of the headers ({ version: headerText }, or one header's text). */
export function model(headers) {
  const list = headerList(headers);
  return mergeModels(list.map(([v, text]) => [v, buildModel(parseHeader(text))]));
}

function sourceLine(list) {
  const sha = (text) => createHash('sha256').update(text).digest('hex');
  if (list.length === 1 && list[0][0] === '') return `from _libxl_types.h (sha256 ${sha(list[0][1])})`;
  return `from _libxl_types.h of ${list.map(([v, text]) => `Xen ${v} (sha256 ${sha(text)})`).join(', ')}`;
}

/**
 * Returns the TypeScript source of src/generated/libxl-types.ts for the headers: `headers` is
 * { version: text of that version's _libxl_types.h } (the types are the union of all versions,
 * and what not every version has says so in its JSDoc), or one header's text.
 */
export function generate(headers) {
  const list = headerList(headers);
  const m = mergeModels(list.map(([v, text]) => [v, buildModel(parseHeader(text))]));
  const all = m.versions;
  const out = [`// Generated by scripts/gen-types.mjs ${sourceLine(list)}. Do not edit.`, '', PRELUDE.trimEnd()];
  if (all.length > 1) {
    out.push(
      '',
      `// Xen versions: ${all.join(', ')}. These types are the union of theirs; what not every`,
      "// version's libxl has says so in its JSDoc (see also libxl-versions.ts, which createDomain",
      '// and restoreDomain check configurations against).',
    );
  }
  for (const it of m.items) {
    out.push('');
    out.push(...(it.kind === 'enum' ? renderEnum(it, all) : renderStruct(it, all)));
  }
  out.push(
    '',
    '/** Every libxl type that has libxl_<type>_to_json() / _from_json(), in header order. */',
    'export const TypeNames = [',
    ...m.jsonTypes.map((t) => {
      const note = versionNote(t.versions, all);
      return `  '${t.name}',${note ? ` // ${note}` : ''}`;
    }),
    '] as const;',
    '',
    'export type TypeName = (typeof TypeNames)[number];',
    '',
    "/** The TypeScript type of each libxl type's JSON. */",
    'export interface JsonTypes {',
    ...m.jsonTypes.flatMap((t) => {
      const note = versionNote(t.versions, all);
      return [...(note ? [`  /** ${note} */`] : []), `  ${t.name}: ${tsName(t.name)};`];
    }),
    '}',
    '',
  );
  const text = out.join('\n');
  if (/[ \t]+$/m.test(text)) fail('internal: trailing whitespace in output');
  return text;
}

// ---------------------------------------------------------------------------
// libxl-versions.ts: what not every version has, for people (FIELD_VERSIONS, VALUE_VERSIONS,
// TYPE_VERSIONS) and for the configuration check (SHAPES).

/** The limited versions of a thing in its context, or undefined when it is in all of them. */
function limited(versions, context) {
  return versions && !sameVersions(versions, context) ? versions : undefined;
}

function versionTables(m) {
  const all = m.versions;
  const byName = new Map(m.items.map((it) => [it.name, it]));
  const typeVersions = {};
  const fieldVersions = {};
  const valueVersions = {};
  for (const it of m.items) {
    if (limited(it.versions, all)) typeVersions[it.name] = it.versions;
    if (it.kind === 'enum') {
      const ctx = it.versions;
      const vals = {};
      for (const v of it.values) if (limited(v.versions, ctx)) vals[v.str] = v.versions;
      if (Object.keys(vals).length) valueVersions[it.name] = vals;
    } else {
      const fields = {};
      const walk = (members, prefix, ctx) => {
        for (const mb of members) {
          const own = mb.versions ?? ctx;
          if (mb.kind === 'prop') {
            const key = prefix + mb.key;
            if (limited(own, ctx)) fields[key] = own;
            let t = mb.type;
            while (t.kind === 'array') t = t.elem;
            if (t.kind === 'object') walk(t.members, `${key}.`, own);
          } else if (mb.kind === 'keyed') {
            for (const o of mb.options) {
              const key = `${prefix}${mb.keyvar}.${o.str}`;
              const ov = o.versions ?? own;
              if (limited(ov, ctx)) fields[key] = ov;
              if (o.members) walk(o.members, `${key}.`, ov);
            }
          }
        }
      };
      walk(it.members, '', it.versions);
      if (Object.keys(fields).length) fieldVersions[it.name] = fields;
    }
  }

  // SHAPES: for each struct, the JSON members that are limited or lead to something limited.
  // A member: { v?: versions, t?: type } where type is a libxl type name (a struct in SHAPES
  // or an enum in VALUE_VERSIONS), { a: type } (an array) or { o: members } (a nested object).
  const shapes = {};
  const leads = new Map(); // struct name → members or null (being computed / nothing limited)
  function shapeOfType(t, ctx) {
    if (t.kind === 'array') {
      const e = shapeOfType(t.elem, ctx);
      return e === undefined ? undefined : { a: e };
    }
    if (t.kind === 'object') {
      const o = shapeOfMembers(t.members, ctx);
      return o === undefined ? undefined : { o };
    }
    if (t.kind !== 'named') return undefined;
    const it = byName.get(t.cname);
    if (it.kind === 'enum') return valueVersions[it.name] ? it.name : undefined;
    return shapeOfStruct(it) ? it.name : undefined;
  }
  function shapeOfStruct(it) {
    if (leads.has(it.name)) return leads.get(it.name);
    leads.set(it.name, null); // a cycle leads nowhere new
    const s = shapeOfMembers(it.members, it.versions);
    leads.set(it.name, s ?? null);
    if (s) shapes[it.name] = s;
    return s;
  }
  function shapeOfMembers(members, ctx) {
    const out = {};
    for (const mb of members) {
      const own = mb.versions ?? ctx;
      if (mb.kind === 'prop') {
        const v = limited(own, ctx);
        const t = shapeOfType(mb.type, own);
        if (v || t !== undefined) out[mb.key] = { ...(v ? { v } : {}), ...(t !== undefined ? { t } : {}) };
      } else if (mb.kind === 'keyed') {
        for (const o of mb.options) {
          const ov = o.versions ?? own;
          const v = limited(ov, ctx);
          const s = o.members ? shapeOfMembers(o.members, ov) : undefined;
          const t = s === undefined ? undefined : { o: s };
          if (v || t !== undefined) out[`${mb.keyvar}.${o.str}`] = { ...(v ? { v } : {}), ...(t !== undefined ? { t } : {}) };
        }
      }
    }
    return Object.keys(out).length ? out : undefined;
  }
  for (const it of m.items) if (it.kind === 'struct') shapeOfStruct(it);
  return { typeVersions, fieldVersions, valueVersions, shapes };
}

/** Renders a JSON-like value as TypeScript: keys quoted only where needed, one level a line. */
function renderValue(value, indent) {
  if (Array.isArray(value)) return `[${value.map((v) => renderValue(v, indent)).join(', ')}]`;
  if (typeof value === 'string') return `'${value}'`;
  const entries = Object.entries(value);
  if (entries.length === 0) return '{}';
  const flat = entries.every(([, v]) => typeof v === 'string' || Array.isArray(v));
  const oneLine = `{ ${entries.map(([k, v]) => `${quoteKey(k)}: ${renderValue(v, indent)}`).join(', ')} }`;
  if (flat && indent.length + oneLine.length <= 80) return oneLine;
  const inner = indent + '  ';
  return `{\n${entries.map(([k, v]) => `${inner}${quoteKey(k)}: ${renderValue(v, inner)},`).join('\n')}\n${indent}}`;
}

/** Returns the TypeScript source of src/generated/libxl-versions.ts for { version: headerText }. */
export function generateVersions(headers) {
  const list = headerList(headers);
  const m = mergeModels(list.map(([v, text]) => [v, buildModel(parseHeader(text))]));
  const t = versionTables(m);
  const out = [
    `// Generated by scripts/gen-types.mjs ${sourceLine(list)}. Do not edit.`,
    '//',
    "// What of libxl's JSON not every Xen version has. libxl's JSON parser silently ignores keys",
    '// it does not know, so a configuration is checked against these tables before it reaches a',
    '// libxl that lacks one of its fields (src/core/domain-config.ts, checkConfigVersion).',
    '',
    '/** The Xen versions whose _libxl_types.h the generated types come from, oldest first. */',
    `export const XEN_VERSIONS = ${renderValue(m.versions, '')} as const;`,
    '',
    'export type KnownXenVersion = (typeof XEN_VERSIONS)[number];',
    '',
    '/** libxl types (C names) that not every version has → the versions that have them. */',
    `export const TYPE_VERSIONS: Readonly<Record<string, readonly KnownXenVersion[]>> = ${renderValue(t.typeVersions, '')};`,
    '',
    '/**',
    ' * For each libxl struct, its JSON members (dotted paths from the struct, keyed-union entries such',
    " * as 'type.hvm' included) that not every version of the struct has → the versions that have them.",
    ' */',
    'export const FIELD_VERSIONS: Readonly<Record<string, Readonly<Record<string, readonly KnownXenVersion[]>>>> = ' +
      `${renderValue(t.fieldVersions, '')};`,
    '',
    '/** For each libxl enum, its values (libxl strings) that not every version has → the versions that have them. */',
    'export const VALUE_VERSIONS: Readonly<Record<string, Readonly<Record<string, readonly KnownXenVersion[]>>>> = ' +
      `${renderValue(t.valueVersions, '')};`,
    '',
    '/**',
    ' * A JSON member on the way to something not every version has: `v`, the versions that have the',
    ' * member (absent: every version of its parent); `t`, where to look inside it (absent: nowhere).',
    ' */',
    'export interface ShapeMember {',
    '  v?: readonly KnownXenVersion[];',
    '  t?: ShapeType;',
    '}',
    '',
    '/** A libxl type name (a struct of SHAPES, an enum of VALUE_VERSIONS), an array or a nested object. */',
    'export type ShapeType = string | { a: ShapeType } | { o: Readonly<Record<string, ShapeMember>> };',
    '',
    '/** For each libxl struct that leads to something not every version has, the members that do. */',
    `export const SHAPES: Readonly<Record<string, Readonly<Record<string, ShapeMember>>>> = ${renderValue(t.shapes, '')};`,
    '',
  ];
  const text = out.join('\n');
  if (/[ \t]+$/m.test(text)) fail('internal: trailing whitespace in output');
  return text;
}

// ---------------------------------------------------------------------------
// CLI

/** { version: text } of every <version>/_libxl_types.h under dir. */
export function readHeaders(dir) {
  const headers = {};
  for (const name of readdirSync(dir).sort(compareVersions)) {
    if (!/^\d+\.\d+$/.test(name)) continue;
    headers[name] = readFileSync(path.join(dir, name, '_libxl_types.h'), 'utf8');
  }
  if (Object.keys(headers).length === 0) fail(`no <version>/_libxl_types.h under ${dir}`);
  return headers;
}

/** { file name: text } of everything generated from the headers. */
export function generateAll(headers) {
  return { 'libxl-types.ts': generate(headers), 'libxl-versions.ts': generateVersions(headers) };
}

function main(argv) {
  let headersDir = DEFAULT_HEADERS;
  let outDir = DEFAULT_OUT_DIR;
  let check = false;
  for (let k = 0; k < argv.length; k++) {
    const a = argv[k];
    const value = () => {
      if (k + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++k];
    };
    if (a === '--headers') headersDir = path.resolve(value());
    else if (a.startsWith('--headers=')) headersDir = path.resolve(a.slice('--headers='.length));
    else if (a === '--out') outDir = path.resolve(value());
    else if (a.startsWith('--out=')) outDir = path.resolve(a.slice('--out='.length));
    else if (a === '--check') check = true;
    else if (a === '-h' || a === '--help') {
      process.stdout.write('usage: node scripts/gen-types.mjs [--headers DIR] [--out DIR] [--check]\n');
      return 0;
    } else throw new Error(`unknown argument ${a}`);
  }

  const headers = readHeaders(headersDir);
  const from = `${path.relative(process.cwd(), headersDir) || headersDir} (Xen ${Object.keys(headers).join(', ')})`;
  for (const w of model(headers).warnings) process.stderr.write(`gen-types: warning: ${w}\n`);
  const files = generateAll(headers);
  let status = 0;
  for (const [name, text] of Object.entries(files)) {
    const out = path.join(outDir, name);
    const rel = path.relative(process.cwd(), out) || out;
    if (!check) {
      mkdirSync(path.dirname(out), { recursive: true });
      writeFileSync(out, text);
      process.stdout.write(`gen-types: wrote ${rel} from ${from}\n`);
      continue;
    }
    let current;
    try {
      current = readFileSync(out, 'utf8');
    } catch (err) {
      process.stderr.write(`gen-types: ${rel} cannot be read (${err.code ?? err.message}); run \`npm run gen:types\`\n`);
      status = 1;
      continue;
    }
    if (current === text) {
      process.stdout.write(`gen-types: ${rel} is up to date with ${from}\n`);
      continue;
    }
    const a = current.split('\n');
    const b = text.split('\n');
    let n = 0;
    while (n < a.length && n < b.length && a[n] === b[n]) n++;
    process.stderr.write(
      `gen-types: ${rel} is out of date with ${from} (first difference at line ${n + 1}):\n` +
        `  committed: ${JSON.stringify(a[n] ?? '<end of file>')}\n` +
        `  generated: ${JSON.stringify(b[n] ?? '<end of file>')}\n` +
        'Run `npm run gen:types` and commit the result.\n',
    );
    status = 1;
  }
  return status;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  try {
    process.exitCode = main(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${err.message}\n`);
    process.exitCode = 2;
  }
}
