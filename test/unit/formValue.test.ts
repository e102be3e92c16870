// formValue's shortcut (a body starting with the field) must give what URLSearchParams gives, on every body.
import { describe, expect, it } from 'vitest';
import { formValue } from '../../src/http/body.js';
import { encodeArmor } from '../../src/formats/armor.js';

function platform(body: Buffer, name: string): string | null {
  return new URLSearchParams(body.toString('utf8')).get(name);
}

describe('formValue', () => {
  it('reads a percent-encoded armored key as gpg sends it', () => {
    const armor = encodeArmor(new Uint8Array(300).map((_, i) => (i * 37) & 0xff));
    const body = Buffer.from(`keytext=${encodeURIComponent(armor)}`);
    expect(formValue(body, 'keytext')).toBe(armor);
  });

  it('gives what URLSearchParams gives on chosen bodies', () => {
    const bodies = [
      'keytext=',
      'keytext',
      'keytext=a+b%2Bc',
      'keytext=a&keytext=b',
      'keytext=x&options=mr',
      'options=mr&keytext=abc',
      '?keytext=abc',
      'keytext=%',
      'keytext=%zz%41',
      'keytext=%C3%A9t%C3%A9',
      'keytext=%C3',
      'keytext=%ED%A0%80',
      'keytext=%F0%9F%94%91',
      'keytext=caf\u00e9',
      'key%74ext=abc',
      'keytext=a=b',
      '',
      '&keytext=1',
    ];
    for (const text of bodies) {
      const body = Buffer.from(text);
      expect(formValue(body, 'keytext'), text).toBe(platform(body, 'keytext'));
    }
    // Bytes that are not UTF-8 at all.
    const raw = Buffer.concat([Buffer.from('keytext=a'), Buffer.from([0xff, 0xc3]), Buffer.from('%41')]);
    expect(formValue(raw, 'keytext')).toBe(platform(raw, 'keytext'));
  });

  it('gives what URLSearchParams gives on bodies made at random', () => {
    const pieces = [
      'keytext=',
      'a',
      'Z',
      '0',
      '+',
      '%',
      '%2',
      '%2B',
      '%0A',
      '%3D',
      '%C3',
      '%A9',
      '%E2%82%AC',
      '%ff',
      '&',
      '=',
      ' ',
      '\u00e9',
      '\ud83d\udd11',
    ];
    for (let round = 0; round < 5000; round++) {
      let text = round % 4 === 0 ? '' : 'keytext=';
      for (let n = Math.floor(Math.random() * 12); n > 0; n--) text += pieces[Math.floor(Math.random() * pieces.length)]!;
      const body = Buffer.from(text);
      expect(formValue(body, 'keytext'), JSON.stringify(text)).toBe(platform(body, 'keytext'));
    }
  });
});
