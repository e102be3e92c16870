// Web Key Directory names (draft-koch-openpgp-webkey-service §3.1): the local part of an address, lower-cased
// (ASCII letters only, as gpg does), hashed with SHA-1 and written in z-base-32: 32 characters. Pure.
import { createHash } from 'node:crypto';

const ZBASE32 = 'ybndrfg8ejkmcpqxot1uwisza345h769';

/** z-base-32 (RFC 6189 §5.1.6) of bytes, without padding: a final partial group is filled with zero bits. */
export function zBase32(bytes: Uint8Array): string {
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = ((buffer << 8) | byte) & 0xffff;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += ZBASE32[(buffer >> bits) & 31];
    }
  }
  if (bits > 0) out += ZBASE32[(buffer << (5 - bits)) & 31];
  return out;
}

/** ASCII lower case only: gpg leaves other letters of a local part as they are. */
export function asciiLowerCase(text: string): string {
  return text.replace(/[A-Z]+/g, (s) => s.toLowerCase());
}

/** The WKD hash of an address's local part (the part before the last @). */
export function wkdHashOfLocalPart(localPart: string): string {
  return zBase32(createHash('sha1').update(asciiLowerCase(localPart), 'utf8').digest());
}

/** The WKD hash of an e-mail address, or null when it has no local part and domain. */
export function wkdHashOfAddress(address: string): string | null {
  const at = address.lastIndexOf('@');
  if (at <= 0 || at === address.length - 1) return null;
  return wkdHashOfLocalPart(address.slice(0, at));
}

/** Whether text is a WKD hash as found in a URL: 32 z-base-32 characters. */
export function isWkdHash(text: string): boolean {
  return /^[ybndrfg8ejkmcpqxot1uwisza345h769]{32}$/.test(text);
}
