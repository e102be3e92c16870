// An error for a browser: the status, the message, and a way on. Pure module: no I/O.
import { searchForm } from './frontPage.js';
import { page, type SiteInfo } from './layout.js';
import { html } from './template.js';

const TITLES: Readonly<Record<number, string>> = {
  400: 'That request cannot be answered',
  401: 'An access token is needed',
  403: 'Not allowed',
  404: 'Not found',
  413: 'Too large',
  415: 'Unsupported data',
  422: 'No usable key',
  429: 'Too many requests',
  501: 'Not supported',
  503: 'Temporarily unavailable',
};

export function renderErrorPage(error: { status: number; message: string }, site: SiteInfo): string {
  const title = TITLES[error.status] ?? (error.status >= 500 ? 'Something went wrong' : 'That request cannot be answered');
  const main = html`<h1>${title}</h1>
<p class="notice">${error.message}</p>
<p class="muted">Error ${error.status}.</p>
<h2>Search the directory</h2>
${searchForm()}
<p><a href="/">Front page</a> · <a href="/keys">Browse keys</a></p>`;
  return page({ site, title, section: 'none', main });
}
