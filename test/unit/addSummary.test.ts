import { describe, expect, it } from 'vitest';
import { addSummaryJson, addSummaryLine, type AddOutcome } from '../../src/formats/addSummary.js';

const FPR_A = 'A'.repeat(40);
const FPR_B = 'B'.repeat(40);
const FPR_C = 'C'.repeat(64);

function outcome(partial: Partial<AddOutcome> = {}): AddOutcome {
  return { inserted: [], updated: [], unchanged: [], rejected: [], dropped: [], ...partial };
}

describe('addSummaryLine', () => {
  it('reports zero counts when nothing happened', () => {
    expect(addSummaryLine(outcome())).toBe('0 key(s) added, 0 updated, 0 unchanged\n');
  });

  it('counts inserted, updated and unchanged keys', () => {
    const line = addSummaryLine(outcome({ inserted: [FPR_A, FPR_B], updated: [FPR_C], unchanged: [] }));
    expect(line).toBe('2 key(s) added, 1 updated, 0 unchanged\n');
  });

  it('mentions rejected keys only when there are some', () => {
    const line = addSummaryLine(outcome({ unchanged: [FPR_A], rejected: [{ reason: 'no self-signature' }, { fingerprint: FPR_B, reason: 'x' }] }));
    expect(line).toBe('0 key(s) added, 0 updated, 1 unchanged, 2 rejected\n');
    expect(addSummaryLine(outcome({ unchanged: [FPR_A] }))).not.toContain('rejected');
  });

  it('mentions dropped components only when there are some', () => {
    const dropped = [{ fingerprint: FPR_A, component: 'user ID "x"', reason: 'bad signature' }];
    expect(addSummaryLine(outcome({ inserted: [FPR_A], dropped }))).toBe('1 key(s) added, 0 updated, 0 unchanged, 1 component(s) dropped\n');
    expect(addSummaryLine(outcome({ inserted: [FPR_A] }))).not.toContain('dropped');
  });

  it('lists rejected before dropped, on one line ending in a single newline', () => {
    const line = addSummaryLine(
      outcome({
        inserted: [FPR_A],
        updated: [FPR_B],
        unchanged: [FPR_C],
        rejected: [{ reason: 'r' }],
        dropped: [
          { fingerprint: FPR_A, component: 'c1', reason: 'r1' },
          { fingerprint: FPR_B, component: 'c2', reason: 'r2' },
          { fingerprint: FPR_B, component: 'c3', reason: 'r3' },
        ],
      }),
    );
    expect(line).toBe('1 key(s) added, 1 updated, 1 unchanged, 1 rejected, 3 component(s) dropped\n');
    expect(line.indexOf('\n')).toBe(line.length - 1);
  });
});

describe('addSummaryJson', () => {
  it('serialises every list under its own name', () => {
    const o = outcome({
      inserted: [FPR_A],
      updated: [FPR_B],
      unchanged: [FPR_C],
      rejected: [{ fingerprint: FPR_B, reason: 'revoked "quoted"' }, { reason: 'no key' }],
      dropped: [{ fingerprint: FPR_A, component: 'user ID <a@b.org>', reason: 'unverifiable' }],
    });
    const json = addSummaryJson(o);
    const parsed = JSON.parse(json) as Record<string, unknown>;
    expect(Object.keys(parsed)).toEqual(['inserted', 'updated', 'unchanged', 'rejected', 'dropped']);
    expect(parsed).toEqual({
      inserted: [FPR_A],
      updated: [FPR_B],
      unchanged: [FPR_C],
      rejected: [{ fingerprint: FPR_B, reason: 'revoked "quoted"' }, { reason: 'no key' }],
      dropped: [{ fingerprint: FPR_A, component: 'user ID <a@b.org>', reason: 'unverifiable' }],
    });
    // A rejection without a fingerprint has no fingerprint field at all (not null).
    expect(parsed.rejected).toEqual([expect.anything(), expect.not.objectContaining({ fingerprint: expect.anything() })]);
    expect(json).not.toContain('null');
  });

  it('serialises an empty outcome as empty arrays, on one line', () => {
    const json = addSummaryJson(outcome());
    expect(JSON.parse(json)).toEqual({ inserted: [], updated: [], unchanged: [], rejected: [], dropped: [] });
    expect(json).not.toContain('\n');
  });

  it('leaves out properties that are not part of the outcome', () => {
    const o = { ...outcome({ inserted: [FPR_A] }), secret: 'do not leak' } as AddOutcome;
    const parsed = JSON.parse(addSummaryJson(o)) as Record<string, unknown>;
    expect(parsed).not.toHaveProperty('secret');
    expect(parsed.inserted).toEqual([FPR_A]);
  });
});
