/**
 * `memcached_parameters`: the libmemcached configuration string the C gmetad hands to
 * memcached_pool() (libmemcached's "libmemcached configuration" language), e.g.
 *
 *   memcached_parameters "--SERVER=10.0.0.1:11211 --SERVER=10.0.0.2 --POOL-MIN=4 --NAMESPACE=ganglia:"
 *
 * What reaches the memcached servers is kept: the servers (`--SERVER=host[:port][/?weight]`,
 * `[v6]:port`, `--SOCKET="/path"`), the key prefix (`--NAMESPACE=`, `--PREFIX-KEY=`), the
 * connect timeout (`--CONNECT-TIMEOUT=ms`), and libmemcached's default choice of server for
 * a key (one-at-a-time hash, modulo the number of servers), so readers using libmemcached
 * with the same string find the keys. Options that only tune libmemcached's own pooling,
 * buffering and timeouts are accepted and have nothing to do here. Options that would send
 * keys elsewhere than that (another hash or distribution, UDP, replicas) are refused with a
 * clear error instead of being silently ignored.
 */

export interface MemcachedServer {
  readonly host: string;
  readonly port: number;
  /** A unix socket path (`--SOCKET`), instead of host:port. */
  readonly path?: string;
}

export interface MemcachedParameters {
  readonly servers: readonly MemcachedServer[];
  /** Prepended to every key (libmemcached's namespace). */
  readonly namespace: string;
  readonly connectTimeoutMs: number;
}

export const MEMCACHED_DEFAULT_PORT = 11211;
/** libmemcached's MEMCACHED_DEFAULT_CONNECT_TIMEOUT. */
const DEFAULT_CONNECT_TIMEOUT_MS = 4000;

/** Options that tune only the client library; accepted, with nothing to do here. */
const CLIENT_ONLY = new Set([
  'BINARY-PROTOCOL', 'BUFFER-REQUESTS', 'NOREPLY', 'TCP-NODELAY', 'TCP-KEEPALIVE', 'TCP-KEEPIDLE', 'POOL-MIN', 'POOL-MAX',
  'POLL-TIMEOUT', 'RCV-TIMEOUT', 'SND-TIMEOUT', 'RETRY-TIMEOUT', 'SERVER-FAILURE-LIMIT', 'SOCKET-RECV-SIZE',
  'SOCKET-SEND-SIZE', 'SUPPORT-CAS', 'VERIFY-KEY', 'IO-BYTES-WATERMARK', 'IO-KEY-PREFETCH', 'IO-MSG-WATERMARK',
  'REMOVE-FAILED-SERVERS', 'SORT-HOSTS', 'CACHE-LOOKUPS', 'USER-DATA', 'END',
]);

/** Options that change which server gets a key, or how it is sent: refused. */
const UNSUPPORTED = new Set([
  'DISTRIBUTION', 'HASH', 'KETAMA-HASH', 'KETAMA-WEIGHTED', 'USE-UDP', 'NUMBER-OF-REPLICAS', 'RANDOMIZE-REPLICA-READ',
  'HASH-WITH-NAMESPACE', 'HASH-WITH-PREFIX-KEY', 'AUTO-EJECT-HOSTS', 'CONFIGURE-FILE', 'INCLUDE', 'RESET', 'ERROR', 'SASL',
]);

/** Splits on whitespace, honouring double quotes (`--SOCKET="/tmp/a b"`). */
function tokens(text: string): string[] {
  const out: string[] = [];
  const re = /(?:[^\s"]+|"[^"]*")+/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) out.push(m[0].replace(/"/g, ''));
  return out;
}

function parseServer(spec: string): MemcachedServer {
  // Drop a weight (/?10 or :11211:10); weights only matter to consistent distributions.
  const withoutWeight = spec.replace(/\/\?\d+$/, '');
  const v6 = /^\[([0-9a-fA-F:.]+)\](?::(\d+))?$/.exec(withoutWeight);
  const plain = /^([^:\s[\]]+)(?::(\d+))?(?::\d+)?$/.exec(withoutWeight);
  const m = v6 ?? plain;
  if (!m) throw new Error(`--SERVER=${spec}: expected host[:port]`);
  const port = m[2] === undefined ? MEMCACHED_DEFAULT_PORT : Number(m[2]);
  if (!(port >= 1 && port <= 65535)) throw new Error(`--SERVER=${spec}: port out of range`);
  return { host: m[1], port };
}

/** Throws an Error whose message names the offending option. */
export function parseMemcachedParameters(text: string): MemcachedParameters {
  const servers: MemcachedServer[] = [];
  let namespace = '';
  let connectTimeoutMs = DEFAULT_CONNECT_TIMEOUT_MS;
  for (const token of tokens(text)) {
    const m = /^--([A-Za-z_-]+)(?:=(.*))?$/.exec(token);
    if (!m) throw new Error(`"${token}": expected --OPTION or --OPTION=value`);
    const name = m[1].toUpperCase().replace(/_/g, '-');
    const value = m[2];
    const need = (): string => {
      if (value === undefined || value === '') throw new Error(`--${name}: needs a value`);
      return value;
    };
    if (name === 'SERVER') servers.push(parseServer(need()));
    else if (name === 'SOCKET') servers.push({ host: 'localhost', port: 0, path: need() });
    else if (name === 'NAMESPACE' || name === 'PREFIX-KEY') namespace = need();
    else if (name === 'CONNECT-TIMEOUT') {
      const ms = Number(need());
      if (!Number.isInteger(ms) || ms < 0) throw new Error(`--CONNECT-TIMEOUT=${value}: expected milliseconds`);
      connectTimeoutMs = ms === 0 ? DEFAULT_CONNECT_TIMEOUT_MS : ms;
    } else if (CLIENT_ONLY.has(name)) continue;
    else if (UNSUPPORTED.has(name)) throw new Error(`--${name}: not supported by gmetad-ts (keys go to servers by libmemcached's default: one-at-a-time hash modulo the server count)`);
    else throw new Error(`--${name}: unknown libmemcached option`);
  }
  if (servers.length === 0) throw new Error('no --SERVER or --SOCKET given');
  return { servers, namespace, connectTimeoutMs };
}

/** libhashkit's one-at-a-time hash (libmemcached's default), over the key's bytes as signed chars. */
export function oneAtATime(key: Buffer): number {
  let value = 0;
  for (let i = 0; i < key.length; i++) {
    // (uint32_t) of a signed char: bytes >= 0x80 sign-extend.
    value = (value + (key[i] >= 0x80 ? key[i] - 0x100 : key[i])) >>> 0;
    value = (value + (value << 10)) >>> 0;
    value = (value ^ (value >>> 6)) >>> 0;
  }
  value = (value + (value << 3)) >>> 0;
  value = (value ^ (value >>> 11)) >>> 0;
  value = (value + (value << 15)) >>> 0;
  return value;
}

/** The index of the server libmemcached (default distribution) picks for `key` (without namespace). */
export function serverIndexFor(key: Buffer, serverCount: number): number {
  return serverCount <= 1 ? 0 : oneAtATime(key) % serverCount;
}
