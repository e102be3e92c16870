import { writeFileSync } from 'node:fs';
import { TestCa } from '/work/wt/https/test/helpers/tls.js';
import { startTestServer } from '/work/wt/https/test/helpers/server.js';
const ca = await TestCa.create();
const c = await ca.issue('srv');
const s = await startTestServer('pglite', { TLS_CERT_FILE: c.certFile, TLS_KEY_FILE: c.keyFile, HTTPS_PORT: '0' });
writeFileSync('/tmp/h2p/info.json', JSON.stringify({ ca: ca.caFile, port: s.httpsPort, http: s.port }));
setTimeout(async () => { await s.close(); await ca.remove(); process.exit(0); }, Number(process.env.LIVE ?? 90000));
