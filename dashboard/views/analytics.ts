// Analytics: a question and a year range → every state's mean as a bar chart (uPlot), the five best and five
// worst marked, the national mean as a line.
import { useEffect, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { gql } from '../api';
import { ANALYTICS_ANSWER_QUERY, ANALYTICS_QUESTIONS_QUERY } from '../operations';
import { ErrorLine, html, usePolled } from '../ui';

interface StateValue {
  state: string;
  value: number;
}
interface Answer {
  analytics: { statesMean: StateValue[]; best5: StateValue[]; worst5: StateValue[]; globalMean: number };
}

const FIRST_YEAR = 2011;
const LAST_YEAR = 2021;
const COLORS = { best: '#16a34a', worst: '#dc2626', other: '#94a3b8', mean: '#f59e0b' };

export function AnalyticsView() {
  const questions = usePolled(() => gql<{ analytics: { questions: { text: string; direction: string | null }[] } }>(ANALYTICS_QUESTIONS_QUERY), 0);
  const [ask, setAsk] = useState<{ question: string; yearFrom: number; yearTo: number } | null>(null);
  const answer = usePolled(() => (ask ? gql<Answer>(ANALYTICS_ANSWER_QUERY, ask) : Promise.resolve(null)), 0, [JSON.stringify(ask)]);
  const submit = (event: Event) => {
    event.preventDefault();
    const data = new FormData(event.target as HTMLFormElement);
    setAsk({ question: String(data.get('question')), yearFrom: Number(data.get('yearFrom')), yearTo: Number(data.get('yearTo')) });
  };
  const years = Array.from({ length: LAST_YEAR - FIRST_YEAR + 1 }, (_, i) => FIRST_YEAR + i);
  return html`<section>
    <h2>Analytics</h2>
    <form class="filters" onSubmit=${submit}>
      <label class="wide">Question <select name="question">${(questions.data?.analytics.questions ?? []).map((q) => html`<option value=${q.text}>${q.text}</option>`)}</select></label>
      <label>From <select name="yearFrom">${years.map((y) => html`<option selected=${y === FIRST_YEAR}>${y}</option>`)}</select></label>
      <label>To <select name="yearTo">${years.map((y) => html`<option selected=${y === LAST_YEAR}>${y}</option>`)}</select></label>
      <button type="submit">Show</button>
    </form>
    <${ErrorLine} error=${questions.error ?? answer.error} />
    ${answer.data ? html`<${StatesChart} answer=${answer.data.analytics} />` : html`<p class="hint">Pick a question and a year range.</p>`}
  </section>`;
}

function StatesChart({ answer }: { answer: Answer['analytics'] }) {
  const box = useRef<HTMLDivElement>(null);
  const states = [...answer.statesMean].sort((a, b) => a.value - b.value);
  const best = new Set(answer.best5.map((s) => s.state));
  const worst = new Set(answer.worst5.map((s) => s.state));
  useEffect(() => {
    if (!box.current) return;
    const x = states.map((_, i) => i);
    const only = (set: Set<string> | null) => states.map((s) => (set ? (set.has(s.state) ? s.value : null) : best.has(s.state) || worst.has(s.state) ? null : s.value));
    const bars = uPlot.paths.bars!({ size: [0.8, 40] });
    const bar = (label: string, color: string) => ({ label, fill: color, stroke: color, paths: bars, points: { show: false } });
    const plot = new uPlot(
      {
        // Room on the right for the last slanted label.
        padding: [12, 48, 0, 0],
        // The box's padding is 8 px each side.
        width: Math.max(600, box.current.clientWidth - 16),
        height: 420,
        scales: { x: { time: false, range: [-0.5, states.length - 0.5] }, y: { range: (_u, min, max) => [Math.min(0, min), max * 1.05] } },
        axes: [
          // One label per bar, slanted: every state is named.
          { splits: () => x, values: (_u, splits) => splits.map((i) => states[i]?.state ?? ''), rotate: -60, size: 130, gap: 4, font: '11px system-ui' },
          { size: 50 },
        ],
        series: [
          { label: 'state', value: (_u, i) => states[i]?.state ?? '—' },
          bar('best five', COLORS.best),
          bar('worst five', COLORS.worst),
          bar('other states', COLORS.other),
          { label: `national mean ${answer.globalMean.toFixed(1)}`, stroke: COLORS.mean, width: 2, dash: [6, 4], points: { show: false } },
        ],
      },
      [x, only(best), only(worst), only(null), states.map(() => answer.globalMean)],
      box.current,
    );
    return () => plot.destroy();
  }, [answer]);
  return html`<div>
    <div class="chart" ref=${box} data-states=${states.length} data-best=${[...best].join('|')} data-worst=${[...worst].join('|')}></div>
    <div class="columns">
      <div><h4>Best five</h4><ol>${answer.best5.map((s) => html`<li><span class="swatch best"></span>${s.state} <span class="num">${s.value.toFixed(1)}</span></li>`)}</ol></div>
      <div><h4>Worst five</h4><ol>${answer.worst5.map((s) => html`<li><span class="swatch worst"></span>${s.state} <span class="num">${s.value.toFixed(1)}</span></li>`)}</ol></div>
      <div><h4>National mean</h4><p class="big num">${answer.globalMean.toFixed(2)}</p><p class="hint">${states.length} states and territories</p></div>
    </div>
  </div>`;
}
