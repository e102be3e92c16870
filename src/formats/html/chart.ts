// An inline SVG bar chart of keys added and updated per day: no script, no outside library or asset, readable
// without colour (the table beside it holds the numbers; each bar has a title). Pure module: no I/O.
import { html, type Html } from './template.js';
import type { DailyChangeCounts } from '../../vocabulary.js';

const WIDTH = 720;
const HEIGHT = 260;
const LEFT = 52;
const RIGHT = 8;
const TOP = 12;
const BOTTOM = 40;

/** A round upper bound for the axis: 1, 2 or 5 times a power of ten, at least max. */
export function niceCeiling(max: number): number {
  if (max <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(max));
  for (const step of [1, 2, 5, 10]) if (step * power >= max) return step * power;
  return 10 * power;
}

export function dailyChart(days: DailyChangeCounts[], titleId: string): Html {
  const top = niceCeiling(Math.max(0, ...days.map((d) => Math.max(d.inserted, d.updated))));
  const plotWidth = WIDTH - LEFT - RIGHT;
  const plotHeight = HEIGHT - TOP - BOTTOM;
  const slot = plotWidth / Math.max(1, days.length);
  const bar = Math.max(1, (slot - 2) / 2);
  const y = (v: number) => TOP + plotHeight - (v / top) * plotHeight;
  const fmt = (n: number) => (Math.round(n * 10) / 10).toString();
  const ticks = [0, top / 2, top].map(
    (v) =>
      html`<line class="grid-line" x1="${LEFT}" x2="${WIDTH - RIGHT}" y1="${fmt(y(v))}" y2="${fmt(y(v))}"/><text x="${LEFT - 6}" y="${fmt(y(v) + 4)}" text-anchor="end">${v}</text>\n`,
  );
  const bars = days.map((d, i) => {
    const x = LEFT + i * slot + 1;
    const label = `${d.day}: ${d.inserted} added, ${d.updated} updated`;
    const rect = (cls: string, value: number, dx: number) =>
      html`<rect class="${cls}" x="${fmt(x + dx)}" y="${fmt(y(value))}" width="${fmt(bar)}" height="${fmt(TOP + plotHeight - y(value))}"/>`;
    return html`<g><title>${label}</title>${rect('inserted', d.inserted, 0)}${rect('updated', d.updated, bar)}</g>\n`;
  });
  // A date label under every fifth day and the last, month-day only.
  const labels = days.map((d, i) =>
    i % 5 === 0 || i === days.length - 1
      ? html`<text x="${fmt(LEFT + i * slot + slot / 2)}" y="${HEIGHT - BOTTOM + 16}" text-anchor="middle">${d.day.slice(5)}</text>\n`
      : '',
  );
  return html`<svg class="chart" viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" aria-labelledby="${titleId}" xmlns="http://www.w3.org/2000/svg">
${ticks}${bars}<line class="axis" x1="${LEFT}" x2="${WIDTH - RIGHT}" y1="${TOP + plotHeight}" y2="${TOP + plotHeight}"/>
${labels}<text x="${LEFT + plotWidth / 2}" y="${HEIGHT - 4}" text-anchor="middle">day (UTC)</text>
</svg>`;
}
