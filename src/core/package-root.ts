// Where this package is installed: the nearest directory above the compiled file that holds
// xenlight's package.json. The compiled modules live in dist/ (the package) or out/src/ (the
// tests' build), at different depths, so no fixed number of '..' fits both.
import * as fs from 'node:fs';
import * as path from 'node:path';

let root: string | undefined;

export function packageRoot(): string {
  if (root) return root;
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json');
    if (fs.existsSync(file) && (JSON.parse(fs.readFileSync(file, 'utf8')) as { name?: string }).name === 'xenlight') {
      return (root = dir);
    }
    if (path.dirname(dir) === dir) throw new Error(`xenlight: no package.json of xenlight above ${__dirname}`);
  }
}

/** xenlight's version, from its package.json. */
export function packageVersion(): string {
  return (JSON.parse(fs.readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}
