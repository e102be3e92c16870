import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, servesHttps } from '../../src/config.js';

const MiB = 1024 * 1024;

function configError(env: Record<string, string | undefined>): ConfigError {
  let caught: unknown;
  try {
    loadConfig(env);
  } catch (e) {
    caught = e;
  }
  expect(caught, JSON.stringify(env)).toBeInstanceOf(ConfigError);
  return caught as ConfigError;
}

describe('loadConfig', () => {
  it('uses defaults for an empty environment', () => {
    const c = loadConfig({});
    expect(c.PORT).toBe(11371);
    expect(c.HOST).toBe('0.0.0.0');
    expect(c.DATA_DIR).toBe('./data');
    expect(c.DATABASE_URL).toBeUndefined();
    expect(c.MAX_BODY_BYTES).toBeGreaterThanOrEqual(4 * MiB);
    expect(c.DB_POOL_SIZE).toBeGreaterThanOrEqual(1);
    expect(c.MAX_RESULTS).toBeGreaterThanOrEqual(1);
    expect(c.LOG_LEVEL).toBe('info');
    expect(c.METRICS_PORT).toBeUndefined();
    expect(c.SHUTDOWN_TIMEOUT_MS).toBe(10_000);
  });

  it('treats empty strings and undefined as unset', () => {
    const c = loadConfig({
      PORT: '',
      HOST: '',
      DATABASE_URL: '',
      DATA_DIR: '',
      DB_POOL_SIZE: '',
      MAX_BODY_BYTES: '',
      MAX_RESULTS: '',
      LOG_LEVEL: undefined,
      METRICS_PORT: '',
      SHUTDOWN_TIMEOUT_MS: '',
    });
    expect(c).toEqual(loadConfig({}));
  });

  it('ignores unrelated variables', () => {
    const c = loadConfig({ PATH: '/usr/bin', HOME: '/root', SOMETHING: 'x' });
    expect(c).toEqual(loadConfig({}));
    expect(c).not.toHaveProperty('PATH');
  });

  it('reads and coerces given values', () => {
    const c = loadConfig({
      PORT: '8080',
      HOST: '127.0.0.1',
      DATABASE_URL: 'postgres://user:pw@localhost:5432/keys',
      DATA_DIR: '/var/lib/keystore',
      DB_POOL_SIZE: '4',
      MAX_BODY_BYTES: '2048',
      MAX_RESULTS: '500',
      LOG_LEVEL: 'debug',
      METRICS_PORT: '9100',
      SHUTDOWN_TIMEOUT_MS: '2500',
      PUSH_POLICY: 'token',
      LOOKUP_POLICY: 'token',
      PUBLIC_URL: 'https://keys.example.org/',
    });
    expect(c).toMatchObject({
      PORT: 8080,
      HOST: '127.0.0.1',
      DATABASE_URL: 'postgres://user:pw@localhost:5432/keys',
      DATA_DIR: '/var/lib/keystore',
      DB_POOL_SIZE: 4,
      MAX_BODY_BYTES: 2048,
      MAX_RESULTS: 500,
      LOG_LEVEL: 'debug',
      METRICS_PORT: 9100,
      SHUTDOWN_TIMEOUT_MS: 2500,
      PUSH_POLICY: 'token',
      LOOKUP_POLICY: 'token',
      PUBLIC_URL: 'https://keys.example.org',
    });
  });

  it('accepts port 0 and 65535', () => {
    expect(loadConfig({ PORT: '0' }).PORT).toBe(0);
    expect(loadConfig({ PORT: '65535' }).PORT).toBe(65535);
  });

  it.each(['abc', '65536', '-1', '80.5', '12abc'])('rejects PORT=%j with a message naming PORT', (value) => {
    const err = configError({ PORT: value });
    expect(err.message).toContain('PORT');
    expect(err.message).toContain(JSON.stringify(value));
  });

  it('rejects a DATABASE_URL that is not a URL, naming it', () => {
    const err = configError({ DATABASE_URL: 'not a url' });
    expect(err.message).toContain('DATABASE_URL');
    expect(err.message).toContain('not a url');
  });

  it.each([
    ['LOG_LEVEL', 'verbose'],
    ['MAX_BODY_BYTES', '100'],
    ['MAX_BODY_BYTES', 'lots'],
    ['DB_POOL_SIZE', '0'],
    ['DB_POOL_SIZE', '1001'],
    ['MAX_RESULTS', '0'],
    ['MAX_RESULTS', '10001'],
    ['METRICS_PORT', '65536'],
    ['METRICS_PORT', 'nine'],
    ['SHUTDOWN_TIMEOUT_MS', '-1'],
    ['SHUTDOWN_TIMEOUT_MS', '1.5'],
    ['PUSH_POLICY', 'closed'],
    ['LOOKUP_POLICY', 'TOKEN'],
    ['PUBLIC_URL', 'keys.example.org'],
    ['PUBLIC_URL', 'ftp://keys.example.org'],
    ['TOKEN_JWKS_URL', 'http://idp.example/jwks'],
    ['TOKEN_JWKS_URL', 'http://127.0.0.1.evil.example/jwks'],
    ['TOKEN_JWKS_URL', 'idp.example/jwks'],
    ['TOKEN_IDENTITY_CLAIM', 'two words'],
    ['TOKENS_HELP_URL', 'javascript:alert(1)'],
  ])('rejects %s=%j, naming the variable', (name, value) => {
    const err = configError({ [name]: value });
    expect(err.message).toContain(name);
  });

  it('names the invalid variable, not a valid one beside it', () => {
    const err = configError({ PORT: '8080', LOG_LEVEL: 'loud' });
    expect(err.message).toContain('LOG_LEVEL');
    expect(err.message).not.toContain('PORT');
  });

  it('leaves pushes and lookups open and PUBLIC_URL unset by default; PUBLIC_URL loses its trailing slashes', () => {
    const c = loadConfig({});
    expect([c.PUSH_POLICY, c.LOOKUP_POLICY, c.PUBLIC_URL]).toEqual(['open', 'open', undefined]);
    expect(loadConfig({ PUBLIC_URL: 'http://127.0.0.1:11371//' }).PUBLIC_URL).toBe('http://127.0.0.1:11371');
    expect(loadConfig({ PUBLIC_URL: 'https://example.org/keys/' }).PUBLIC_URL).toBe('https://example.org/keys');
  });

  it('reads the identity provider settings; the claim defaults to email; the audience is a list', () => {
    expect(loadConfig({}).TOKEN_IDENTITY_CLAIM).toBe('email');
    const c = loadConfig({
      TOKEN_JWKS_URL: 'https://idp.example/realms/site/protocol/openid-connect/certs',
      TOKEN_ISSUER: 'https://idp.example/realms/site',
      TOKEN_AUDIENCE: 'keystore, account',
      TOKEN_IDENTITY_CLAIM: 'preferred_username',
    });
    expect([c.TOKEN_ISSUER, c.TOKEN_AUDIENCE, c.TOKEN_IDENTITY_CLAIM]).toEqual([
      'https://idp.example/realms/site',
      ['keystore', 'account'],
      'preferred_username',
    ]);
    expect(loadConfig({ TOKEN_JWKS_URL: 'http://127.0.0.1:8080/jwks', TOKEN_ISSUER: 'x', TOKEN_AUDIENCE: 'y' }).TOKEN_JWKS_URL).toBe(
      'http://127.0.0.1:8080/jwks',
    );
  });

  it('refuses part of the identity provider settings, naming what is missing', () => {
    expect(configError({ TOKEN_JWKS_URL: 'https://idp.example/certs', TOKEN_ISSUER: 'https://idp.example' }).message).toMatch(
      /^invalid TOKEN_AUDIENCE="": required with TOKEN_JWKS_URL and TOKEN_ISSUER/,
    );
    expect(configError({ TOKEN_ISSUER: 'https://idp.example', TOKEN_AUDIENCE: 'keystore' }).message).toMatch(/^invalid TOKEN_JWKS_URL=""/);
  });

  it('does not turn a blank PORT into port 0', () => {
    expect(loadConfig({ PORT: ' ' }).PORT).not.toBe(0);
  });

  it('runs one worker per CPU on PostgreSQL by default, and one with the embedded database', () => {
    const url = 'postgres://localhost/keys';
    expect(loadConfig({ DATABASE_URL: url }).WORKERS).toBe('auto');
    expect(loadConfig({ DATABASE_URL: url, WORKERS: 'AUTO' }).WORKERS).toBe('auto');
    expect(loadConfig({ DATABASE_URL: url, WORKERS: '1' }).WORKERS).toBe(1);
    expect(loadConfig({ DATABASE_URL: url, WORKERS: '64' }).WORKERS).toBe(64);
    expect(loadConfig({}).WORKERS).toBe(1);
    expect(loadConfig({ WORKERS: 'auto' }).WORKERS).toBe(1);
    expect(loadConfig({ WORKERS: '1' }).WORKERS).toBe(1);
  });

  it.each(['0', '65', '-1', '1.5', 'many', '2x'])('rejects WORKERS=%j, naming it', (value) => {
    const err = configError({ DATABASE_URL: 'postgres://localhost/keys', WORKERS: value });
    expect(err.message).toContain('WORKERS');
    expect(err.message).toContain(JSON.stringify(value));
  });

  it('refuses more than one worker without DATABASE_URL, saying why', () => {
    const err = configError({ WORKERS: '2' });
    expect(err.message).toContain('WORKERS="2"');
    expect(err.message).toContain('DATABASE_URL');
  });

  describe('HTTPS', () => {
    const tls = { TLS_CERT_FILE: '/etc/keystore/fullchain.pem', TLS_KEY_FILE: '/etc/keystore/privkey.pem' };

    it('serves no HTTPS by default; with both files, HTTPS on 443 beside PORT, HSTS for a year', () => {
      const plain = loadConfig({});
      expect(plain.TLS_CERT_FILE).toBeUndefined();
      expect(servesHttps(plain)).toBe(false);
      const c = loadConfig(tls);
      expect(servesHttps(c)).toBe(true);
      expect(c.HTTPS_PORT).toBe(443);
      expect(c.PORT).toBe(11371);
      expect(c.HSTS_MAX_AGE_SECONDS).toBe(31_536_000);
      expect(c.TLS_HANDSHAKE_TIMEOUT_MS).toBe(10_000);
      expect(loadConfig({ ...tls, HTTPS_PORT: '8443', HSTS_MAX_AGE_SECONDS: '0' })).toMatchObject({ HTTPS_PORT: 8443, HSTS_MAX_AGE_SECONDS: 0 });
    });

    it('takes PORT=off (HTTPS only) when HTTPS is served, and refuses it otherwise', () => {
      expect(loadConfig({ ...tls, PORT: 'off' }).PORT).toBe('off');
      expect(loadConfig({ ...tls, PORT: 'OFF' }).PORT).toBe('off');
      const err = configError({ PORT: 'off' });
      expect(err.message).toBe('invalid PORT="off": off serves nothing without HTTPS (set TLS_CERT_FILE and TLS_KEY_FILE)');
    });

    it('needs both files, naming the one missing', () => {
      expect(configError({ TLS_CERT_FILE: tls.TLS_CERT_FILE }).message).toMatch(/^invalid TLS_KEY_FILE="": TLS_CERT_FILE is set/);
      expect(configError({ TLS_KEY_FILE: tls.TLS_KEY_FILE }).message).toMatch(/^invalid TLS_CERT_FILE="": TLS_KEY_FILE is set/);
    });

    it('refuses HTTPS_PORT equal to PORT or METRICS_PORT, and bad numbers, naming the variable', () => {
      expect(configError({ ...tls, PORT: '8443', HTTPS_PORT: '8443' }).message).toMatch(/^invalid HTTPS_PORT="8443": is the same port as PORT/);
      expect(configError({ ...tls, METRICS_PORT: '443' }).message).toMatch(/^invalid METRICS_PORT="443": is the same port as HTTPS_PORT/);
      expect(loadConfig({ ...tls, PORT: '0', HTTPS_PORT: '0' }).HTTPS_PORT).toBe(0);
      for (const [name, value] of [
        ['HTTPS_PORT', '65536'],
        ['HTTPS_PORT', 'https'],
        ['HSTS_MAX_AGE_SECONDS', '-1'],
        ['TLS_HANDSHAKE_TIMEOUT_MS', '5'],
      ]) {
        expect(configError({ ...tls, [name!]: value }).message).toContain(`${name}=${JSON.stringify(value)}`);
      }
    });
  });

  it('reads WKD_DOMAINS as lower-case domain names, none by default, and refuses anything else', () => {
    expect(loadConfig({}).WKD_DOMAINS).toEqual([]);
    expect(loadConfig({ WKD_DOMAINS: ' Example.ORG, mail.example.net. ,' }).WKD_DOMAINS).toEqual(['example.org', 'mail.example.net']);
    for (const bad of ['localhost', 'exa mple.org', 'https://example.org', 'example.org/x', '-x.example', 'a..b']) {
      expect(configError({ WKD_DOMAINS: bad }).message, bad).toContain('WKD_DOMAINS');
    }
  });
});
