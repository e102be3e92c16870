// Settings from the environment, validated once at start. Every setting is documented in README.md.
import { z } from 'zod';

const MiB = 1024 * 1024;

const schema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(11371),
  HOST: z.string().min(1).default('0.0.0.0'),
  DATABASE_URL: z.string().url().optional(),
  DATA_DIR: z.string().min(1).default('./data'),
  DB_POOL_SIZE: z.coerce.number().int().min(1).max(1000).default(10),
  MAX_BODY_BYTES: z.coerce.number().int().min(1024).default(8 * MiB),
  MAX_RESULTS: z.coerce.number().int().min(1).max(10000).default(100),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type Config = z.infer<typeof schema>;

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
  return parsed.data;
}
