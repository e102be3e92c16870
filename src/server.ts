// Builds a running keystore from explicit settings: database, migrations, services, HTTP listeners, metrics.
import type { Logger } from 'pino';
import { servesHttps, type Config } from './config.js';
import { RateLimiter } from './http/rateLimit.js';
import { createApp } from './http/app.js';
import { keyLimits } from './keyLimits.js';
import { cachedLookupListener } from './http/hkp/cachedLookup.js';
import { LookupCache } from './http/hkp/lookupCache.js';
import { createMetricsApp } from './http/metricsApp.js';
import { listen, listenSecure, type HttpListener, type SecureHttpListener } from './httpListener.js';
import { Metrics, type ClusterMetrics } from './metrics.js';
import { AccessService } from './services/accessService.js';
import { ProviderTokens } from './services/providerTokens.js';
import { KeyService, type KeyOutcomeListener } from './services/keyService.js';
import { AuditRepository } from './store/auditRepository.js';
import { isDatabaseUnavailable, type DatabaseHandle } from './store/database.js';
import { KeyQueries } from './store/keyQueries.js';
import { KeyRepository } from './store/keyRepository.js';
import { StatsRepository } from './store/statsRepository.js';
import { TokenRepository } from './store/tokenRepository.js';
import { DirectoryService } from './services/directoryService.js';
import { LookupService } from './services/lookupService.js';
import { CertService } from './services/certService.js';
import { VksService } from './services/vksService.js';
import { AddressQueries } from './store/addressQueries.js';
import { DirectoryQueries } from './store/directoryQueries.js';
import { openMigratedDatabase } from './store/migrate.js';
import { loadCertificatePair, type CertificatePair } from './tls/certificates.js';
import { CertificateReloader, type ReloadOutcome } from './tls/certificateReloader.js';

// Longest a start waits for the change listener's first connection (docs/operations.md "Lookup cache").
const LISTEN_WAIT_MS = 5_000;

/** The check of the site's identity provider's tokens, when TOKEN_JWKS_URL (with issuer and audience) is set. */
function identityProvider(config: Config): ProviderTokens | null {
  if (!config.TOKEN_JWKS_URL || !config.TOKEN_ISSUER || !config.TOKEN_AUDIENCE) return null;
  return new ProviderTokens({
    jwksUrl: config.TOKEN_JWKS_URL,
    issuer: config.TOKEN_ISSUER,
    audience: config.TOKEN_AUDIENCE,
    identityClaim: config.TOKEN_IDENTITY_CLAIM,
  });
}

// Keys per page of the web listing.
const WEB_PAGE_SIZE = 25;

export interface RunningServer {
  /** The plain HTTP listener's URL and port; the HTTPS one's with PORT=off. */
  url: string;
  port: number;
  /** The HTTPS listener's (TLS_CERT_FILE and TLS_KEY_FILE set). */
  httpsUrl: string | undefined;
  httpsPort: number | undefined;
  /** Where GET /metrics is served: url, or the METRICS_PORT listener's. */
  metricsUrl: string;
  database: DatabaseHandle;
  /** Replaces the TLS session-ticket keys (a cluster's rotation); nothing without HTTPS. */
  setTicketKeys(keys: Buffer): void;
  /** Reads TLS_CERT_FILE and TLS_KEY_FILE again (SIGHUP); 'unchanged' also without HTTPS. */
  reloadCertificates(reason: string): Promise<ReloadOutcome>;
  /**
   * Graceful stop: no new connections (the listening sockets are closed before this returns its promise),
   * requests in flight finish (at most SHUTDOWN_TIMEOUT_MS), then the database is closed.
   */
  close(): Promise<void>;
}

export interface StartOptions {
  /** In a cluster worker (src/cluster.ts): /metrics reports the sum over all workers. */
  clusterMetrics?: ClusterMetrics | undefined;
  /** TLS session-ticket keys (48 bytes) shared by a cluster's workers; else node's own random ones. */
  tlsTicketKeys?: Buffer | undefined;
}

