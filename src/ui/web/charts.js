// Small line charts as SVG: a series of numbers, newest last, drawn to the box's width.
import { html } from 'htm/preact';

export function Sparkline({ label, values, format, max }) {
  const w = 240;
  const h = 48;
  const top = Math.max(max ?? 0, ...values, 1e-9);
  const step = values.length > 1 ? w / (values.length - 1) : w;
  const points = values.map((v, i) => `${(i * step).toFixed(1)},${(h - (v / top) * (h - 4) - 2).toFixed(1)}`).join(' ');
  const last = values.length ? format(values[values.length - 1]) : '–';
  return html`<figure class="chart" data-chart=${label}>
    <figcaption>${label} <b>${last}</b></figcaption>
    <svg viewBox="0 0 ${w} ${h}" width=${w} height=${h} preserveAspectRatio="none">
      <polyline points=${points} fill="none" stroke="currentColor" stroke-width="1.5" />
    </svg>
  </figure>`;
}
