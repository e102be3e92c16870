// Browse: the directory's keys, newest first, a page at a time. Pure module: no I/O.
import { keySummary, type SummaryKey } from './components.js';
import { page, type SiteInfo } from './layout.js';
import { html } from './template.js';

export interface ListingData {
  keys: (SummaryKey & { firstSeen: Date })[];
  page: number;
  pageSize: number;
  hasNext: boolean;
  total: number;
}

const USER_IDS_SHOWN = 3;

export function renderListingPage(data: ListingData, site: SiteInfo, now: number): string {
  const pages = Math.max(1, Math.ceil(data.total / data.pageSize));
  const first = (data.page - 1) * data.pageSize + 1;
  const last = first + data.keys.length - 1;
  const pager = html`<nav class="pager" aria-label="Pages">
${data.page > 1 ? html`<a class="button secondary" rel="prev" href="${data.page === 2 ? '/keys' : `/keys?page=${data.page - 1}`}">← Newer</a>` : ''}
<span>Page ${data.page} of ${Math.max(pages, data.page)}</span>
${data.hasNext ? html`<a class="button secondary" rel="next" href="${`/keys?page=${data.page + 1}`}">Older →</a>` : ''}
</nav>`;
  const main = html`<h1>All keys</h1>
<p>${data.total} key${data.total === 1 ? '' : 's'} in the directory, the most recently added first.${data.keys.length > 0 ? html` Keys ${first} to ${last}.` : ''}</p>
${
  data.keys.length === 0
    ? html`<p>No keys yet. <a href="/">Publish yours</a>.</p>`
    : data.keys.map((k) =>
        keySummary(k, {
          now,
          maxUserIds: USER_IDS_SHOWN,
          note: html`<span class="muted">added ${k.firstSeen.toISOString().slice(0, 10)}</span>`,
        }),
      )
}
${pager}`;
  return page({ site, title: data.page === 1 ? 'All keys' : `All keys, page ${data.page}`, section: 'browse', main });
}
