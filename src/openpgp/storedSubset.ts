// Recognising a re-push that brings nothing new, without parsing key material or verifying a signature: every
// packet of the upload is already in the stored key, byte for byte (a signature after the normalisation the merge
// applies), and nothing in it is one the merge would drop and report. Such a push is `unchanged`, with nothing
// dropped, exactly as parseCert + mergeCert would find (see the conditions in isStoredSubset).
import { SKIPPED_SILENTLY, normalizedSignatureBody } from './certificate.js';
import type { KeyLimits } from './limits.js';
import { Tag, fingerprintOf, readPackets, type Packet } from './packets.js';

/** The fingerprint of the public primary key an upload starts with; null when it starts with no such packet. */
export function publicKeyFingerprint(packets: readonly Packet[]): string | null {
  const first = packets[0];
  if (!first || first.tag !== Tag.publicKey) return null;
  try {
    return fingerprintOf(first.body);
  } catch {
    return null;
  }
}

/**
 * Whether merging the upload (one key's packets) into the stored key (its bytes) would give `unchanged` with
 * nothing dropped. True only when:
 * - the upload starts with the stored primary key packet (a public key; a secret key is never stored), and the
 *   stored key holds a user ID (every stored key does: mergeCert refuses a key without one);
 * - each packet after it is a signature, user ID, photo ID or subkey found among the stored packets (tag and
 *   body; a signature with its unhashed area normalised as readSignature does, so a stored signature padded with
 *   unsigned junk still matches), or a trust, marker or padding packet, which parseCert skips without a word;
 * - none of them is one parseCert would drop under the current limits (a packet, user ID, number of user IDs or
 *   of subkeys over the limit, a signature it cannot read): stored packets were admitted, but under the limits of
 *   their day.
 * Then parseCert drops nothing, every signature is one mergeCert knows already (it de-duplicates against all
 * stored signatures, whatever component the upload puts them under), every user ID and subkey is stored, so
 * nothing is verified, added or dropped. Anything else (false) takes the full merge.
 */
export function isStoredSubset(upload: readonly Packet[], stored: Uint8Array, limits: KeyLimits): boolean {
  const [first, ...rest] = upload;
  if (!first || first.tag !== Tag.publicKey || first.body.length > limits.maxPacketBytes) return false;
  let storedPackets: Packet[];
  try {
    storedPackets = readPackets(stored);
  } catch {
    return false;
  }
  const [storedPrimary, ...storedRest] = storedPackets;
  if (!storedPrimary || storedPrimary.tag !== Tag.publicKey || !sameBytes(storedPrimary.body, first.body)) return false;
  if (!storedRest.some((p) => p.tag === Tag.userId)) return false;
  const known = new PacketIndex(storedRest);
  let users = 0;
  let subkeys = 0;
  for (const packet of rest) {
    if (SKIPPED_SILENTLY.has(packet.tag)) continue;
    if (packet.body.length > limits.maxPacketBytes) return false;
    let body = packet.body;
    switch (packet.tag) {
      case Tag.signature:
        try {
          body = normalizedSignatureBody(body);
        } catch {
          return false; // parseCert would drop it as unreadable
        }
        break;
      case Tag.userId:
      case Tag.userAttribute:
        if (packet.tag === Tag.userId && packet.body.length > limits.maxUserIdBytes) return false;
        if (++users > limits.maxUserIds) return false;
        break;
      case Tag.publicSubkey:
        if (++subkeys > limits.maxSubkeys) return false;
        break;
      default:
        return false; // secret key material, or a packet parseCert reports as unexpected
    }
    if (!known.has(packet.tag, body)) return false;
  }
  return true;
}

/**
 * Packets found by tag and body. Bucketed by a number made of the tag, the length and the last three bytes (for
 * a signature, the end of its random signature value), then compared byte for byte: the base64 text of each body
 * as a Set key (packetKey) cost several times more, to make and to hash, on keys of hundreds of signatures.
 */
class PacketIndex {
  private readonly buckets = new Map<number, Packet[]>();

  constructor(packets: readonly Packet[]) {
    for (const packet of packets) {
      const key = bucketOf(packet.tag, packet.body);
      const bucket = this.buckets.get(key);
      if (bucket) bucket.push(packet);
      else this.buckets.set(key, [packet]);
    }
  }

  has(tag: number, body: Uint8Array): boolean {
    const bucket = this.buckets.get(bucketOf(tag, body));
    return bucket !== undefined && bucket.some((p) => p.tag === tag && sameBytes(p.body, body));
  }
}

function bucketOf(tag: number, body: Uint8Array): number {
  let tail = 0;
  for (let i = Math.max(0, body.length - 3); i < body.length; i++) tail = tail * 256 + body[i]!;
  // Below 2^53: 5 bits of tag, 24 of length, 24 of tail.
  return ((tag & 0x1f) * 2 ** 24 + (body.length % 2 ** 24)) * 2 ** 24 + tail;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);
}
