import * as openpgp from 'openpgp';
import { describe, expect, it } from 'vitest';
import { readPackets, Tag } from '../../src/openpgp/packets.js';
import { normalizeSignature, scanSignature, SignatureScanError } from '../../src/openpgp/signatureScan.js';

async function selfSignature(): Promise<{ body: Uint8Array; fingerprint: string }> {
  const { publicKey } = await openpgp.generateKey({ type: 'curve25519', userIDs: [{ email: 'scan@example.org' }], format: 'object' });
  const sig = readPackets(publicKey.write()).find((p) => p.tag === Tag.signature)!;
  return { body: sig.body, fingerprint: publicKey.getFingerprint().toUpperCase() };
}

/** The signature with extra bytes appended to its unhashed area, as a flooder would pad it. */
function padUnhashed(body: Uint8Array, subpacketType: number, size: number): Uint8Array {
  const hashedLength = (body[4]! << 8) + body[5]!;
  const at = 6 + hashedLength;
  const unhashedLength = (body[at]! << 8) + body[at + 1]!;
  const extra = Buffer.concat([Buffer.from([size + 1 < 192 ? size + 1 : 191, subpacketType]), Buffer.alloc(Math.min(size, 189), 7)]);
  const newLength = unhashedLength + extra.length;
  return new Uint8Array(
    Buffer.concat([
      body.subarray(0, at),
      Buffer.from([newLength >> 8, newLength & 0xff]),
      body.subarray(at + 2, at + 2 + unhashedLength),
      extra,
      body.subarray(at + 2 + unhashedLength),
    ]),
  );
}

describe('scanSignature', () => {
  it('reads type, creation time and issuer like openpgp.js does', async () => {
    const { body, fingerprint } = await selfSignature();
    const facts = scanSignature(body);
    const parsed = new openpgp.SignaturePacket();
    parsed.read(body);
    expect(facts.version).toBe(4);
    expect(facts.type).toBe(parsed.signatureType);
    expect(facts.created).toBe(Math.floor(parsed.created!.getTime() / 1000));
    expect(facts.issuerFingerprint).toBe(fingerprint);
    expect(facts.issuerKeyId).toBe(fingerprint.slice(-16));
    expect(facts.primaryUserId).toBe(true);
  });

  it('refuses truncated signatures and unknown versions', async () => {
    const { body } = await selfSignature();
    expect(() => scanSignature(body.subarray(0, 10))).toThrow(SignatureScanError);
    expect(() => scanSignature(Uint8Array.of(9, 0x10, 22, 8))).toThrow(SignatureScanError);
  });
});

describe('normalizeSignature', () => {
  it('leaves a signature with only issuer subpackets unsigned alone', async () => {
    const { body } = await selfSignature();
    expect(normalizeSignature(body)).toBe(body);
  });

  it('removes padding from the unhashed area, so padded copies equal the original', async () => {
    const { body } = await selfSignature();
    const padded = padUnhashed(body, 101, 150);
    expect(padded.length).toBeGreaterThan(body.length + 150);
    expect(Buffer.from(normalizeSignature(padded)).equals(Buffer.from(body))).toBe(true);
  });

  it('keeps issuer subpackets in the unhashed area', async () => {
    const { body } = await selfSignature();
    const withIssuer = padUnhashed(body, 16, 8);
    expect(Buffer.from(normalizeSignature(withIssuer)).equals(Buffer.from(withIssuer))).toBe(true);
  });
});
