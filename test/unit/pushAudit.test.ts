import { describe, expect, it } from 'vitest';
import { PushAuditBatch } from '../../src/services/pushAudit.js';

const added = { userIds: 0, subkeys: 0, signatures: 0 };
const outcome = (fingerprint: string, status: 'inserted' | 'updated' | 'unchanged') => ({ status, fingerprint, added, dropped: [] });

describe('PushAuditBatch', () => {
  it("gives a key's write the rows not written yet, its own last, and keeps only the rest for the end", () => {
    const batch = new PushAuditBatch({ source: 'http', remoteAddress: '192.0.2.1' });
    batch.refused(null, 'unreadable');
    batch.accepted(outcome('A', 'unchanged'));
    batch.refused('B', 'no user ID');
    const carried = batch.withUnwritten(outcome('C', 'inserted'));
    expect(carried.map((r) => [r.fingerprint, r.outcome])).toEqual([
      ['A', 'unchanged'],
      ['B', 'refused'],
      ['C', 'inserted'],
    ]);
    expect(carried.every((r) => r.source === 'http' && r.remoteAddress === '192.0.2.1' && r.tokenId === null)).toBe(true);
    batch.accepted(outcome('C', 'inserted'), true);
    batch.accepted(outcome('D', 'unchanged'));
    // The row of the parts that named no key stays last, after the rows not written with a key.
    expect(batch.entries().map((r) => [r.fingerprint, r.outcome])).toEqual([
      ['D', 'unchanged'],
      [null, 'refused'],
    ]);
    expect(batch.withUnwritten(outcome('E', 'updated')).map((r) => r.fingerprint)).toEqual(['D', 'E']);
  });

  it('without writes, gives every row at the end, as before', () => {
    const batch = new PushAuditBatch({ source: 'import' });
    batch.accepted(outcome('A', 'inserted'));
    batch.accepted(outcome('B', 'unchanged'));
    expect(batch.entries().map((r) => r.fingerprint)).toEqual(['A', 'B']);
    expect(batch.entries()[0]!.detail).toEqual({ added });
  });
});
