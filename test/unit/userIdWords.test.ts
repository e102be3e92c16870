import { describe, expect, it } from 'vitest';
import { userIdWordsV1 } from '../../migrations/20261121020000_user_id_words.js';
import { userIdWords } from '../../src/openpgp/index.js';

describe('userIdWords', () => {
  it('splits a user ID into lower-case words, the e-mail address into its parts', () => {
    expect(userIdWords('Pedro van Dijk <pedro10oi@uni.example.edu>')).toEqual(['pedro', 'van', 'dijk', 'pedro10oi', 'uni', 'example', 'edu']);
  });

  it('keeps each word once, in order of first appearance', () => {
    expect(userIdWords('Alice Smith <alice@smith.example> (Alice)')).toEqual(['alice', 'smith', 'example']);
  });

  it('treats every character that is not a letter, mark or number as a separator', () => {
    expect(userIdWords("Seán O'Brien-Smith <sean@x.example>")).toEqual(['seán', 'o', 'brien', 'smith', 'sean', 'x', 'example']);
    expect(userIdWords('a_b+c.d:e%f/g\\h"i\'j,k;l(m)n[o]p{q}r|s~t`u=v?w!x#y$z&1*2^3')).toEqual(
      'a b c d e f g h i j k l m n o p q r s t u v w x y z 1 2 3'.split(' '),
    );
    expect(userIdWords('tab\there\nnewline\u00a0nbsp\u3000ideographic—dash…dots')).toEqual([
      'tab',
      'here',
      'newline',
      'nbsp',
      'ideographic',
      'dash',
      'dots',
    ]);
  });

  it('keeps non-ASCII words whole (Latin with accents, Cyrillic, Arabic, Greek, CJK)', () => {
    expect(userIdWords('Jakub Ružička (packaging) <jakub.ruzicka@nic.cz>')).toEqual(['jakub', 'ružička', 'packaging', 'ruzicka', 'nic', 'cz']);
    expect(userIdWords('أبو المنتصر لدين اللّه')).toEqual(['أبو', 'المنتصر', 'لدين', 'اللّه']);
    expect(userIdWords('Анна Каренина')).toEqual(['анна', 'каренина']);
    expect(userIdWords('Σωκράτης')).toEqual(['σωκράτης']);
    expect(userIdWords('山田 太郎')).toEqual(['山田', '太郎']);
    expect(userIdWords('Vernooĳ')).toEqual(['vernooĳ']);
  });

  it('normalises to NFC, so composed and decomposed accents give the same word', () => {
    const composed = 'M\u00fcller';
    const decomposed = 'Mu\u0308ller';
    expect(userIdWords(decomposed)).toEqual(userIdWords(composed));
    expect(userIdWords(decomposed)).toEqual(['m\u00fcller']);
  });

  it('keeps digits and mixed words', () => {
    expect(userIdWords('Build Key 2024 v2')).toEqual(['build', 'key', '2024', 'v2']);
    expect(userIdWords('٣٤ ४२')).toEqual(['٣٤', '४२']);
  });

  it('gives no words for text without letters or digits', () => {
    for (const text of ['', '   ', '!!!', '--', '<>', '@.', '\ufffd', '_']) expect(userIdWords(text), JSON.stringify(text)).toEqual([]);
  });
});

describe("the migration's frozen tokenizer", () => {
  const sample = [
    '',
    'Alice Smith <alice@example.org>',
    'Pedro van Dijk <pedro10oi@uni.example.edu>',
    "Seán O'Brien-Smith <sean@x.example>",
    'Jakub Ružička (packaging) <jakub.ruzicka@nic.cz>',
    'Mu\u0308ller Ö\u0308ztürk ÉCOLE Ǆemal İstanbul ẞtraße',
    'Анна Каренина <anna@example.ru>',
    'أبو المنتصر لدين اللّه <abou.almontacir@gmail.com>',
    'שלום עליכם',
    '山田 太郎 <yamada@example.jp>',
    '김민준',
    'हिन्दी नाम',
    'Known Two "><script>alert(1)</script><img src=x onerror=alert(2)>',
    'a+b:c%d <plus@escape.example>',
    '!!! -- ___ ...',
    'Build 2024 v2 ٣٤ ४२ ½ ²',
    'emoji 🙂 key 🔑 ok',
    'invalid \ufffd utf-8',
    'tab\there\nnewline\u00a0nbsp\u3000wide',
    'Repeated repeated REPEATED words Words',
  ];
  it.each(sample.map((s) => [s]))('agrees with the app on %j', (text) => {
    expect(userIdWordsV1(text)).toEqual(userIdWords(text));
  });
});
