// Flows: the caller's flows (newest first, refreshed), and the chosen one drawn as a layered graph: each node a box
// coloured by its job's status, kept live by flowUpdated, and linked to its job (#/jobs/<id>).
import { useEffect, useMemo, useState } from 'preact/hooks';
import { type ApiError, gql, subscribe } from '../api';
import { Empty, ErrorLine, html, type JobStatus, StatusBadge, TableBox, usePolled } from '../ui';

interface FlowRow {
  id: string;
  name: string | null;
  status: string;
  progress: number;
  createdAt: string;
}

interface FlowNode {
  key: string;
  dependsOn: string[];
  job: { id: string; status: JobStatus };
}

const FLOW_FIELDS = 'id name status progress createdAt';
/** Past this many nodes the graph is not drawn (the table of the list still shows the flow). */
const MOST_DRAWN = 2000;
const BOX = { width: 96, height: 26, gapX: 14, gapY: 40 };

/** Layers by longest path from a root (parents always above), in submission order within a layer. */
export function layers(nodes: FlowNode[]): FlowNode[][] {
  const depth = new Map<string, number>();
  // dependsOn only names earlier-or-later keys; a pass in order of readiness (Kahn) gives each its depth.
  const waiting = new Map(nodes.map((node) => [node.key, node.dependsOn.length]));
  const children = new Map<string, string[]>();
  for (const node of nodes) for (const parent of node.dependsOn) children.set(parent, [...(children.get(parent) ?? []), node.key]);
  const ready = nodes.filter((node) => node.dependsOn.length === 0).map((node) => node.key);
  for (const key of ready) depth.set(key, 0);
  while (ready.length) {
    const key = ready.shift()!;
    for (const child of children.get(key) ?? []) {
      depth.set(child, Math.max(depth.get(child) ?? 0, depth.get(key)! + 1));
      const left = waiting.get(child)! - 1;
      waiting.set(child, left);
      if (left === 0) ready.push(child);
    }
  }
  const rows: FlowNode[][] = [];
  for (const node of nodes) (rows[depth.get(node.key) ?? 0] ??= []).push(node);
  return rows;
}

function FlowGraph({ nodes }: { nodes: FlowNode[] }) {
  const rows = useMemo(() => layers(nodes), [nodes.map((node) => node.key).join('\n')]);
  const at = new Map<string, { x: number; y: number }>();
  rows.forEach((row, r) => row.forEach((node, i) => at.set(node.key, { x: i * (BOX.width + BOX.gapX) + 8, y: r * (BOX.height + BOX.gapY) + 8 })));
  const width = Math.max(...rows.map((row) => row.length)) * (BOX.width + BOX.gapX) + 16;
  const height = rows.length * (BOX.height + BOX.gapY) + 16;
  return html`<div class="flow-graph">
    <svg width=${width} height=${height} role="img" aria-label=${`flow graph: ${nodes.length} nodes`}>
      ${nodes.flatMap((node) =>
        node.dependsOn.map((parent) => {
          const from = at.get(parent)!;
          const to = at.get(node.key)!;
          return html`<line x1=${from.x + BOX.width / 2} y1=${from.y + BOX.height} x2=${to.x + BOX.width / 2} y2=${to.y} />`;
        }),
      )}
      ${nodes.map((node) => {
        const { x, y } = at.get(node.key)!;
        // The status class on the link: the box takes its fill, the label its colour (currentColor).
        return html`<a href=${`#/jobs/${node.job.id}`} class=${`flow-node-${node.job.status.toLowerCase()}`} data-node=${node.key} data-status=${node.job.status}>
          <title>${`${node.key}: job ${node.job.id}, ${node.job.status}`}</title>
          <rect x=${x} y=${y} width=${BOX.width} height=${BOX.height} rx="5" />
          <text x=${x + 6} y=${y + 17}>${node.key.length > 13 ? `${node.key.slice(0, 12)}…` : node.key}</text>
        </a>`;
      })}
    </svg>
  </div>`;
}

function FlowDetail({ id }: { id: string }) {
  const [flow, setFlow] = useState<(FlowRow & { nodes: FlowNode[] }) | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  useEffect(() => {
    let stale = false;
    let reading = false;
    let again = false;
    // Each frame of flowUpdated says something changed: the nodes are read again (one read at a time).
    const read = async () => {
      if (reading) return void (again = true);
      reading = true;
      try {
        const { flow: now } = await gql<{ flow: FlowRow & { nodes: FlowNode[] } }>(
          `query($id: ID!) { flow(id: $id) { ${FLOW_FIELDS} nodes { key dependsOn job { id status } } } }`,
          { id },
        );
        if (!stale) setFlow(now);
      } catch (failure) {
        if (!stale) setError(failure as ApiError);
      } finally {
        reading = false;
        if (again && !stale) {
          again = false;
          void read();
        }
      }
    };
    void read();
    const stop = subscribe<{ flowUpdated: { status: string } }>('subscription($id: ID!) { flowUpdated(id: $id) { status } }', { id }, () => void read(), setError);
    return () => {
      stale = true;
      stop();
    };
  }, [id]);
  if (error) return html`<${ErrorLine} error=${error} />`;
  if (!flow) return html`<p>Loading flow ${id}…</p>`;
  return html`<section aria-label=${`flow ${id}`} data-flow=${id}>
    <h3>Flow ${id}${flow.name ? ` — ${flow.name}` : ''} <span class=${`badge status-${flow.status.toLowerCase()}`} data-flow-status=${flow.status}>${flow.status}</span></h3>
    <p>${Math.round(flow.progress * 100)}% of ${flow.nodes.length} nodes finished</p>
    ${flow.nodes.length > MOST_DRAWN ? html`<${Empty}>${flow.nodes.length} nodes: too many to draw here.</${Empty}>` : html`<${FlowGraph} nodes=${flow.nodes} />`}
  </section>`;
}

export function FlowsView() {
  const list = usePolled(() => gql<{ flows: { edges: { node: FlowRow }[] } }>(`{ flows(first: 50) { edges { node { ${FLOW_FIELDS} } } } }`), 3000);
  const [chosen, setChosen] = useState<string | null>(null);
  const flows = list.data?.flows.edges.map((edge) => edge.node) ?? [];
  return html`<div>
    ${list.error && html`<${ErrorLine} error=${list.error} />`}
    ${flows.length === 0
      ? html`<${Empty}>No flows yet: submitFlow submits one (see docs/flows.md).</${Empty}>`
      : html`<${TableBox} label="Flows">
          <table>
            <thead><tr><th>id</th><th>name</th><th>status</th><th>progress</th><th>created</th></tr></thead>
            <tbody>
              ${flows.map(
                (flow) => html`<tr data-flow-row=${flow.id}>
                  <td><button type="button" onClick=${() => setChosen(flow.id)} aria-pressed=${chosen === flow.id}>${flow.id}</button></td>
                  <td>${flow.name ?? '—'}</td>
                  <td><${StatusBadge} status=${flow.status as JobStatus} /></td>
                  <td>${Math.round(flow.progress * 100)}%</td>
                  <td>${new Date(flow.createdAt).toLocaleString()}</td>
                </tr>`,
              )}
            </tbody>
          </table>
        </${TableBox}>`}
    ${chosen && html`<${FlowDetail} key=${chosen} id=${chosen} />`}
  </div>`;
}
