import { badInput } from '../errors';

/** The most nodes one submitFlow takes (one transaction, as submitJobs). */
export const MAX_FLOW_NODES = 10_000;
/** The most dependsOn entries in one flow, all nodes together (each is a row written and a count moved). */
export const MAX_FLOW_EDGES = 100_000;

/**
 * A flow's nodes checked as a graph: keys unique, every dependsOn a known key, no cycle (Kahn's algorithm: a node
 * left over once every node without waiting parents has been taken away lies on a cycle). Gives each node's parents
 * as indexes; every problem is BAD_USER_INPUT naming the key.
 */
export function parentIndexes(nodes: readonly { key: string; dependsOn?: readonly string[] | null }[]): number[][] {
  if (nodes.length > MAX_FLOW_NODES) throw badInput(`a flow has at most ${MAX_FLOW_NODES.toLocaleString('en-US')} nodes; got ${nodes.length.toLocaleString('en-US')}`, { field: 'nodes' });
  if (!nodes.length) throw badInput('a flow needs at least one node', { field: 'nodes' });
  const edges = nodes.reduce((sum, node) => sum + (node.dependsOn?.length ?? 0), 0);
  if (edges > MAX_FLOW_EDGES) throw badInput(`a flow has at most ${MAX_FLOW_EDGES.toLocaleString('en-US')} dependsOn entries in all; got ${edges.toLocaleString('en-US')}`, { field: 'nodes' });
  const indexOf = new Map<string, number>();
  nodes.forEach(({ key }, i) => {
    if (!key.length || key.length > 200) throw badInput(`node key "${key.slice(0, 40)}" must be 1 to 200 characters`, { field: 'nodes', key });
    if (indexOf.has(key)) throw badInput(`duplicate node key "${key}"`, { field: 'nodes', key });
    indexOf.set(key, i);
  });
  const parents = nodes.map(({ key, dependsOn }) => {
    const seen = new Set<number>();
    for (const parentKey of dependsOn ?? []) {
      const parent = indexOf.get(parentKey);
      // The unknown key is the caller's text, of any length: it is named by its start only.
      if (parent === undefined) throw badInput(`node "${key}" depends on unknown key "${parentKey.slice(0, 200)}"`, { field: 'nodes', key, dependsOn: parentKey.slice(0, 200) });
      if (parent === indexOf.get(key)) throw badInput(`node "${key}" depends on itself (a cycle)`, { field: 'nodes', key });
      seen.add(parent);
    }
    return [...seen];
  });
  const children = nodes.map(() => [] as number[]);
  const waiting = parents.map((list, i) => {
    for (const parent of list) children[parent]!.push(i);
    return list.length;
  });
  const ready = waiting.flatMap((n, i) => (n === 0 ? [i] : []));
  let taken = 0;
  while (ready.length) {
    const node = ready.pop()!;
    taken++;
    for (const child of children[node]!) if (--waiting[child]! === 0) ready.push(child);
  }
  if (taken < nodes.length) {
    // A node left over is on a cycle or after one: walking up its left-over parents reaches a node twice, on the cycle.
    let at = waiting.findIndex((n) => n > 0);
    const visited = new Set<number>();
    while (!visited.has(at)) {
      visited.add(at);
      at = parents[at]!.find((parent) => waiting[parent]! > 0)!;
    }
    const onCycle = nodes[at]!;
    throw badInput(`node "${onCycle.key}" is on a cycle of dependsOn`, { field: 'nodes', key: onCycle.key });
  }
  return parents;
}
