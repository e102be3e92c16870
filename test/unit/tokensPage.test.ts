import { describe, expect, it } from 'vitest';
import { renderTokensPage } from '../../src/formats/tokensPage.js';

describe('renderTokensPage', () => {
  it("shows the administrator's paragraphs and link, escaped", () => {
    const html = renderTokensPage({
      baseUrl: 'https://keys.example.org',
      helpText: 'Run <b>get_token</b> & paste it.\n\n  Second "paragraph".  ',
      helpUrl: 'https://portal.example/t?a=1&b="2"',
    });
    expect(html).toContain('<p>Run &lt;b&gt;get_token&lt;/b&gt; &amp; paste it.</p>\n<p>Second &quot;paragraph&quot;.</p>');
    expect(html).toContain('<a href="https://portal.example/t?a=1&amp;b=&quot;2&quot;">');
    expect(html).toContain('singularity remote add --no-login keystore https://keys.example.org');
    expect(html).not.toContain('administrator of this keyserver');
  });

  it('names the identity provider, linking its issuer only when it is a web address', () => {
    expect(renderTokensPage({ baseUrl: 'h', providerIssuer: 'https://idp.example/realms/x' })).toContain('<a href="https://idp.example/realms/x">');
    const opaque = renderTokensPage({ baseUrl: 'h', providerIssuer: 'javascript:alert(1)<x>' });
    expect(opaque).not.toContain('href="javascript');
    expect(opaque).toContain('<code>javascript:alert(1)&lt;x&gt;</code>');
  });

  it('says the administrator issues tokens when nothing else is set, and escapes the base URL', () => {
    const html = renderTokensPage({ baseUrl: 'http://x"><script>' });
    expect(html).toContain('issued by the administrator of this keyserver');
    expect(html).not.toContain('<script>');
    expect(html).toContain('http://x&quot;&gt;&lt;script&gt;');
  });
});
