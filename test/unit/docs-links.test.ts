// The documentation's relative links (issue #26): every link in README.md, CHANGELOG.md,
// CONTRIBUTING.md and docs/**/*.md that points into the repository names a file or directory
// that exists, and its #anchor, where the target is a markdown file, one of that file's headings
// (GitHub's slugs). External links (https:, mailto:…) are not followed.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** The repository's root: the nearest directory above this file that holds package.json, so
 * the compiled test works from any output directory (dist/test/unit, out/test/unit…). */
function repoRoot(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no package.json above ${__dirname}`);
  }
}

const ROOT = repoRoot();

/** The markdown files whose links are checked, relative to the root. docs/api/ is TypeDoc's
 * output (generated, not committed), and is left out. */
function docFiles(): string[] {
  const walk = (dir: string): string[] =>
    fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((e) => {
      const rel = path.posix.join(dir, e.name);
      if (e.isDirectory()) return rel === 'docs/api' ? [] : walk(rel);
      return e.name.endsWith('.md') ? [rel] : [];
    });
  const top = ['README.md', 'CHANGELOG.md', 'CONTRIBUTING.md'].filter((f) => fs.existsSync(path.join(ROOT, f)));
  return [...top, ...(fs.existsSync(path.join(ROOT, 'docs')) ? walk('docs') : [])];
}

/** The lines of a markdown text outside fenced code blocks (``` or ~~~), with their numbers;
 * the lines inside a fence are blanked, so that numbers stay right. */
