// v6 (RFC 9580) test keys made by openpgp.js.
import * as openpgp from 'openpgp';
import { fromPrivate, type TestKey } from './keys.js';

export async function makeV6Key(userIDs: { name?: string; email?: string }[]): Promise<TestKey> {
  const { privateKey } = await openpgp.generateKey({ type: 'curve25519', userIDs, format: 'object', config: { v6Keys: true } });
  return fromPrivate(privateKey);
}
