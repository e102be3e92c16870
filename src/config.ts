// Settings from the environment, validated once at start. Every setting is documented in README.md.
import { z } from 'zod';

const MiB = 1024 * 1024;

/** A whole number setting of at least `min`, `fallback` when unset. */
const count = (min: number, fallback: number) => z.coerce.number().int().min(min).default(fallback);

/** A comma-separated list setting, empty items left out; empty when unset. */
const commaList = () =>
  z
    .string()
    .default('')
    .transform((v) =>
      v
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s.length > 0),
    );

// A DNS name of at least two labels (letters, digits, hyphens; no leading or trailing hyphen in a label).
const DOMAIN = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

const schema = z.object({
  /** Plain HTTP (HKP) port; `off` serves HTTPS only (needs TLS_CERT_FILE). */
  PORT: z
    .string()
    .trim()
    .toLowerCase()
    .refine((v) => v === 'off' || (/^[0-9]{1,5}$/.test(v) && Number(v) <= 65535), 'must be a port number from 0 to 65535, or off')
    .transform((v): number | 'off' => (v === 'off' ? 'off' : Number(v)))
    .default(11371),
  HOST: z.string().min(1).default('0.0.0.0'),
  DATABASE_URL: z.string().url().optional(),
  /** Streaming-replication standbys of DATABASE_URL serving lookups, comma-separated (docs/replicas.md). */
  DATABASE_READ_URL: commaList().refine((urls) => urls.every((u) => /^postgres(ql)?:\/\/[^/]/.test(u)), 'must be postgres:// URLs, comma-separated'),
  DATA_DIR: z.string().min(1).default('./data'),
  DB_POOL_SIZE: z.coerce.number().int().min(1).max(1000).default(10),
  MAX_BODY_BYTES: count(1024, 8 * MiB),
  MAX_RESULTS: z.coerce.number().int().min(1).max(10000).default(100),
  // Answers to op=get/index kept in memory per process (docs/operations.md "Lookup cache"); 0 bytes turns it off.
  LOOKUP_CACHE_BYTES: count(0, 48 * MiB),
  LOOKUP_CACHE_MAX_AGE_SECONDS: z.coerce.number().int().min(1).max(86_400).default(300),
  // Key limits (see docs/validation.md): enforced at upload and on every merge.
  MAX_KEY_BYTES: count(1024, 1 * MiB),
  MAX_PACKET_BYTES: count(256, 64 * 1024),
  MAX_USER_ID_BYTES: z.coerce.number().int().min(16).default(1024),
  MAX_USER_IDS: z.coerce.number().int().min(1).default(100),
  MAX_SUBKEYS: z.coerce.number().int().min(0).default(100),
  MAX_SELF_SIGNATURES_PER_COMPONENT: z.coerce.number().int().min(1).default(100),
  MAX_CERTIFICATIONS_PER_USER_ID: z.coerce.number().int().min(0).default(100),
  CERTIFICATION_POLICY: z.enum(['stored', 'none']).default('stored'),
  // Certifications kept aside until their issuer's key is stored (docs/certifications.md); 0 keeps none aside.
  MAX_PENDING_CERTIFICATIONS_PER_KEY: z.coerce.number().int().min(0).default(1000),
  MAX_PENDING_CERTIFICATIONS: z.coerce.number().int().min(0).default(100_000),
  // Rate limits per client address (see docs/operations.md "Rate limits").
  RATE_LIMIT: z.enum(['on', 'off']).default('on'),
  RATE_LIMIT_GET_PER_MINUTE: z.coerce.number().int().min(1).default(1200),
  RATE_LIMIT_SEARCH_PER_MINUTE: z.coerce.number().int().min(1).default(240),
  RATE_LIMIT_ADD_PER_MINUTE: z.coerce.number().int().min(1).default(30),
  TRUSTED_PROXIES: commaList(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** When set, /metrics is served on this port (same HOST) instead of on PORT. */
  METRICS_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  /**
   * Processes serving HTTP (cluster mode, README "Settings"): `auto` = one per CPU but one, or 1 to 64. Only with
   * DATABASE_URL: the embedded database lives inside one process. Unset = `auto` with DATABASE_URL, else 1.
   */
  WORKERS: z
    .string()
    .trim()
    .toLowerCase()
    .refine((v) => v === 'auto' || (/^[0-9]+$/.test(v) && Number(v) >= 1 && Number(v) <= 64), 'must be auto or a whole number from 1 to 64')
    .transform((v): 'auto' | number => (v === 'auto' ? 'auto' : Number(v)))
    .optional(),
  /** How long a shutdown waits for requests in flight before closing their connections. */
  SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(0).max(600_000).default(10_000),
  // Access control (docs/operations.md "Access control"): who needs a token to push, to look up.
  PUSH_POLICY: z.enum(['open', 'token']).default('open'),
  LOOKUP_POLICY: z.enum(['open', 'token']).default('open'),
  /** Domains whose Web Key Directory this server answers (docs/apis.md), comma-separated; empty = none. */
  WKD_DOMAINS: z
    .string()
    .default('')
    .transform((v) =>
      v
        .split(',')
        .map((s) => s.trim().toLowerCase().replace(/\.$/, ''))
        .filter((s) => s.length > 0),
    )
    .refine((list) => list.every((d) => DOMAIN.test(d)), 'must be comma-separated domain names, e.g. example.org,example.net'),
  /** External base URL named by Singularity's remote configuration document; unset = from the request's Host. */
  PUBLIC_URL: z
    .string()
    .url()
    .refine((u) => /^https?:\/\/[^/]/i.test(u), 'must be an http:// or https:// URL')
    .transform((u) => u.replace(/\/+$/, ''))
    .optional(),
  // HTTPS (docs/https.md): both files set = HTTPS on HTTPS_PORT beside plain HTTP on PORT.
  TLS_CERT_FILE: z.string().optional(),
  TLS_KEY_FILE: z.string().optional(),
  HTTPS_PORT: z.coerce.number().int().min(0).max(65535).default(443),
  /** Strict-Transport-Security max-age on HTTPS answers; 0 sends none. */
  HSTS_MAX_AGE_SECONDS: z.coerce
    .number()
    .int()
    .min(0)
    .max(2 * 365 * 86_400)
    .default(365 * 86_400),
  /** How long a TLS handshake may take before its connection is dropped (half-open handshakes). */
  TLS_HANDSHAKE_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(10_000),
  // Tokens of the site's identity provider (docs/identities.md): its keys, issuer, our audience, the identity claim.
  // The keys decide who may push: only https, or http to this machine (an identity provider on loopback).
  TOKEN_JWKS_URL: z
    .string()
    .url()
    .refine(
      (u) => /^https:\/\/[^/]/i.test(u) || /^http:\/\/(127\.[0-9.]+|\[::1\]|localhost)(:[0-9]+)?(\/|$)/i.test(u),
      'must be an https:// URL (http:// only to 127.0.0.1, [::1] or localhost)',
    )
    .optional(),
  TOKEN_ISSUER: z.string().trim().min(1).optional(),
  /** Comma-separated: a token must name one of them in `aud`. */
  TOKEN_AUDIENCE: z
    .string()
    .transform((v) =>
      v
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s.length > 0),
    )
    .refine((list) => list.length > 0, 'must name at least one audience')
    .optional(),
  TOKEN_IDENTITY_CLAIM: z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9_.:-]+$/, 'must be a claim name such as email or preferred_username')
    .default('email'),
  /** What GET /auth/tokens tells people: the administrator's text and/or a link. */
  TOKENS_HELP_TEXT: z.string().max(10_000).optional(),
  TOKENS_HELP_URL: z
    .string()
    .url()
    .refine((u) => /^https?:\/\/[^/]/i.test(u), 'must be an http:// or https:// URL')
    .optional(),
  // The web pages (docs/web.md): the name they carry and a contact line in their footer.
  SITE_NAME: z.string().trim().min(1).max(100).default('keystore'),
  SITE_CONTACT: z.string().trim().max(300).optional(),
});

