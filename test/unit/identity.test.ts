import { describe, expect, it } from 'vitest';
import { identityOfV1 } from '../../migrations/20261203000004_identities.js';
import { identityOf, isEmailIdentity, normalizeIdentity } from '../../src/openpgp/index.js';

const SAMPLES: [string, string | null][] = [
  ['山田太郎 (test key 03) <aaa12345xy>', 'aaa12345xy'],
  ['ABCIアカウント名 (test key 03) <ABCIアカウント名>', 'abciアカウント名'],
  ['Name <A@B.org>', 'a@b.org'],
  ['Name < AAA12345xy >  ', 'aaa12345xy'],
  ['a@b.org', 'a@b.org'],
  ['  A@B.ORG ', 'a@b.org'],
  ['Name <a@b.org> (comment)', 'a@b.org'],
  ['Name <old@a.org> <New@B.org>', 'new@b.org'],
  ['Name <acct> (comment)', null],
  ['Name', null],
  ['aaa12345xy', null],
  ['Name <>', null],
  ['Name <two words>', null],
  [`Name <${'x'.repeat(255)}>`, null],
  [`Name <${'x'.repeat(254)}>`, 'x'.repeat(254)],
  ['Mu\u0308ller <Mu\u0308ller>', 'm\u00fcller'],
  ['', null],
];

describe('identityOf', () => {
  it.each(SAMPLES)('%j has the identity %j', (userId, identity) => {
    expect(identityOf(userId)).toBe(identity);
  });

  it('agrees with the frozen copy the identities migration fills existing rows with', () => {
    for (const [userId] of SAMPLES) expect(identityOfV1(userId), userId).toBe(identityOf(userId));
  });
});

describe('normalizeIdentity', () => {
  it('trims, lower-cases and composes (NFC)', () => {
    expect(normalizeIdentity('  AAA12345xy\t')).toBe('aaa12345xy');
    expect(normalizeIdentity('Mu\u0308ller')).toBe('m\u00fcller');
  });

  it.each(['', '  ', 'a b', 'a<b', 'a>b', 'a\u0000b', 'x'.repeat(255)])('refuses %j', (text) => {
    expect(normalizeIdentity(text)).toBeNull();
  });
});

describe('isEmailIdentity', () => {
  it('tells e-mail addresses from account names', () => {
    expect(isEmailIdentity('a@b.org')).toBe(true);
    expect(isEmailIdentity('aaa12345xy')).toBe(false);
    expect(isEmailIdentity('a@')).toBe(false);
  });
});
