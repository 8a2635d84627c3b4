#!/usr/bin/env node
// Generates src/generated/libxl-types.ts from libxl's generated C header _libxl_types.h.
//
// The TypeScript types describe libxl's own JSON shape of every IDL type: what
// libxl_<type>_to_json() prints and libxl_<type>_from_json() accepts. That JSON
// is the bridge between the native addon and TypeScript.
//
// Usage: node scripts/gen-types.mjs [--header PATH] [--out PATH] [--check]
//   --header  the header to read (default /usr/include/_libxl_types.h)
//   --out     the file to write (default src/generated/libxl-types.ts in this repository)
//   --check   do not write; exit 1 if the file on disk differs from what the
//             header generates (for CI)
//
// No dependencies; Node 20. `generate(headerText)` is exported for tests.
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
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const DEFAULT_HEADER = '/usr/include/_libxl_types.h';
const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DEFAULT_OUT = path.join(REPO_ROOT, 'src', 'generated', 'libxl-types.ts');

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
    if (enums.has(f.base)) return { kind: 'named', ts: tsName(f.base) };
    if (structs.has(f.base)) return { kind: 'named', ts: tsName(f.base) };
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

function renderType(type, indent) {
  switch (type.kind) {
    case 'prim':
    case 'named':
      return type.ts;
    case 'array': {
      const e = renderType(type.elem, indent);
      return /^[\w$.]+(\[\])*$/.test(e) ? `${e}[]` : `Array<${e}>`;
    }
    case 'object':
      return renderObject(type.members, indent);
    default:
      fail(`internal: unknown type kind ${type.kind}`);
  }
}

function renderObject(members, indent) {
  if (members.length === 0) return 'Record<string, never>';
  const lines = renderMembers(members, indent + '  ');
  return `{\n${lines.join('\n')}\n${indent}}`;
}

function renderMembers(members, indent) {
  const out = [];
  for (const m of members) {
    if (m.kind === 'skip') {
      out.push(`${indent}// ${m.name}: ${m.why}, not part of libxl's JSON`);
    } else if (m.kind === 'prop') {
      const note = m.note ? ` // ${m.note}` : '';
      out.push(`${indent}${quoteKey(m.key)}?: ${renderType(m.type, indent)};${note}`);
    } else if (m.kind === 'keyed') {
      out.push(
        `${indent}// Keyed union on '${m.keyvar}' (${tsName(m.enumName)}): at most one '${m.keyvar}.<value>' key,`,
        `${indent}// which also sets ${m.keyvar}; there is no plain '${m.keyvar}' key.`,
      );
      for (const o of m.options) {
        const type = o.members ? renderObject(o.members, indent) : 'Record<string, never>';
        out.push(`${indent}${quoteKey(`${m.keyvar}.${o.str}`)}?: ${type};`);
      }
    }
  }
  return out;
}

function renderEnum(e) {
  const name = tsName(e.name);
  const strs = e.values.map((v) => `'${v.str}'`);
  const out = [];
  out.push(`/** ${e.name} (${e.prefix}*) */`);
  const oneLine = `export type ${name} = ${strs.join(' | ')};`;
  if (oneLine.length <= 100) out.push(oneLine);
  else out.push(`export type ${name} =`, ...strs.map((s, i) => `  | ${s}${i === strs.length - 1 ? ';' : ''}`));
  out.push('', `/** ${e.name}: libxl's string → C value. */`, `export const ${valuesName(e)} = {`);
  for (const v of e.values) out.push(`  ${quoteKey(v.str)}: ${v.value},`);
  out.push('} as const;');
  if (e.prefix !== 'LIBXL_' + e.name.replace(/^libxl_/, '').toUpperCase() + '_') {
    out.push('', `/** ${e.name}: C constant name → C value. */`, `export const ${codesName(e)} = {`);
    for (const v of e.values) out.push(`  ${v.cname}: ${v.value},`);
    out.push('} as const;');
  }
  return out;
}