export type Config = Omit<z.infer<typeof schema>, 'WORKERS'> & {
  /** `auto` (one per CPU but one) only with DATABASE_URL; always 1 with the embedded database. */
  WORKERS: 'auto' | number;
};

export class ConfigError extends Error {}

/** Parses settings; an invalid value throws one message naming the variable. */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v.trim() !== ''));
  const parsed = schema.safeParse(cleaned);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const name = String(issue.path[0] ?? 'environment');
    throw new ConfigError(`invalid ${name}=${JSON.stringify(cleaned[name] ?? '')}: ${issue.message}`);
  }
  const { WORKERS: workers, ...settings } = parsed.data;
  checkListeners(settings, cleaned);
  checkIdentityProvider(settings, cleaned);
  if (settings.DATABASE_READ_URL.length > 0 && !settings.DATABASE_URL) {
    throw new ConfigError(`invalid DATABASE_READ_URL=${JSON.stringify(cleaned['DATABASE_READ_URL'])}: standbys need their primary in DATABASE_URL`);
  }
  if (settings.DATABASE_URL) return { ...settings, WORKERS: workers ?? 'auto' };
  // PGlite is in-process: one process only. `auto` means as many as useful, which is 1 here; a number is an error.
  if (typeof workers === 'number' && workers > 1) {
    throw new ConfigError(
      `invalid WORKERS=${JSON.stringify(cleaned['WORKERS'])}: more than one worker needs DATABASE_URL (PostgreSQL); the embedded database lives in one process`,
    );
  }
  return { ...settings, WORKERS: 1 };
}

