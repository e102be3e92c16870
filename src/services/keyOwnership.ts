// Who may push a key when pushes need a token: a new key must carry a user ID with the token's e-mail,
// and a stored key may be updated with a token of any e-mail already on it.
import { AppError } from '../errors.js';
import { deriveKey, type Cert, type DerivedUserId } from '../openpgp/index.js';
import type { AccessPolicy, AuthenticatedToken } from './accessService.js';

/**
 * Throws 401 when the policy needs a token and there is none, 403 (code key_not_owned) when the token's e-mail
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
  if (!liveEmails(stored ? deriveKey(stored).userIds : mergedUserIds).has(token.email)) {
    throw new AppError(403, 'key_not_owned', `key ${fingerprint} does not contain identity with email '${token.email}'`, { fingerprint });
  }
}

/** Lower-case e-mail addresses of user IDs that are not revoked. */
function liveEmails(userIds: DerivedUserId[]): Set<string> {
  const emails = new Set<string>();
  for (const userId of userIds) {
    if (!userId.revoked && userId.email) emails.add(userId.email);
  }
  return emails;
}
