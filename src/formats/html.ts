// HTML pages for people using a browser. The pages live in ./html/ (one module per page, written with the
// escaping template tag of ./html/template.ts); this module keeps the names the HKP handlers import.
import { renderFrontPage } from './html/frontPage.js';
import { DEFAULT_SITE } from './html/layout.js';

export * from './html/index.js';

/** The page for `/`. `host` (e.g. "keys.example.org:11371") is shown in the commands when known. */
export function renderSearchForm(opts: { host?: string } = {}): string {
  return renderFrontPage({ ...DEFAULT_SITE, baseUrl: `http://${opts.host ?? '<this host>'}` });
}
