// Builds a running keystore from explicit settings: database, migrations, services, HTTP listeners, metrics.
import type { Logger } from 'pino';
import type { Config } from './config.js';
import type { KeyLimits } from './openpgp/index.js';
import { RateLimiter } from './http/rateLimit.js';
import { createApp } from './http/app.js';
import { cachedLookupListener } from './http/hkp/cachedLookup.js';
import { LookupCache } from './http/hkp/lookupCache.js';
import { createMetricsApp } from './http/metricsApp.js';
import { listen, type HttpListener } from './httpListener.js';
import { Metrics, type ClusterMetrics } from './metrics.js';
import { AccessService } from './services/accessService.js';
import { KeyService, type KeyOutcomeListener } from './services/keyService.js';
import { AuditRepository } from './store/auditRepository.js';
import { isDatabaseUnavailable, type DatabaseHandle } from './store/database.js';
import { KeyQueries } from './store/keyQueries.js';
import { KeyRepository } from './store/keyRepository.js';
import { StatsRepository } from './store/statsRepository.js';
import { TokenRepository } from './store/tokenRepository.js';
import { DirectoryService } from './services/directoryService.js';
import { LookupService } from './services/lookupService.js';
import { DirectoryQueries } from './store/directoryQueries.js';
import { openMigratedDatabase } from './store/migrate.js';

/** The key limits a configuration sets. */
export function keyLimits(config: Config): KeyLimits {
  return {
    maxKeyBytes: config.MAX_KEY_BYTES,
    maxPacketBytes: config.MAX_PACKET_BYTES,
    maxUserIdBytes: config.MAX_USER_ID_BYTES,
    maxUserIds: config.MAX_USER_IDS,
    maxSubkeys: config.MAX_SUBKEYS,
    maxSelfSignaturesPerComponent: config.MAX_SELF_SIGNATURES_PER_COMPONENT,
    maxCertificationsPerUserId: config.MAX_CERTIFICATIONS_PER_USER_ID,
    certificationPolicy: config.CERTIFICATION_POLICY,
  };
}

// Keys per page of the web listing.
const WEB_PAGE_SIZE = 25;

export interface RunningServer {
  url: string;
  port: number;
  /** Where GET /metrics is served: url, or the METRICS_PORT listener's. */
  metricsUrl: string;
  database: DatabaseHandle;
  /**
   * Graceful stop: no new connections (the listening sockets are closed before this returns its promise),
   * requests in flight finish (at most SHUTDOWN_TIMEOUT_MS), then the database is closed.
   */
  close(): Promise<void>;
}

export interface StartOptions {
  /** In a cluster worker (src/cluster.ts): /metrics reports the sum over all workers. */
  clusterMetrics?: ClusterMetrics | undefined;
}

export async function startServer(config: Config, logger: Logger, version: string, options: StartOptions = {}): Promise<RunningServer> {
  const database = await openMigratedDatabase({ url: config.DATABASE_URL, dataDir: config.DATA_DIR, poolSize: config.DB_POOL_SIZE });
  const metrics = new Metrics({ version, poolUse: database.poolStats, cluster: options.clusterMetrics });
  const onOutcome: KeyOutcomeListener = (outcome, reason) => metrics.countKey(outcome, reason);
  // Other instances' writes arrive by LISTEN; until it is listening (and whenever it is not) nothing is cached.
  const lookupCache = new LookupCache({
    maxBytes: config.LOOKUP_CACHE_BYTES, maxAgeMs: config.LOOKUP_CACHE_MAX_AGE_SECONDS * 1000, listening: !database.listenForKeyChanges,
  });
  const changeListener = config.LOOKUP_CACHE_BYTES > 0
    ? database.listenForKeyChanges?.({ change: (news) => lookupCache.invalidate(news), listening: (on) => lookupCache.setListening(on) })
    : undefined;
  const keys = new KeyService(new KeyRepository(database.db, database.writerId), new AuditRepository(database.db), {
    limits: keyLimits(config), onOutcome, onWritten: (change) => lookupCache.invalidate(change),
  });
  const access = { tokens: new AccessService(new TokenRepository(database.db)), pushPolicy: config.PUSH_POLICY, lookupPolicy: config.LOOKUP_POLICY, publicUrl: config.PUBLIC_URL };
  const lookups = new LookupService(new KeyQueries(database.db), new StatsRepository(database.db), { maxResults: config.MAX_RESULTS, version });
  const directory = new DirectoryService(new DirectoryQueries(database.db), new StatsRepository(database.db), {
    pageSize: WEB_PAGE_SIZE, version, started: new Date().toISOString(),
  });
  const separateMetrics = config.METRICS_PORT !== undefined;
  const rateLimiter = config.RATE_LIMIT === 'on'
    ? new RateLimiter({
      perMinute: { get: config.RATE_LIMIT_GET_PER_MINUTE, search: config.RATE_LIMIT_SEARCH_PER_MINUTE, add: config.RATE_LIMIT_ADD_PER_MINUTE },
      trustedProxies: new Set(config.TRUSTED_PROXIES),
    })
    : undefined;
  const app = createApp({
    keys, lookups, lookupCache, logger, version, maxBodyBytes: config.MAX_BODY_BYTES, isUnavailable: isDatabaseUnavailable,
    metrics, serveMetrics: !separateMetrics, access, rateLimiter,
    directory, web: { name: config.SITE_NAME, contact: config.SITE_CONTACT, version },
  });
  // With LOOKUP_POLICY=token every lookup needs its token checked: all go through the app.
  const handler = config.LOOKUP_POLICY === 'open' ? cachedLookupListener({ cache: lookupCache, logger, metrics, rateLimiter }, app.callback()) : app.callback();
  const listeners: HttpListener[] = [];
  const closeListeners = async () => {
    const cutOff = await Promise.all(listeners.map((l) => l.close(config.SHUTDOWN_TIMEOUT_MS)));
    const requests = cutOff.reduce((a, b) => a + b, 0);
    if (requests > 0) logger.warn({ requests, timeoutMs: config.SHUTDOWN_TIMEOUT_MS }, 'shutdown timeout: requests in flight were cut off');
  };
  try {
    listeners.push(await listen(handler, config.PORT, config.HOST));
    if (separateMetrics) listeners.push(await listen(createMetricsApp({ metrics, logger }).callback(), config.METRICS_PORT!, config.HOST));
  } catch (e) {
    await closeListeners();
    await changeListener?.close();
    await database.close();
    throw e;
  }
  const host = config.HOST === '0.0.0.0' || config.HOST === '::' ? '127.0.0.1' : config.HOST;
  const urlOf = (listener: HttpListener) => `http://${host}:${listener.port}`;
  const main = listeners[0]!;
  return {
    url: urlOf(main),
    port: main.port,
    metricsUrl: urlOf(listeners[1] ?? main),
    database,
    async close() {
      await closeListeners();
      await changeListener?.close();
      await database.close();
    },
  };
}