function renderStruct(s) {
  const out = [`/** ${s.name} */`];
  const members = renderMembers(s.members, '  ');
  if (members.length === 0) out.push(`export interface ${tsName(s.name)} {}`);
  else out.push(`export interface ${tsName(s.name)} {`, ...members, '}');
  return out;
}

/** Returns the TypeScript source generated from the text of _libxl_types.h. */
export function generate(headerText) {
  const model = buildModel(parseHeader(headerText));
  const sha = createHash('sha256').update(headerText).digest('hex');
  const out = [`// Generated by scripts/gen-types.mjs from _libxl_types.h (sha256 ${sha}). Do not edit.`, '', PRELUDE.trimEnd()];
  for (const it of model.items) {
    out.push('');
    out.push(...(it.kind === 'enum' ? renderEnum(it) : renderStruct(it)));
  }
  out.push(
    '',
    '/** Every libxl type that has libxl_<type>_to_json() / _from_json(), in header order. */',
    'export const TypeNames = [',
    ...model.jsonTypes.map((t) => `  '${t}',`),
    '] as const;',
    '',
    'export type TypeName = (typeof TypeNames)[number];',
    '',
    "/** The TypeScript type of each libxl type's JSON. */",
    'export interface JsonTypes {',
    ...model.jsonTypes.map((t) => `  ${t}: ${tsName(t)};`),
    '}',
    '',
  );
  const text = out.join('\n');
  if (/[ \t]+$/m.test(text)) fail('internal: trailing whitespace in output');
  return text;
}

/**
 * The intermediate model (enums, structs with their JSON members, the types
 * with _to_json, warnings such as unmapped types) for the given header.
 */
export function model(headerText) {
  return buildModel(parseHeader(headerText));
}

// ---------------------------------------------------------------------------
// CLI

function main(argv) {
  let header = DEFAULT_HEADER;
  let out = DEFAULT_OUT;
  let check = false;
  for (let k = 0; k < argv.length; k++) {
    const a = argv[k];
    const value = () => {
      if (k + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++k];
    };
    if (a === '--header') header = path.resolve(value());
    else if (a.startsWith('--header=')) header = path.resolve(a.slice('--header='.length));
    else if (a === '--out') out = path.resolve(value());
    else if (a.startsWith('--out=')) out = path.resolve(a.slice('--out='.length));
    else if (a === '--check') check = true;
    else if (a === '-h' || a === '--help') {
      process.stdout.write('usage: node scripts/gen-types.mjs [--header PATH] [--out PATH] [--check]\n');
      return 0;
    } else throw new Error(`unknown argument ${a}`);
  }

  const headerText = readFileSync(header, 'utf8');
  for (const w of model(headerText).warnings) process.stderr.write(`gen-types: warning: ${w}\n`);
  const text = generate(headerText);
  const rel = path.relative(process.cwd(), out) || out;

  if (check) {
    let current;
    try {
      current = readFileSync(out, 'utf8');
    } catch (err) {
      process.stderr.write(`gen-types: ${rel} cannot be read (${err.code ?? err.message}); run \`npm run gen:types\`\n`);
      return 1;
    }
    if (current === text) {
      process.stdout.write(`gen-types: ${rel} is up to date with ${header}\n`);
      return 0;
    }
    const a = current.split('\n');
    const b = text.split('\n');
    let n = 0;
    while (n < a.length && n < b.length && a[n] === b[n]) n++;
    process.stderr.write(
      `gen-types: ${rel} is out of date with ${header} (first difference at line ${n + 1}):\n` +
        `  committed: ${JSON.stringify(a[n] ?? '<end of file>')}\n` +
        `  generated: ${JSON.stringify(b[n] ?? '<end of file>')}\n` +
        'Run `npm run gen:types` and commit the result.\n',
    );
    return 1;
  }

  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, text);
  process.stdout.write(`gen-types: wrote ${rel} from ${header}\n`);
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  try {
    process.exitCode = main(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${err.message}\n`);
    process.exitCode = 2;
  }
}
