// Who may push a key when pushes need a token: a new key must carry a user ID with the token's identity,
// and a stored key may be updated with a token of any identity already on it.
import { AppError } from '../errors.js';
import { deriveKey, isEmailIdentity, type Cert, type DerivedUserId } from '../openpgp/index.js';
import type { AccessPolicy, AuthenticatedToken } from './accessService.js';

/**
 * Throws 401 when the policy needs a token and there is none, 403 (code key_not_owned) when the token's identity
 * is not on the key: the stored key's user IDs for an update, the pushed key's bound user IDs for a new key.
 * Revoked user IDs do not count.
 */
export function checkKeyOwnership(
  policy: AccessPolicy,
  token: AuthenticatedToken | null,
  fingerprint: string,
  stored: Cert | null,
  mergedUserIds: DerivedUserId[],
): void {
  if (policy !== 'token') return;
  if (!token) throw new AppError(401, 'unauthorized', 'a valid access token is required to push keys');
  if (!liveIdentities(stored ? deriveKey(stored).userIds : mergedUserIds).has(token.identity)) {
    throw new AppError(403, 'key_not_owned', notOwnedMessage(fingerprint, token.identity), { fingerprint });
  }
}

/** The Sylabs keystore's words for an e-mail address; the same shape for an account name. */
function notOwnedMessage(fingerprint: string, identity: string): string {
  return isEmailIdentity(identity)
    ? `key ${fingerprint} does not contain identity with email '${identity}'`
    : `key ${fingerprint} does not contain identity '${identity}'`;
}

/** Identities (normal form) of user IDs that are not revoked. */
function liveIdentities(userIds: DerivedUserId[]): Set<string> {
  const identities = new Set<string>();
  for (const userId of userIds) {
    if (!userId.revoked && userId.identity) identities.add(userId.identity);
  }
  return identities;
}
