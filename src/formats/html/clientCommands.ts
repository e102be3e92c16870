// The commands people copy to use this server, written for its external address (PUBLIC_URL or the request's
// host). Pure module: no I/O.

export interface ServerAddress {
  /** e.g. https://keys.example.org or http://host:11371 */
  baseUrl: string;
  /** host[:port] as Singularity's remote add takes it. */
  hostPort: string;
  secure: boolean;
  /** The keyserver URL for gpg and sq: hkps://host, hkp://host (port 11371) or hkp://host:port. */
  hkpUrl: string;
}

export function serverAddress(baseUrl: string): ServerAddress {
  let url: URL | null = null;
  try {
    url = new URL(baseUrl);
  } catch {
    url = null;
  }
  if (url === null || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    // Not a URL (the placeholder of a page rendered without a request): shown as it is.
    const host = baseUrl.replace(/^https?:\/\//, '');
    return { baseUrl, hostPort: host, secure: baseUrl.startsWith('https:'), hkpUrl: `hkp://${host}` };
  }
  const secure = url.protocol === 'https:';
  const hostPort = url.host;
  // hkp:// means port 11371 and hkps:// port 443: any other port is written out.
  const port = url.port;
  const hkpUrl = secure ? `hkps://${hostPort}` : port === '11371' ? `hkp://${url.hostname}` : `hkp://${url.hostname}:${port === '' ? '80' : port}`;
  return { baseUrl: baseUrl.replace(/\/+$/, ''), hostPort, secure, hkpUrl };
}

/** Commands that set this server up as a keyserver, per client. */
export function setupCommands(address: ServerAddress): {
  singularity: string[];
  apptainer: string[];
  gpg: string[];
  dirmngr: string[];
  sq: string[];
  curl: string[];
} {
  const { baseUrl, hostPort, secure, hkpUrl } = address;
  const containers = (tool: string) => [
    `${tool} keyserver add --order 1 keystore ${baseUrl}`,
    `${tool} remote add${secure ? '' : ' --insecure'} --no-login keystore ${hostPort}`,
    `${tool} key search -l alice@example.org`,
    `${tool} key pull FINGERPRINT`,
    `${tool} key push FINGERPRINT`,
    `${tool} verify --url ${baseUrl} image.sif`,
  ];
  const sqInsecure = secure ? '' : ' -p insecure';
  return {
    singularity: containers('singularity'),
    apptainer: containers('apptainer'),
    dirmngr: [`keyserver ${hkpUrl}`],
    gpg: [
      `gpg --keyserver ${hkpUrl} --search-keys alice@example.org`,
      `gpg --keyserver ${hkpUrl} --recv-keys FINGERPRINT`,
      `gpg --keyserver ${hkpUrl} --send-keys FINGERPRINT`,
    ],
    sq: [`sq keyserver${sqInsecure} -s ${hkpUrl} get alice@example.org`, `sq keyserver${sqInsecure} -s ${hkpUrl} send mykey.pgp`],
    curl: [
      `curl '${baseUrl}/pks/lookup?op=index&options=mr&search=alice@example.org'`,
      `curl -o key.asc '${baseUrl}/pks/lookup?op=get&options=mr&search=0xFINGERPRINT'`,
      `curl --data-urlencode keytext@mykey.asc ${baseUrl}/pks/add`,
    ],
  };
}

/** Commands that fetch one key. */
export function fetchCommands(address: ServerAddress, fingerprint: string): string[] {
  const { baseUrl, hkpUrl } = address;
  return [
    `singularity key pull --url ${baseUrl} ${fingerprint}`,
    `apptainer key pull --url ${baseUrl} ${fingerprint}`,
    `gpg --keyserver ${hkpUrl} --recv-keys ${fingerprint}`,
    `curl -o ${fingerprint}.asc ${baseUrl}/keys/${fingerprint}.asc`,
  ];
}
