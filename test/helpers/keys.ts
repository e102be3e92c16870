// Test keys: small ed25519 keys made on the fly, and the Debian fixtures.
import { readFileSync } from 'node:fs';
import * as openpgp from 'openpgp';
import { readPackets, splitKeys, writePackets, Tag, type Packet } from '../../src/openpgp/packets.js';
import { normalizeSignature } from '../../src/openpgp/signatureScan.js';

export interface TestKey {
  privateKey: openpgp.PrivateKey;
  publicKey: openpgp.PublicKey;
  fingerprint: string;
  armored: string;
  packets: Packet[];
}

export async function makeKey(
  userIDs: { name?: string; email?: string }[] = [{ name: 'Test', email: 'test@example.org' }],
  date?: Date,
): Promise<TestKey> {
  const { privateKey } = await openpgp.generateKey({ type: 'curve25519', userIDs, format: 'object', ...(date ? { date } : {}) });
  return fromPrivate(privateKey);
}

export function fromPrivate(privateKey: openpgp.PrivateKey): TestKey {
  const publicKey = privateKey.toPublic();
  const bytes = publicKey.write();
  return {
    privateKey,
    publicKey,
    fingerprint: publicKey.getFingerprint().toUpperCase(),
    armored: publicKey.armor(),
    packets: readPackets(bytes),
  };
}

/** The same key with its user IDs replaced by these (each self-signed anew). */
export async function withUserIds(key: TestKey, userIDs: { name?: string; email?: string }[]): Promise<TestKey> {
  const { privateKey } = await openpgp.reformatKey({ privateKey: key.privateKey, userIDs, format: 'object' });
  return fromPrivate(privateKey);
}

export function armorPackets(packets: Packet[]): string {
  return openpgp.armor(openpgp.enums.armor.publicKey, writePackets(packets));
}

/** Packets of one component: the packet with the given tag and body, plus the signatures after it. */
export function componentPackets(packets: Packet[], match: (p: Packet) => boolean): Packet[] {
  const start = packets.findIndex(match);
  if (start < 0) throw new Error('component not found');
  const out = [packets[start]!];
  for (let i = start + 1; i < packets.length && packets[i]!.tag === Tag.signature; i++) out.push(packets[i]!);
  return out;
}

export function userIdPackets(packets: Packet[], text: string): Packet[] {
  return componentPackets(packets, (p) => p.tag === Tag.userId && new TextDecoder().decode(p.body) === text);
}

export const FIXTURES = new URL('../fixtures/debian/', import.meta.url);

export interface DebianFixture {
  file: string;
  fingerprint: string;
  features: string[];
  subkeyFingerprints: string[];
  userIdStrings: string[];
}

export function debianFixtures(): DebianFixture[] {
  return JSON.parse(readFileSync(new URL('fixtures.json', FIXTURES), 'utf8')) as DebianFixture[];
}

export function fixtureBytes(file: string): Uint8Array {
  return new Uint8Array(readFileSync(new URL(file, FIXTURES)));
}

export function fixtureKeys(bytes: Uint8Array): Packet[][] {
  return splitKeys(readPackets(bytes)).keys;
}

/**
 * Packets as sorted comparable strings. Signatures are compared as the server stores them: with the unsigned
 * (unhashed) area reduced to issuer and embedded-signature subpackets (see normalizeSignature).
 */
export function packetSet(packets: Packet[]): string[] {
  return packets
    .filter((p) => p.tag !== Tag.trust)
    .map((p) => `${p.tag}:${Buffer.from(p.tag === Tag.signature ? normalizeSignature(p.body) : p.body).toString('hex')}`)
    .sort();
}
