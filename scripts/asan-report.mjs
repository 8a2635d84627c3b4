// Reads ASan's logs (asan.<pid>) from a directory: prints every error report and every leak whose
// allocation stack has a frame in the addon (xenlight.node or native/**/*.cc); exits 1 if any.
import * as fs from 'node:fs';
import * as path from 'node:path';

const dir = process.argv[2];
const logs = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => /^asan\.\d+$/.test(f)) : [];
let errors = 0,
  ours = 0,
  others = 0,
  oursBytes = 0,
  nodeApi = 0;
const ourFrame = /xenlight\.node|\/native\/(?:\w+\/)?\w+\.(cc|h)\b/;
// The allocating frame (the first after ASan's malloc/new) is Node's own napi_* code: a record
// Node keeps for an object it hands out (an External's finalizer) until the object is garbage
// collected — which Node does not do at exit. What the addon allocates itself has the addon there.
const nodeApiAlloc = (frames) => /^\s+#1 \S+ in napi_\w+ \(\/usr\/bin\/node\+/m.test(frames);
for (const f of logs) {
  const text = fs.readFileSync(path.join(dir, f), 'utf8');
  // ASan stops a process at its first error: one report per log, up to its SUMMARY line.
  const at = text.indexOf('ERROR: AddressSanitizer');
  if (at >= 0) {
    errors++;
    const end = text.indexOf('SUMMARY', at);
    console.log(
      `${f}:\n${text
        .slice(at, end < 0 ? undefined : end + 200)
        .split('\n')
        .slice(0, 40)
        .join('\n')}`,
    );
  }
  // LeakSanitizer: "Direct leak of N byte(s) in M object(s) allocated from:" then "#k ..." frames.
  for (const m of text.matchAll(/^(Direct|Indirect) leak of (\d+) byte\(s\)[^\n]*\n((?:\s+#\d+[^\n]*\n)+)/gm)) {
    if (nodeApiAlloc(m[3])) {
      nodeApi++;
    } else if (ourFrame.test(m[3])) {
      ours++;
      oursBytes += Number(m[2]);
      console.log(`${f}: ${m[0]}`);
    } else {
      others++;
    }
  }
}
console.log(
  `asan: ${logs.length} log(s); ${errors} error(s); ${ours} leak(s) through the addon (${oursBytes} bytes); ` +
    `${nodeApi} Node-API record(s) of objects not collected before exit; ${others} leak(s) elsewhere (node, V8, libraries it loads)`,
);
process.exit(errors || ours ? 1 : 0);
