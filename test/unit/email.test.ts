import { describe, expect, it } from 'vitest';
import { emailOf } from '../../src/openpgp/derive.js';

describe('emailOf', () => {
  it.each([
    ['Name <A@B.org>', 'a@b.org'],
    ['a@b.org', 'a@b.org'],
    ['A@B.ORG', 'a@b.org'],
    ['  a@b.org  ', 'a@b.org'],
    ['<a@b.org>', 'a@b.org'],
    ['Alice Smith (work) <alice.smith+pgp@example.com>', 'alice.smith+pgp@example.com'],
    ['Name < a@b.org >', 'a@b.org'],
    ['Name <a@b.org>   ', 'a@b.org'],
    ['Vernooĳ <Wouter@Vernooij.example>', 'wouter@vernooij.example'],
  ])('%j has the address %j', (userId, email) => {
    expect(emailOf(userId)).toBe(email);
  });

  it.each(['Name (comment)', 'Name <not-an-email>', 'Name <>', 'Name', '', 'Name a@b.org', 'Name <a b@c.org>', 'Name <a@b@c.org>', '@b.org', 'a@'])(
    '%j has no address',
    (userId) => {
      expect(emailOf(userId)).toBeNull();
    },
  );

  it('takes the last bracketed part when there are several', () => {
    expect(emailOf('Name <old@a.org> <New@B.org>')).toBe('new@b.org');
  });

  it('finds a bracketed address that is followed by more text', () => {
    expect(emailOf('<x@y.org> trailing')).toBe('x@y.org');
  });
});