/** Both TLS files or neither; something to serve; two listeners on two ports. */
function checkListeners(settings: Omit<z.infer<typeof schema>, 'WORKERS'>, given: Record<string, string | undefined>): void {
  const invalid = (name: string, why: string) => new ConfigError(`invalid ${name}=${JSON.stringify(given[name] ?? '')}: ${why}`);
  if (settings.TLS_CERT_FILE !== undefined && settings.TLS_KEY_FILE === undefined)
    throw invalid('TLS_KEY_FILE', 'TLS_CERT_FILE is set: its private key file is needed too');
  if (settings.TLS_KEY_FILE !== undefined && settings.TLS_CERT_FILE === undefined)
    throw invalid('TLS_CERT_FILE', 'TLS_KEY_FILE is set: the certificate file is needed too');
  const https = settings.TLS_CERT_FILE !== undefined;
  if (settings.PORT === 'off' && !https) throw invalid('PORT', 'off serves nothing without HTTPS (set TLS_CERT_FILE and TLS_KEY_FILE)');
  if (https && settings.PORT !== 'off' && settings.PORT !== 0 && settings.PORT === settings.HTTPS_PORT)
    throw invalid('HTTPS_PORT', 'is the same port as PORT');
  if (https && settings.METRICS_PORT !== undefined && settings.METRICS_PORT !== 0 && settings.METRICS_PORT === settings.HTTPS_PORT)
    throw invalid('METRICS_PORT', 'is the same port as HTTPS_PORT');
}

/** Whether HTTPS is served (both TLS files set). */
export function servesHttps(
  config: Pick<Config, 'TLS_CERT_FILE' | 'TLS_KEY_FILE'>,
): config is Config & { TLS_CERT_FILE: string; TLS_KEY_FILE: string } {
  return config.TLS_CERT_FILE !== undefined && config.TLS_KEY_FILE !== undefined;
}

/** TOKEN_JWKS_URL, TOKEN_ISSUER and TOKEN_AUDIENCE go together: a provider's tokens are checked against all three. */
function checkIdentityProvider(
  settings: { TOKEN_JWKS_URL?: string | undefined; TOKEN_ISSUER?: string | undefined; TOKEN_AUDIENCE?: string[] | undefined },
  env: Record<string, string | undefined>,
): void {
  const given = (['TOKEN_JWKS_URL', 'TOKEN_ISSUER', 'TOKEN_AUDIENCE'] as const).filter((name) => settings[name] !== undefined);
  if (given.length === 0 || given.length === 3) return;
  const missing = (['TOKEN_JWKS_URL', 'TOKEN_ISSUER', 'TOKEN_AUDIENCE'] as const).find((name) => settings[name] === undefined)!;
  throw new ConfigError(
    `invalid ${missing}=${JSON.stringify(env[missing] ?? '')}: required with ${given.join(' and ')} (the identity provider's tokens are checked against all three)`,
  );
}
