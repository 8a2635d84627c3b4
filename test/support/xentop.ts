// Parses the tables `xentop -b` (and `xenlight top -b`) print, for tests that compare the two.
import { strict as assert } from 'node:assert';

/** Whitespace-split rows of a `top -b` style table, one array of rows per iteration. */
export function tables(text: string): { header: string; rows: Record<string, string>[]; lines: string[] }[] {
  const out: { header: string; rows: Record<string, string>[]; lines: string[] }[] = [];
  for (const line of text.split('\n').filter((l) => l.trim())) {
    if (/^\s+NAME\s+STATE/.test(line)) {
      out.push({ header: line, rows: [], lines: [] });
      continue;
    }
    const t = out[out.length - 1];
    assert.ok(t, `a row before the NAME header: ${JSON.stringify(line)}`);
    const cols = t.header.trim().split(/\s+/);
    const cells = line
      .trim()
      .replace(/no limit/g, 'no_limit')
      .split(/\s+/);
    assert.equal(cells.length, cols.length, `row ${JSON.stringify(line)}`);
    t.rows.push(Object.fromEntries(cols.map((c, i) => [c, cells[i]])));
    t.lines.push(line);
  }
  return out;
}
