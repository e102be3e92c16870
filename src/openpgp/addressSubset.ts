// The part of a stored key that answers for one e-mail address (Web Key Directory): the primary key and its
// direct signatures, the user IDs with that address and their self-signatures only, and every subkey with its
// signatures. A packet filter over the stored bytes (framing and signature issuer subpackets only): the key was
// validated when stored, so nothing is parsed or verified again.
import { emailOf } from './derive.js';
import { Tag, fingerprintOf, keyIdOf, readPackets, writePackets, type Packet } from './packets.js';
import { scanSignature } from './signatureScan.js';

const utf8 = new TextDecoder('utf-8', { fatal: false });

/**
 * The key's packets keeping only user IDs whose e-mail (lower-cased) `matches`, each with the signatures its
 * own key made (third-party certifications left out); null when no user ID matches. Photo IDs are left out.
 */
export function keyForAddress(stored: Uint8Array, matches: (email: string) => boolean): Uint8Array | null {
  const [primary, ...rest] = readPackets(stored);
  if (!primary || primary.tag !== Tag.publicKey) return null;
  const fingerprint = fingerprintOf(primary.body);
  const keyId = keyIdOf(fingerprint);
  const out: Packet[] = [primary];
  let matched = 0;
  // What to do with the signatures after the current component: keep all, keep self-signatures, or drop.
  let keep: 'all' | 'self' | 'none' = 'all';
  for (const packet of rest) {
    switch (packet.tag) {
      case Tag.signature:
        if (keep === 'all' || (keep === 'self' && isSelfSignature(packet, fingerprint, keyId))) out.push(packet);
        break;
      case Tag.userId: {
        const email = emailOf(utf8.decode(packet.body));
        keep = email !== null && matches(email) ? 'self' : 'none';
        if (keep === 'self') {
          out.push(packet);
          matched++;
        }
        break;
      }
      case Tag.publicSubkey:
        keep = 'all';
        out.push(packet);
        break;
      case Tag.trust:
      case Tag.marker:
      case Tag.padding:
        break; // never part of a key's meaning (and never stored): left out, the component goes on
      default:
        keep = 'none'; // photo IDs, and anything else, with their signatures
    }
  }
  return matched > 0 ? writePackets(out) : null;
}

/** Made by the key itself, by its issuer subpackets (stored signatures without one were attributed as self). */
function isSelfSignature(packet: Packet, fingerprint: string, keyId: string): boolean {
  try {
    const facts = scanSignature(packet.body);
    if (facts.issuerFingerprint) return facts.issuerFingerprint === fingerprint;
    if (facts.issuerKeyId) return facts.issuerKeyId === keyId;
    return true;
  } catch {
    return false;
  }
}