function proseLines(text: string): string[] {
  let fence: string | undefined;
  return text.split('\n').map((line) => {
    const m = /^ {0,3}(`{3,}|~{3,})/.exec(line);
    if (fence !== undefined) {
      if (m && m[1][0] === fence[0] && m[1].length >= fence.length && line.trim() === m[1]) fence = undefined;
      return '';
    }
    if (m) {
      fence = m[1];
      return '';
    }
    return line;
  });
}

/** A heading's anchor as GitHub makes it: the rendered text (links by their text, code without
 * its backticks, no HTML tags), lower case, every character but letters, digits, marks,
 * connector punctuation (_), blanks and hyphens dropped, blanks turned into hyphens. */
function slug(heading: string): string {
  const text = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/<[^>]+>/g, '')
    .trim()
    .toLowerCase();
  return text.replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '').replace(/ /g, '-');
}

/** The anchors of a markdown text's headings (ATX `#` and setext), numbered as GitHub numbers
 * repeated ones: the second `a` is `a-1`. */
function anchors(text: string): Set<string> {
  const lines = proseLines(text);
  const seen = new Map<string, number>();
  const out = new Set<string>();
  const add = (heading: string) => {
    const base = slug(heading);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  };
  lines.forEach((line, i) => {
    const atx = /^ {0,3}#{1,6}(?:\s+(.*?))?(?:\s+#+)?\s*$/.exec(line);
    if (atx) return add(atx[1] ?? '');
    const next = lines[i + 1];
    if (line.trim() !== '' && !/^\s*([-*+]\s|>|\|)/.test(line) && next !== undefined && /^ {0,3}(=+|-+)\s*$/.test(next))
      add(line.trim());
  });
  return out;
}

interface Link {
  line: number;
  target: string;
}

/** The inline links and images (`[text](target "title")`) and reference definitions
 * (`[name]: target`) of a markdown text, outside code blocks and code spans. */
function links(text: string): Link[] {
  const out: Link[] = [];
  proseLines(text).forEach((raw, i) => {
    const line = raw.replace(/(`+)[\s\S]*?\1/g, '');
    const def = /^ {0,3}\[(?!\^)[^\]]+\]:\s*<?([^\s>]+)>?/.exec(line);
    if (def) out.push({ line: i + 1, target: def[1] });
    for (const m of line.matchAll(/\]\(\s*(<[^>]*>|[^)\s]+)(?:\s+"[^"]*")?\s*\)/g)) {
      out.push({ line: i + 1, target: m[1].replace(/^<|>$/g, '') });
    }
  });
  return out;
}

/** What is wrong with the relative links of one markdown file (path relative to `root`): a
 * missing file or directory, or an anchor that is none of the target markdown file's headings. */
function brokenLinks(file: string, root = ROOT): string[] {
  const text = fs.readFileSync(path.join(root, file), 'utf8');
  const problems: string[] = [];
  for (const { line, target } of links(text)) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:…: not ours to check
    const hash = target.indexOf('#');
    const filePart = decodeURIComponent(hash < 0 ? target : target.slice(0, hash));
    const anchor = hash < 0 ? undefined : decodeURIComponent(target.slice(hash + 1));
    const where = `${file}:${line}: ${target}`;
    const resolved =
      filePart === ''
        ? path.join(root, file)
        : filePart.startsWith('/')
          ? path.join(root, filePart)
          : path.join(root, path.dirname(file), filePart);
    const inside = path.relative(root, resolved);
    if (inside.startsWith('..') || path.isAbsolute(inside)) {
      problems.push(`${where}: points outside the repository`);
      continue;
    }
    if (!fs.existsSync(resolved)) {
      problems.push(`${where}: no such file or directory`);
      continue;
    }
    if (anchor === undefined || !resolved.endsWith('.md') || !fs.statSync(resolved).isFile()) continue;
    if (!anchors(fs.readFileSync(resolved, 'utf8')).has(anchor)) {
      problems.push(`${where}: no heading with the anchor #${anchor} in ${path.relative(root, resolved)}`);
    }
  }
  return problems;
}

describe('documentation links', function () {
  it('finds the repository root from the compiled test, wherever it was compiled to', function () {
    assert.ok(fs.existsSync(path.join(ROOT, 'package.json')));
    assert.ok(fs.existsSync(path.join(ROOT, 'README.md')));
  });

  it('every relative link in README.md, CHANGELOG.md, CONTRIBUTING.md and docs/ names a file and heading that exist', function () {
    const files = docFiles();
    assert.ok(files.includes('README.md') && files.some((f) => f.startsWith('docs/')), files.join(', '));
    const count = files.reduce((n, f) => n + links(fs.readFileSync(path.join(ROOT, f), 'utf8')).length, 0);
    assert.ok(count > 20, `only ${count} links found: is the link parser broken?`);
    assert.deepEqual(
      files.flatMap((f) => brokenLinks(f)),
      [],
    );
  });

  it("makes anchors by GitHub's rules", function () {
    assert.equal(slug('The `xenlight` command'), 'the-xenlight-command');
    assert.equal(slug('xl ↔ xenlight'), 'xl--xenlight');
    assert.equal(slug('xl.cfg'), 'xlcfg');
    assert.equal(slug('Long runs (soak)'), 'long-runs-soak');
    assert.equal(slug("Xen itself and dom0's kernel"), 'xen-itself-and-dom0s-kernel');
    assert.equal(slug('[0.1.0] — unreleased'), '010--unreleased');
    assert.equal(slug('on_poweroff and [the docs](x.md)'), 'on_poweroff-and-the-docs');
    assert.equal(slug('Überblick 2'), 'überblick-2');
    assert.deepEqual(
      [...anchors('# A\n\n## A\n\nText\n---\n\n```\n# not a heading\n```\n### A ###\n')],
      ['a', 'a-1', 'text', 'a-2'],
    );
  });

  it('reports a missing file, a missing anchor and a link out of the repository, and skips code and URLs', function () {
    const dir = fs.mkdtempSync(path.join(fs.realpathSync(os.tmpdir()), 'docs-links-'));
    try {
      fs.mkdirSync(path.join(dir, 'docs'));
      fs.writeFileSync(
        path.join(dir, 'docs', 'a.md'),
        [
          '# Title',
          '',
          '## Some `code` here',
          '',
          '[ok](b.md#b-heading) [ok too](#some-code-here) [dir](.) ![img](b.md) [web](https://example.com/x.md)',
          '[gone](missing.md) [bad anchor](b.md#nope) [out](../../outside.md)',
          '`[in code](missing-too.md)`',
          '',
          '```',
          '[in a block](missing-three.md)',
          '```',
          '',
          '[ref]: b.md#nope-either',
          '',
        ].join('\n'),
      );
      fs.writeFileSync(path.join(dir, 'docs', 'b.md'), '# B heading\n');
      assert.deepEqual(brokenLinks('docs/a.md', dir), [
        'docs/a.md:6: missing.md: no such file or directory',
        'docs/a.md:6: b.md#nope: no heading with the anchor #nope in docs/b.md',
        'docs/a.md:6: ../../outside.md: points outside the repository',
        'docs/a.md:13: b.md#nope-either: no heading with the anchor #nope-either in docs/b.md',
      ]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
