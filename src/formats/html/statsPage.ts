// Statistics for people: totals, a chart of keys added and updated per day, and the hourly and daily numbers.
// Pure module: no I/O.
import { dailyChart } from './chart.js';
import type { DailyChangeCounts } from '../../vocabulary.js';
import { DEFAULT_SITE, page, type SiteInfo } from './layout.js';
import { html } from './template.js';

export interface StatsPageData {
  version: string;
  totalKeys: number;
  started: string;
  inserted24h: number;
  updated24h: number;
  inserted7d: number;
  updated7d: number;
  hourly: { hour: string; inserted: number; updated: number }[];
  daily: { day: string; inserted: number; updated: number }[];
  /** Every day of the chart, oldest first (the daily rows when absent). */
  perDay?: DailyChangeCounts[];
}

function countRows(rows: { label: string; inserted: number; updated: number }[], heading: string) {
  if (rows.length === 0) return html`<p>No data.</p>\n`;
  const trs = rows.map((r) => html`<tr><td>${r.label}</td><td>${r.inserted}</td><td>${r.updated}</td></tr>\n`);
  return html`<div class="table-wrap"><table>\n<thead><tr><th scope="col">${heading}</th><th scope="col">inserted</th><th scope="col">updated</th></tr></thead>\n<tbody>\n${trs}</tbody></table></div>\n`;
}

export function renderStatsPage(stats: StatsPageData, site: SiteInfo = DEFAULT_SITE): string {
  const perDay = stats.perDay ?? stats.daily;
  const main = html`<h1>Statistics</h1>
<div class="stat-cards">
<div><strong>${stats.totalKeys}</strong> keys</div>
<div><strong>${stats.inserted24h}</strong> added, last 24 hours</div>
<div><strong>${stats.updated24h}</strong> updated, last 24 hours</div>
<div><strong>${stats.inserted7d}</strong> added, last 7 days</div>
<div><strong>${stats.updated7d}</strong> updated, last 7 days</div>
</div>
<h2 id="chart-title">Keys added and updated per day, last ${perDay.length} days</h2>
<ul class="legend"><li><span class="swatch inserted"></span>added</li><li><span class="swatch updated"></span>updated</li></ul>
<div class="chart-wrap">${dailyChart(perDay, 'chart-title')}</div>
<h2>Server</h2>
<div class="table-wrap"><table>
<tbody>
<tr><td>Version</td><td>${stats.version}</td></tr>
<tr><td>Keys</td><td>${stats.totalKeys}</td></tr>
<tr><td>Running since</td><td>${stats.started}</td></tr>
<tr><td>Inserted, last 24 hours</td><td>${stats.inserted24h}</td></tr>
<tr><td>Updated, last 24 hours</td><td>${stats.updated24h}</td></tr>
<tr><td>Inserted, last 7 days</td><td>${stats.inserted7d}</td></tr>
<tr><td>Updated, last 7 days</td><td>${stats.updated7d}</td></tr>
</tbody>
</table></div>
<h2>Daily</h2>
${countRows(
  stats.daily.map((d) => ({ label: d.day, inserted: d.inserted, updated: d.updated })),
  'day',
)}
<h2>Hourly</h2>
${countRows(
  stats.hourly.map((h) => ({ label: h.hour, inserted: h.inserted, updated: h.updated })),
  'hour',
)}`;
  return page({ site, title: 'Statistics', section: 'stats', main });
}
