// The primary key's summary as a lookup returns it, read from a keys row (bigint dates come back as strings).
import type { KeysTable } from './database.js';

type SummaryColumns = Pick<KeysTable, 'fingerprint' | 'key_id' | 'version' | 'algorithm' | 'bits' | 'created' | 'expires' | 'revoked'>;

export function keySummaryColumns(row: SummaryColumns) {
  return {
    fingerprint: row.fingerprint,
    keyId: row.key_id,
    version: row.version,
    algorithm: row.algorithm,
    bits: row.bits,
    created: Number(row.created),
    expires: row.expires === null ? null : Number(row.expires),
    revoked: row.revoked,
  };
}
