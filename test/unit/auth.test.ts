import { describe, expect, it } from 'vitest';
import { readCredential } from '../../src/http/auth.js';

const basic = (userinfo: string) => `Basic ${Buffer.from(userinfo).toString('base64')}`;

describe('readCredential (the Authorization header)', () => {
  it('reads a Bearer token whatever the case of the scheme', () => {
    for (const header of ['Bearer ks_abc', 'BEARER ks_abc', 'bearer ks_abc', '  Bearer   ks_abc  ']) {
      expect(readCredential(header), header).toEqual({ kind: 'secret', secret: 'ks_abc' });
    }
  });

  it('treats no header, an empty one and a bare Bearer as anonymous', () => {
    for (const header of [undefined, '', '   ', 'Bearer', 'BEARER ', basic(':')]) {
      expect(readCredential(header), String(header)).toEqual({ kind: 'none' });
    }
  });

  it('reads Basic with the token as user name (URL userinfo) or as password (login with a user name)', () => {
    expect(readCredential(basic('ks_abc:'))).toEqual({ kind: 'secret', secret: 'ks_abc' });
    expect(readCredential(basic('alice:ks_abc'))).toEqual({ kind: 'secret', secret: 'ks_abc' });
    expect(readCredential(`basic ${Buffer.from('ks_abc:').toString('base64')}`)).toEqual({ kind: 'secret', secret: 'ks_abc' });
  });

  it('calls anything else malformed', () => {
    for (const header of ['Digest abc', 'Token ks_abc', 'Basic', 'Basic not*base64', basic('no-colon'), 'ks_abc']) {
      expect(readCredential(header), header).toEqual({ kind: 'malformed' });
    }
  });
});
