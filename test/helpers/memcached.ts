/**
 * A real memcached (Debian package) on a free loopback port, stopped by pid; and reads
 * through its text protocol (meta get: value and remaining TTL) and through libmemcached's
 * own `memccat` (libmemcached-tools), which picks the server for a key as libmemcached does.
 */
import { execFile } from 'node:child_process';
import * as net from 'node:net';
import { promisify } from 'node:util';
import { freePort } from './net';
import { waitForPort, type ProcessRegistry } from './processes';

const run = promisify(execFile);

export const MEMCACHED_BINARY = '/usr/bin/memcached';
export const MEMCCAT_BINARY = '/usr/bin/memccat';

export interface MemcachedItem {
  readonly value: string;
  /** Seconds left before it expires; -1 for never. */
  readonly ttl: number;
}

export interface MemcachedHandle {
  readonly port: number;
  readonly pid: number;
  /** The item under `key` (exactly as stored, latin1), or null. */
  get(key: string): Promise<MemcachedItem | null>;
}

/** One request/response exchange on a fresh connection; resolves with the reply once `done` says so. */
function exchange(port: number, request: string, done: (reply: string) => boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    let reply = '';
    const socket = net.connect({ host: '127.0.0.1', port }, () => socket.write(request, 'latin1'));
    const timer = setTimeout(() => { socket.destroy(); reject(new Error(`memcached ${port}: no reply to ${JSON.stringify(request)}`)); }, 5000);
    socket.on('data', (chunk) => {
      reply += chunk.toString('latin1');
      if (done(reply)) {
        clearTimeout(timer);
        socket.destroy();
        resolve(reply);
      }
    });
    socket.on('error', (err) => { clearTimeout(timer); reject(err); });
  });
}

export async function startMemcached(registry: ProcessRegistry): Promise<MemcachedHandle> {
  const port = await freePort();
  // -U 0: no UDP; -u root: memcached refuses to run as root without it (tests may run as root).
  const child = await registry.spawn('memcached', MEMCACHED_BINARY, ['-l', '127.0.0.1', '-p', String(port), '-U', '0', '-u', 'root', '-m', '64']);
  await waitForPort(port, '127.0.0.1', 10_000, child);
  return {
    port,
    pid: child.pid,
    async get(key) {
      const reply = await exchange(port, `mg ${key} v t\r\n`, (r) => r.startsWith('EN\r\n') || /^VA \d+[^\r]*\r\n[\s\S]*\r\n$/.test(r));
      if (reply.startsWith('EN')) return null;
      const m = /^VA (\d+) t(-?\d+)\r\n([\s\S]*)\r\n$/.exec(reply);
      if (!m) throw new Error(`unexpected meta get reply: ${JSON.stringify(reply)}`);
      return { value: m[3].slice(0, Number(m[1])), ttl: Number(m[2]) };
    },
  };
}

/** What libmemcached's memccat prints for `key` with these servers ("host:port,..."), or null if not found. */
export async function memccat(servers: string, key: string): Promise<string | null> {
  try {
    const { stdout } = await run(MEMCCAT_BINARY, [`--servers=${servers}`, key]);
    return stdout.replace(/\n$/, '');
  } catch {
    return null;
  }
}
