// src/openpgp/library.ts: the server's one copy of openpgp.js is the package's minified CommonJS build.
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { PublicKeyPacket, SignaturePacket, config, enums } from '../../src/openpgp/library.js';

describe('openpgp library', () => {
  it('is the minified build that require() loads, which V8 holds as a quarter of the ES module build', () => {
    const require = createRequire(import.meta.url);
    const cjs = require('openpgp') as typeof import('openpgp');
    expect(require.resolve('openpgp')).toMatch(/openpgp\.min\.cjs$/);
    expect(PublicKeyPacket).toBe(cjs.PublicKeyPacket);
    expect(SignaturePacket).toBe(cjs.SignaturePacket);
    expect(config).toBe(cjs.config);
    expect(enums).toBe(cjs.enums);
  });
});