export async function startServer(config: Config, logger: Logger, version: string, options: StartOptions = {}): Promise<RunningServer> {
  // Bad certificate files stop the start before anything is opened (a ConfigError naming the variable).
  const files = servesHttps(config) ? { certFile: config.TLS_CERT_FILE, keyFile: config.TLS_KEY_FILE } : undefined;
  const certificate: CertificatePair | undefined = files ? await loadCertificatePair(files) : undefined;
  for (const warning of certificate?.warnings ?? []) logger.warn({ certFile: files!.certFile }, warning);
  const database = await openMigratedDatabase({
    url: config.DATABASE_URL,
    dataDir: config.DATA_DIR,
    poolSize: config.DB_POOL_SIZE,
    command: 'serve',
    readUrls: config.DATABASE_READ_URL,
  });
  const metrics = new Metrics({
    version,
    poolUse: database.poolStats,
    readReplicas: database.readReplicas,
    cluster: options.clusterMetrics,
    lookupCacheUse: () => lookupCache.use(),
  });
  const onOutcome: KeyOutcomeListener = (outcome, reason) => metrics.countKey(outcome, reason);
  // Other instances' writes arrive by LISTEN; until it is listening (and whenever it is not) nothing is cached.
  const lookupCache = new LookupCache({
    maxBytes: config.LOOKUP_CACHE_BYTES,
    maxAgeMs: config.LOOKUP_CACHE_MAX_AGE_SECONDS * 1000,
    listening: !database.listenForKeyChanges,
  });
  let heardFirst = () => {};
  const firstListening = new Promise<void>((resolve) => (heardFirst = resolve));
  // Reads from standbys also need other instances' changes, to wait for their replay (docs/replicas.md).
  const changeListener =
    config.LOOKUP_CACHE_BYTES > 0 || database.readReplicas
      ? database.listenForKeyChanges?.({
          change: (news) => lookupCache.invalidate(news),
          listening: (on) => {
            lookupCache.setListening(on);
            if (on) heardFirst();
          },
        })
      : undefined;
  // Until the listener is connected nothing is cached; a start that waits for it (bounded) serves cached answers from
  // the first request instead of a few seconds later on a loaded machine.
  if (changeListener) await Promise.race([firstListening, new Promise((resolve) => setTimeout(resolve, LISTEN_WAIT_MS).unref())]);
  const keys = new KeyService(new KeyRepository(database.db, database.writerId), new AuditRepository(database.db), {
    limits: keyLimits(config),
    onOutcome,
    // Reads wait for standbys to replay the write before the cache drops what it made stale.
    onWritten: (change) => {
      database.wrote?.();
      lookupCache.invalidate(change);
    },
  });
  const access = {
    tokens: new AccessService(new TokenRepository(database.db), identityProvider(config)),
    pushPolicy: config.PUSH_POLICY,
    lookupPolicy: config.LOOKUP_POLICY,
    publicUrl: config.PUBLIC_URL,
    tokensHelp: { helpText: config.TOKENS_HELP_TEXT, helpUrl: config.TOKENS_HELP_URL, providerIssuer: config.TOKEN_ISSUER },
  };
  const keyQueries = new KeyQueries(database.db, database.reads);
  const lookups = new LookupService(keyQueries, new StatsRepository(database.db), { maxResults: config.MAX_RESULTS, version });
  const certs = new CertService(keyQueries, new AddressQueries(database.db), { maxResults: config.MAX_RESULTS, pushPolicy: config.PUSH_POLICY });
  const vks = new VksService(keys, keyQueries, certs, config.PUSH_POLICY);
  const directory = new DirectoryService(new DirectoryQueries(database.db), new StatsRepository(database.db), {
    pageSize: WEB_PAGE_SIZE,
    version,
    started: new Date().toISOString(),
  });
  const separateMetrics = config.METRICS_PORT !== undefined;
  const rateLimiter =
    config.RATE_LIMIT === 'on'
      ? new RateLimiter({
          perMinute: { get: config.RATE_LIMIT_GET_PER_MINUTE, search: config.RATE_LIMIT_SEARCH_PER_MINUTE, add: config.RATE_LIMIT_ADD_PER_MINUTE },
          trustedProxies: new Set(config.TRUSTED_PROXIES),
        })
      : undefined;
  const app = createApp({
    keys,
    lookups,
    certs,
    vks,
    wkdDomains: new Set(config.WKD_DOMAINS),
    lookupCache,
    logger,
    version,
    maxBodyBytes: config.MAX_BODY_BYTES,
    isUnavailable: isDatabaseUnavailable,
    metrics,
    serveMetrics: !separateMetrics,
    access,
    rateLimiter,
    directory,
    web: { name: config.SITE_NAME, contact: config.SITE_CONTACT, version },
  });
  // With LOOKUP_POLICY=token every lookup needs its token checked: all go through the app.
  const handler =
    config.LOOKUP_POLICY === 'open' ? cachedLookupListener({ cache: lookupCache, logger, metrics, rateLimiter }, app.callback()) : app.callback();
  const listeners: HttpListener[] = [];
  let plain: HttpListener | undefined;
  let secure: SecureHttpListener | undefined;
  let reloader: CertificateReloader | undefined;
  const closeListeners = async () => {
    reloader?.close();
    const cutOff = await Promise.all(listeners.map((l) => l.close(config.SHUTDOWN_TIMEOUT_MS)));
    const requests = cutOff.reduce((a, b) => a + b, 0);
    if (requests > 0) logger.warn({ requests, timeoutMs: config.SHUTDOWN_TIMEOUT_MS }, 'shutdown timeout: requests in flight were cut off');
  };
  try {
    // The command line's way in to an embedded database (its writes then reach the lookup cache as above).
    await database.shareWithCommands?.();
    if (config.PORT !== 'off') listeners.push((plain = await listen(handler, config.PORT, config.HOST)));
    if (certificate) {
      listeners.push(
        (secure = await listenSecure(handler, config.HTTPS_PORT, config.HOST, {
          cert: certificate.cert,
          key: certificate.key,
          handshakeTimeoutMs: config.TLS_HANDSHAKE_TIMEOUT_MS,
          hstsMaxAgeSeconds: config.HSTS_MAX_AGE_SECONDS,
          ticketKeys: options.tlsTicketKeys,
        })),
      );
      const https = secure;
      reloader = new CertificateReloader({ files: files!, current: certificate, logger, apply: (pair) => https.setCertificate(pair.cert, pair.key) });
      reloader.watch();
    }
    if (separateMetrics) listeners.push(await listen(createMetricsApp({ metrics, logger }).callback(), config.METRICS_PORT!, config.HOST));
  } catch (e) {
    await closeListeners();
    await changeListener?.close();
    await database.close();
    throw e;
  }
  const host = config.HOST === '0.0.0.0' || config.HOST === '::' ? '127.0.0.1' : config.HOST;
  const urlOf = (listener: HttpListener) => `${listener === secure ? 'https' : 'http'}://${host}:${listener.port}`;
  const main = (plain ?? secure)!;
  const metricsListener = separateMetrics ? listeners[listeners.length - 1]! : main;
  return {
    url: urlOf(main),
    port: main.port,
    httpsUrl: secure ? urlOf(secure) : undefined,
    httpsPort: secure?.port,
    metricsUrl: urlOf(metricsListener),
    database,
    setTicketKeys: (keys) => secure?.setTicketKeys(keys),
    reloadCertificates: (reason) => reloader?.reload(reason) ?? Promise.resolve('unchanged'),
    async close() {
      await closeListeners();
      await changeListener?.close();
      await database.close();
    },
  };
}
