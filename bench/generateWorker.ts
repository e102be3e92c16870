// A worker thread of bench/generate.ts: makes the synthetic keys it is asked for with openpgp.js, v4 EdDSA
// (ed25519, algorithm 22, which gpg 2.2 reads) with a cv25519 encryption subkey, and sends back their public
// key bytes.
import { parentPort } from 'node:worker_threads';
import * as openpgp from 'openpgp';
import { datesOf, identitiesOf } from './names.js';

export interface GenerateRequest {
  pool: string;
  /** Key indexes in the pool. */
  from: number;
  to: number;
}

export interface GeneratedKey {
  bytes: Uint8Array;
  fingerprint: string;
  subkeys: string[];
  userIds: string[];
}

const IN_FLIGHT = 8;

export type GenerateResponse = { kind: 'keys'; keys: GeneratedKey[] } | { kind: 'error'; message: string };

export async function generateKey(pool: string, index: number): Promise<GeneratedKey> {
  const userIDs = identitiesOf(pool, index);
  const { created, validSeconds } = datesOf(pool, index);
  const { privateKey } = await openpgp.generateKey({
    type: 'ecc',
    curve: 'ed25519Legacy',
    userIDs,
    date: created,
    keyExpirationTime: validSeconds,
    format: 'object',
  });
  const publicKey = privateKey.toPublic();
  return {
    bytes: publicKey.write(),
    fingerprint: publicKey.getFingerprint().toUpperCase(),
    subkeys: publicKey.subkeys.map((s) => s.getFingerprint().toUpperCase()),
    userIds: publicKey.users.flatMap((u) => (u.userID ? [u.userID.userID] : [])),
  };
}

const port = parentPort;
if (port) {
  port.on('message', (request: GenerateRequest) => {
    void (async () => {
      try {
        const keys: GeneratedKey[] = [];
        // Several at once: openpgp.js waits on Node's crypto (thread pool) for each key pair and signature.
        for (let i = request.from; i < request.to; i += IN_FLIGHT) {
          const indexes = Array.from({ length: Math.min(IN_FLIGHT, request.to - i) }, (_, k) => i + k);
          keys.push(...(await Promise.all(indexes.map((index) => generateKey(request.pool, index)))));
        }
        const response: GenerateResponse = { kind: 'keys', keys };
        port.postMessage(response);
      } catch (e) {
        port.postMessage({ kind: 'error', message: e instanceof Error ? (e.stack ?? e.message) : String(e) } satisfies GenerateResponse);
      }
    })();
  });
}
