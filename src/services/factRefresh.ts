// `keystore refresh-facts`: derives the facts a key's page shows (capabilities, revocation reasons) anew from the
// stored packets of every key, for keys stored before those facts were derived at import.
import { deriveKey, parseStoredCert } from '../openpgp/index.js';
import type { IdentifierFactsRepository } from '../store/identifierFacts.js';

const BATCH = 200;

export async function refreshFacts(
  repository: IdentifierFactsRepository,
  progress: (keys: number) => void = () => {},
): Promise<{ keys: number; failed: number }> {
  let after = '0';
  let keys = 0;
  let failed = 0;
  for (;;) {
    const batch = await repository.keysAfter(after, BATCH);
    if (batch.length === 0) break;
    const rows = [];
    for (const { row, packets } of batch) {
      try {
        const derived = deriveKey(await parseStoredCert(packets));
        for (const k of [derived, ...derived.subkeys])
          rows.push({ row, facts: { fingerprint: k.fingerprint, capabilities: k.capabilities, revocation: k.revocation } });
      } catch {
        failed++; // a stored key this version cannot read: its facts stay as they are
      }
    }
    await repository.write(rows);
    keys += batch.length;
    after = batch[batch.length - 1]!.row;
    progress(keys);
  }
  return { keys, failed };
}
