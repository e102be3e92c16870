// openpgp.js as its minified CommonJS build (the package's "require" entry), not its ES module build: that one is
// 1.2 MB of source with a few non-Latin-1 characters, which V8 keeps for the life of the process as a two-byte
// string of 2.4 MB; the minified build is 0.4 MB of ASCII. Same version, same code. Everything here takes
// openpgp.js from this file, so that one copy is loaded.
import { createRequire } from 'node:module';

type OpenPgp = typeof import('openpgp');

const openpgp = createRequire(import.meta.url)('openpgp') as OpenPgp;

export const { PublicKeyPacket, SignaturePacket, enums, config } = openpgp;
export type PublicKeyPacket = import('openpgp').PublicKeyPacket;
export type SignaturePacket = import('openpgp').SignaturePacket;
