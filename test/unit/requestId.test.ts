import { describe, expect, it } from 'vitest';
import { chooseRequestId } from '../../src/http/requestId.js';
import { UUID } from '../helpers/hkp.js';

describe('chooseRequestId', () => {
  it.each(['abc', 'A-Z.a_z:0-9', 'x'.repeat(128), '4bf92f3577b34da6a3ce929d0e0e4736', 'trace:span.1'])('keeps the sane id %j', (id) => {
    expect(chooseRequestId(id)).toBe(id);
  });

  it.each([undefined, '', 'x'.repeat(129), 'has space', 'a,b', 'semi;colon', '<script>', 'é', 'line\nbreak', 'a/b'])(
    'replaces %j by a UUID',
    (id) => {
      expect(chooseRequestId(id)).toMatch(UUID);
    },
  );

  it('generates a different id each time', () => {
    expect(chooseRequestId(undefined)).not.toBe(chooseRequestId(undefined));
  });
});
