// The flow graph kernel (src/jobs/flow-graph.ts): keys, parents as indexes, cycles found by Kahn's algorithm.
import { describe, expect, test } from 'bun:test';
import { MAX_FLOW_EDGES, MAX_FLOW_NODES, parentIndexes } from '../src/jobs/flow-graph';

const refusal = (work: () => unknown) => {
  try {
    work();
  } catch (error) {
    return error as { code: string; message: string; details?: Record<string, unknown> };
  }
  throw new Error('not refused');
};

describe('parentIndexes', () => {
  test('parents as indexes, repeated ones once', () => {
    expect(parentIndexes([{ key: 'a' }, { key: 'b', dependsOn: ['a', 'a'] }, { key: 'c', dependsOn: ['b', 'a'] }])).toEqual([[], [0], [1, 0]]);
  });

  test('a cycle names a key on it, not one merely after it', () => {
    // x depends on the cycle b → c → d → b, but is not on it.
    const nodes = [{ key: 'x', dependsOn: ['b'] }, { key: 'a' }, { key: 'b', dependsOn: ['a', 'd'] }, { key: 'c', dependsOn: ['b'] }, { key: 'd', dependsOn: ['c'] }];
    const error = refusal(() => parentIndexes(nodes));
    expect(error.code).toBe('BAD_USER_INPUT');
    expect(['b', 'c', 'd']).toContain(error.details!.key as string);
  });

  test('sizes: nodes, dependsOn entries, empty', () => {
    expect(refusal(() => parentIndexes(Array.from({ length: MAX_FLOW_NODES + 1 }, (_, i) => ({ key: `n${i}` })))).message).toContain('at most 10,000 nodes');
    const keys = Array.from({ length: 400 }, (_, i) => `n${i}`);
    const dense = keys.map((key, i) => ({ key, dependsOn: i ? keys.slice(0, i) : [] }));
    expect(2 * dense.reduce((sum, node) => sum + node.dependsOn.length, 0)).toBeGreaterThan(MAX_FLOW_EDGES);
    expect(refusal(() => parentIndexes([...dense, ...dense.map((node) => ({ key: `${node.key}'`, dependsOn: node.dependsOn }))])).message).toContain('dependsOn entries');
    expect(refusal(() => parentIndexes([])).code).toBe('BAD_USER_INPUT');
  });
});
