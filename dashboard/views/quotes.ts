// Quotes: a live ticker from quoteStream, newest first.
import { useEffect, useState } from 'preact/hooks';
import { type ApiError, subscribe } from '../api';
import { ErrorLine, formatTime, html } from '../ui';

interface Quote {
  protocol: string;
  index: number;
  text: string;
  receivedAt: string;
}
const SHOWN = 50;

export function QuotesView() {
  const [protocol, setProtocol] = useState('TCP');
  const [intervalMs, setIntervalMs] = useState(1000);
  const [quotes, setQuotes] = useState<Quote[]>([]);
  const [received, setReceived] = useState(0);
  const [error, setError] = useState<ApiError | null>(null);
  useEffect(() => {
    setError(null);
    return subscribe<{ quoteStream: Quote }>(
      'subscription($protocol: QuoteProtocol, $intervalMs: Int) { quoteStream(protocol: $protocol, intervalMs: $intervalMs) { protocol index text receivedAt } }',
      { protocol, intervalMs },
      ({ quoteStream }) => (setQuotes((list) => [quoteStream, ...list].slice(0, SHOWN)), setReceived((n) => n + 1)),
      setError,
    );
  }, [protocol, intervalMs]);
  return html`<section>
    <h2>Quotes</h2>
    <form class="filters" onSubmit=${(e: Event) => e.preventDefault()}>
      <label>Protocol <select value=${protocol} onChange=${(e: Event) => setProtocol((e.target as HTMLSelectElement).value)}><option>TCP</option><option>UDP</option></select></label>
      <label>Every <select value=${intervalMs} onChange=${(e: Event) => setIntervalMs(Number((e.target as HTMLSelectElement).value))}>
        ${[250, 500, 1000, 2000, 5000].map((ms) => html`<option value=${ms}>${ms} ms</option>`)}
      </select></label>
      <span class="live" data-received=${received}>● live · ${received} received</span>
    </form>
    <${ErrorLine} error=${error} />
    <ol class="ticker">${quotes.map((q) => html`<li key=${`${q.receivedAt}-${q.index}`} class="quote"><time>${formatTime(q.receivedAt)}</time> <code>#${q.index}</code> ${q.text}</li>`)}</ol>
  </section>`;
}
