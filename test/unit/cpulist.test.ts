// xl's CPU list syntax and xl's way of printing CPU maps.
import { strict as assert } from 'node:assert';
import { formatCpuList, parseCpuList, XenError } from '../../src';

const layout = { nrCpus: 8, cpusOfNode: (n: number) => (n === 0 ? [0, 1, 2, 3] : n === 1 ? [4, 5, 6, 7] : undefined) };

describe('CPU lists', function () {
  it('parses what xl vcpu-pin and cpupool-create accept', function () {
    const cases: [string, number[]][] = [
      ['0', [0]],
      ['0-3', [0, 1, 2, 3]],
      ['1,3,5-6', [1, 3, 5, 6]],
      ['all', [0, 1, 2, 3, 4, 5, 6, 7]],
      ['all,^1', [0, 2, 3, 4, 5, 6, 7]],
      ['node:1', [4, 5, 6, 7]],
      ['nodes:0-1,^nodes:0', [4, 5, 6, 7]],
      ['0-7,^2-5', [0, 1, 6, 7]],
      [' 2 , 1 ', [1, 2]],
      ['^1', []],
      ['node:0,^0', [1, 2, 3]],
    ];
    for (const [spec, cpus] of cases) assert.deepEqual(parseCpuList(spec, layout), cpus, spec);
    assert.deepEqual(parseCpuList([3, 1, 1], layout), [1, 3]);
  });

  it('rejects what xl rejects, and CPUs or nodes that do not exist', function () {
    for (const bad of ['', '^all', '3-1', 'a', '1-', '-1', '8', '0-8', 'node:2', 'nodes:x', '1;2', '0x1']) {
      assert.throws(
        () => parseCpuList(bad, layout),
        (e: unknown) => e instanceof XenError && e.code === 'ERR_INVALID_ARG',
        bad,
      );
    }
    for (const bad of [[8], [-1], [1.5], 'x' as unknown as number[]]) {
      assert.throws(
        () => parseCpuList(bad as number[], layout),
        (e: unknown) => e instanceof XenError,
        String(bad),
      );
    }
  });

  it('prints maps like xl (print_bitmap)', function () {
    assert.equal(formatCpuList([0, 1], 2), 'all');
    assert.equal(formatCpuList([1], 2), '1');
    assert.equal(formatCpuList([], 2), 'none');
    assert.equal(formatCpuList([0, 2, 3, 5], 8), '0,2-3,5');
    assert.equal(formatCpuList([0, 1, 2], 8), '0-2');
    assert.equal(formatCpuList([1, 2, 3, 4, 5, 6, 7], 8), '1-7');
    assert.equal(formatCpuList([0], 1), 'all');
  });

  it("only C's blanks around items, as xl's strtoul skips (fuzzing: Unicode blanks were trimmed and accepted)", function () {
    for (const bad of ['\u00a01', '\ufeff0', '1\u2028', '\u30000']) {
      assert.throws(
        () => parseCpuList(bad, layout),
        (e: unknown) => e instanceof XenError && e.code === 'ERR_INVALID_ARG',
        JSON.stringify(bad),
      );
    }
    assert.deepEqual(parseCpuList('\t1\v,\f2\r\n', layout), [1, 2]);
  });

  it("node numbers stop at 255, Xen's nodeid_t (fuzzing: a range of 2^64 nodes was walked)", function () {
    const everyNode = { nrCpus: 8, cpusOfNode: () => [] as number[] };
    const t0 = performance.now();
    assert.throws(() => parseCpuList('nodes:0-18446744073709551614', everyNode), /no such NUMA node: 255/);
    assert.ok(performance.now() - t0 < 1000);
  });
});
