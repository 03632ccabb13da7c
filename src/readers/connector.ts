/**
 * How a reader opens a connection to one data_source address. Injectable so tests (and
 * future transports) can replace plain TCP without touching the poll loop.
 */
import * as net from 'node:net';
import type { Duplex } from 'node:stream';
import type { SourceAddress } from '../config/types';

export interface Connector {
  /**
   * Resolves with a connected stream, or rejects with ConnectError (a reason fit for the
   * log) when the address cannot be reached within `timeoutMs`. If `signal` aborts first,
   * rejects with `signal.reason` and leaves no socket behind.
   */
  connect(address: SourceAddress, timeoutMs: number, signal: AbortSignal): Promise<Duplex>;
}

/** A failed connection attempt; `message` is a short human reason ("connection refused"). */
export class ConnectError extends Error {
  readonly code = 'GMETAD_CONNECT';
  constructor(reason: string, readonly errno?: string) {
    super(reason);
    this.name = 'ConnectError';
  }
}

/** `host:port` as in gmetad.conf (one formatter with the config's one parser). */
export { formatAddress } from '../config/address';

const REASONS: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset by peer',
  ECONNABORTED: 'connection aborted',
  EPIPE: 'broken pipe',
  ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  EADDRNOTAVAIL: 'address not available',
  ENOTFOUND: 'host name not found',
  EAI_AGAIN: 'temporary failure in name resolution',
};

/** A short reason for a socket-level error, keeping the errno code visible when unknown. */
export function describeNetError(err: unknown): string {
  const e = firstCause(err) as NodeJS.ErrnoException;
  const code = typeof e?.code === 'string' ? e.code : undefined;
  if (code && REASONS[code]) return REASONS[code];
  const message = e instanceof Error ? e.message : String(err);
  return code && !message.includes(code) ? `${message} (${code})` : message;
}

/** With autoSelectFamily, a name with several addresses fails as an AggregateError. */
function firstCause(err: unknown): unknown {
  if (err instanceof AggregateError && err.errors.length > 0) return err.errors[0];
  return err;
}

/**
 * Plain TCP. Accepts IPv4 and IPv6 literals and host names (resolved at every connect, so
 * DNS changes are picked up; Node tries every address of a name, IPv6 and IPv4 alike).
 */
export class TcpConnector implements Connector {
  connect(address: SourceAddress, timeoutMs: number, signal: AbortSignal): Promise<Duplex> {
    return new Promise<Duplex>((resolve, reject) => {
      if (signal.aborted) {
        reject(signal.reason);
        return;
      }
      const socket = net.connect({ host: address.host, port: address.port });
      const settle = (error: unknown | null): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        socket.removeListener('connect', onConnect);
        socket.removeListener('error', onError);
        if (error === null) {
          resolve(socket);
        } else {
          socket.destroy();
          reject(error);
        }
      };
      const onConnect = (): void => settle(null);
      const onError = (err: Error): void => {
        settle(new ConnectError(describeNetError(err), (err as NodeJS.ErrnoException).code));
      };
      const onAbort = (): void => settle(signal.reason);
      const timer = setTimeout(
        () => settle(new ConnectError(`no connection within ${timeoutMs} ms`, 'ETIMEDOUT')),
        timeoutMs,
      );
      socket.once('connect', onConnect);
      socket.once('error', onError);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }
}
