// What became of each key of an upload from the web form: inserted, updated, unchanged, rejected (with the
// reason) and the components dropped (and why), each key linked to its page. Pure module: no I/O.
import { groupFingerprint, keyHref } from './components.js';
import { uploadForm } from './frontPage.js';
import { page, type SiteInfo } from './layout.js';
import { html, type Html } from './template.js';

export interface UploadOutcome {
  inserted: string[];
  updated: string[];
  unchanged: string[];
  rejected: { fingerprint?: string | undefined; reason: string }[];
  dropped: { fingerprint: string; component: string; reason: string }[];
}

const WHAT: Record<'inserted' | 'updated' | 'unchanged', string> = {
  inserted: 'added: new in the directory',
  updated: 'updated: what was new was merged into the stored key',
  unchanged: 'unchanged: the directory had all of it already',
};

function keyLink(fingerprint: string): Html {
  return html`<a class="fpr" href="${keyHref(fingerprint)}">${groupFingerprint(fingerprint)}</a>`;
}

export function renderUploadPage(outcome: UploadOutcome, site: SiteInfo): string {
  const accepted = outcome.inserted.length + outcome.updated.length + outcome.unchanged.length;
  const items: Html[] = [];
  for (const status of ['inserted', 'updated', 'unchanged'] as const) {
    for (const fpr of outcome[status]) {
      const dropped = outcome.dropped.filter((d) => d.fingerprint === fpr);
      items.push(
        html`<li class="${status}"><strong>${WHAT[status]}</strong><br>${keyLink(fpr)}${
          dropped.length > 0
            ? html`
<br>Left out:<ul>${dropped.map((d) => html`<li>${d.component}: ${d.reason}</li>`)}</ul>`
            : ''
        }</li>\n`,
      );
    }
  }
  for (const r of outcome.rejected) {
    items.push(
      html`<li class="rejected"><strong>rejected:</strong> ${r.reason}${r.fingerprint ? html`<br><span class="fpr">${groupFingerprint(r.fingerprint)}</span>` : ''}</li>\n`,
    );
  }
  const heading = accepted === 0 ? 'Nothing was published' : `${accepted} key${accepted === 1 ? '' : 's'} received`;
  const main = html`<h1>${heading}</h1>
<p>${outcome.inserted.length} added, ${outcome.updated.length} updated, ${outcome.unchanged.length} unchanged, ${outcome.rejected.length} rejected${outcome.dropped.length > 0 ? html`, ${outcome.dropped.length} component${outcome.dropped.length === 1 ? '' : 's'} left out` : ''}.</p>
<ul class="outcome">
${items}</ul>
<h2>Upload another key</h2>
${uploadForm(site)}`;
  return page({ site, title: heading, section: 'search', main });
}
