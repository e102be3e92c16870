import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { parseLsn } from '../../src/store/readReplicas.js';

describe('parseLsn', () => {
  it('orders WAL positions by both halves, the high one first', () => {
    expect(parseLsn('0/16B3748') < parseLsn('0/16B3750')).toBe(true);
    expect(parseLsn('1/0') > parseLsn('0/FFFFFFFF')).toBe(true);
    expect(parseLsn('16/B374D848')).toBe(0x16n * 2n ** 32n + 0xb374d848n);
  });

  it('refuses what is not a WAL position', () => {
    for (const text of ['', '0', '0/', 'G/1', '0/123456789', ' 0/1']) expect(() => parseLsn(text)).toThrow(/not a WAL position/);
  });
});

describe('DATABASE_READ_URL', () => {
  const primary = { DATABASE_URL: 'postgres://u@primary/ks' };

  it('is a comma-separated list of standbys, none by default', () => {
    expect(loadConfig(primary).DATABASE_READ_URL).toEqual([]);
    expect(loadConfig({ ...primary, DATABASE_READ_URL: ' postgres://u@s1/ks , postgresql://u@s2:5433/ks,' }).DATABASE_READ_URL).toEqual([
      'postgres://u@s1/ks',
      'postgresql://u@s2:5433/ks',
    ]);
  });

  it('refuses what is not a postgres URL, and standbys without a primary', () => {
    expect(() => loadConfig({ ...primary, DATABASE_READ_URL: 'postgres://u@s1/ks,mysql://s2' })).toThrow(/DATABASE_READ_URL.*postgres:\/\/ URLs/);
    expect(() => loadConfig({ DATABASE_READ_URL: 'postgres://u@s1/ks' })).toThrow(ConfigError);
    expect(() => loadConfig({ DATABASE_READ_URL: 'postgres://u@s1/ks' })).toThrow(/need their primary in DATABASE_URL/);
  });
});
