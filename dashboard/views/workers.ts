// Workers (managers and admins): the pool now, and jobs finished per second over the last five minutes as a live
// uPlot chart, from one workerPoolUpdates subscription.
import { useEffect, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { type ApiError, subscribe } from '../api';
import { ErrorLine, formatMs, html, TableBox } from '../ui';

interface Percentiles {
  count: number;
  p50: number | null;
  p90: number | null;
  p99: number | null;
  max: number | null;
}

interface PoolStats {
  size: number;
  busy: number;
  tasksRunning: number;
  tasksQueued: number;
  jobsPerSecond: number;
  throughput: { at: string; jobsPerSecond: number }[];
  runMs: Percentiles;
  waitMs: Percentiles;
}

const PERCENTILES = 'count p50 p90 p99 max';
const POOL_SUBSCRIPTION = `subscription { workerPoolUpdates(intervalMs: 1000) {
  size busy tasksRunning tasksQueued jobsPerSecond throughput(minutes: 5, intervalSeconds: 5) { at jobsPerSecond }
  runMs { ${PERCENTILES} } waitMs { ${PERCENTILES} }
} }`;

export function WorkersView() {
  const [stats, setStats] = useState<PoolStats | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const chartBox = useRef<HTMLDivElement>(null);
  const chart = useRef<uPlot | null>(null);
  const [samples, setSamples] = useState(0);

  useEffect(() => subscribe<{ workerPoolUpdates: PoolStats }>(POOL_SUBSCRIPTION, {}, ({ workerPoolUpdates }) => (setStats(workerPoolUpdates), setSamples((n) => n + 1)), setError), []);

  useEffect(() => {
    if (!stats || !chartBox.current) return;
    const data: uPlot.AlignedData = [stats.throughput.map((s) => Date.parse(s.at) / 1000), stats.throughput.map((s) => s.jobsPerSecond)];
    if (!chart.current) {
      chart.current = new uPlot(
        {
          width: Math.max(320, chartBox.current.clientWidth - 16),
          height: 240,
          scales: { y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.2)] } },
          axes: [{}, { label: 'jobs/s', size: 60 }],
          series: [{}, { label: 'jobs finished per second', stroke: '#2563eb', fill: 'rgba(37, 99, 235, 0.15)', width: 2, points: { show: false } }],
        },
        data,
        chartBox.current,
      );
    } else chart.current.setData(data);
  }, [stats]);
  useEffect(() => () => chart.current?.destroy(), []);

  const cell = (label: string, value: string | number, name: string) => html`<div class="stat" data-stat=${name}><span>${label}</span><strong>${value}</strong></div>`;
  const percentileRow = (label: string, p: Percentiles | undefined) =>
    html`<tr><th>${label}</th><td class="num">${p?.count ?? 0}</td><td class="num">${formatMs(p?.p50)}</td><td class="num">${formatMs(p?.p90)}</td><td class="num">${formatMs(p?.p99)}</td><td class="num">${formatMs(p?.max)}</td></tr>`;
  return html`<section>
    <h2>Workers</h2>
    <${ErrorLine} error=${error} />
    <div class="stats">
      ${cell('Pool size', stats?.size ?? '—', 'size')} ${cell('Busy workers', stats?.busy ?? '—', 'busy')} ${cell('Tasks running', stats?.tasksRunning ?? '—', 'tasksRunning')}
      ${cell('Tasks queued', stats?.tasksQueued ?? '—', 'tasksQueued')} ${cell('Jobs/s (last minute)', stats ? stats.jobsPerSecond.toFixed(2) : '—', 'jobsPerSecond')}
    </div>
    <h3>Throughput, last 5 minutes</h3>
    <div class="chart" ref=${chartBox} data-samples=${samples}></div>
    <h3>Latency of jobs finished in the last 5 minutes</h3>
    <${TableBox} label="Duration percentiles"><table class="percentiles">
      <thead><tr><th></th><th>Jobs</th><th>p50</th><th>p90</th><th>p99</th><th>max</th></tr></thead>
      <tbody>${percentileRow('Run time', stats?.runMs)} ${percentileRow('Wait (queued → started)', stats?.waitMs)}</tbody>
    </table></${TableBox}>
  </section>`;
}
