// The front page: search, upload (paste or file; a token field when PUSH_POLICY=token) and how to use this
// server from SingularityCE/Apptainer, gpg, sq and curl. Pure module: no I/O.
import { serverAddress, setupCommands } from './clientCommands.js';
import { commandBlock } from './components.js';
import { page, type SiteInfo } from './layout.js';
import { html, type Html } from './template.js';

/** The search form (also on the error page): one box, HKP's op=index, with the other ops folded away. */
export function searchForm(value = ''): Html {
  return html`<form method="get" action="/pks/lookup">
<label for="search">Name, e-mail address, key ID or fingerprint</label>
<div class="search-row"><input type="text" id="search" name="search" value="${value}" required autocomplete="off" spellcheck="false" placeholder="alice@example.org"><button type="submit">Search</button></div>
<input type="hidden" name="fingerprint" value="on">
<details><summary>Search options</summary>
<fieldset><legend>Show</legend>
<label><input type="radio" name="op" value="index" checked> keys</label>
<label><input type="radio" name="op" value="vindex"> keys with signatures</label>
<label><input type="radio" name="op" value="get"> the armored key</label>
</fieldset>
</details>
</form>`;
}

export function uploadForm(site: SiteInfo): Html {
  const token = site.pushPolicy === 'token';
  return html`<form method="post" action="/upload" enctype="multipart/form-data">
<label for="keytext">Paste an armored public key</label>
<textarea id="keytext" name="keytext" rows="8" spellcheck="false" autocomplete="off" placeholder="-----BEGIN PGP PUBLIC KEY BLOCK-----"></textarea>
<label for="keyfile">or choose a key file</label>
<input type="file" id="keyfile" name="keyfile" accept=".asc,.gpg,.pgp,.key,application/pgp-keys">
<p class="hint">Armored or binary, as <code>gpg --export --armor FINGERPRINT</code> writes it. Only public keys: a secret key is refused.</p>
${
  token
    ? html`<label for="token">Access token</label>
<input type="password" id="token" name="token" required autocomplete="current-password" spellcheck="false">
<p class="hint">This directory needs a token to publish: your key must carry the e-mail address the token was made for. Ask the administrator for one.</p>
`
    : ''
}<p><button type="submit">Upload</button></p>
</form>`;
}

export function renderFrontPage(site: SiteInfo): string {
  const address = serverAddress(site.baseUrl);
  const c = setupCommands(address);
  const main = html`<h1>${site.name}</h1>
<p class="lead">Find a colleague’s OpenPGP key, check a fingerprint before you trust a signed container, or publish your own key.</p>
<section aria-labelledby="find"><h2 id="find">Find a key</h2>
${searchForm()}
<p class="hint">A fingerprint or key ID may start with <code>0x</code>. Words match whole words of a user ID. Or <a href="/keys">browse all keys</a>.</p>
</section>
<section aria-labelledby="publish"><h2 id="publish">Publish your key</h2>
${uploadForm(site)}
</section>
<section aria-labelledby="use"><h2 id="use">Use this keyserver</h2>
<div class="grid two">
<div><h3>SingularityCE</h3>${commandBlock('cmd-singularity', 'Add it, then search, pull, push and verify:', c.singularity)}</div>
<div><h3>Apptainer</h3>${commandBlock('cmd-apptainer', 'The same commands:', c.apptainer)}</div>
<div><h3>GnuPG</h3>${commandBlock('cmd-dirmngr', 'In ~/.gnupg/dirmngr.conf (then gpgconf --kill dirmngr):', c.dirmngr)}${commandBlock('cmd-gpg', 'Or per command:', c.gpg)}</div>
<div><h3>Sequoia sq</h3>${commandBlock('cmd-sq', 'Get and send keys:', c.sq)}</div>
</div>
<h3>curl</h3>${commandBlock('cmd-curl', 'Search, fetch and upload over HTTP:', c.curl)}
</section>`;
  return page({ site, title: site.name, section: 'search', script: true, main });
}
