/**
 * Who may read the ports: 127.0.0.1 (also IPv4-mapped) and ::1 always, as the C gmetad
 * (a strcmp with "127.0.0.1"; its IPv4-only ports never see ::1), not the rest of 127/8;
 * everyone with `all_trusted on`; else the addresses of `trusted_hosts`. Names are resolved
 * (every address, IPv4 and IPv6) by refresh(), at start-up and on reload, so that the
 * per-connection check is a synchronous lookup.
 */
import * as dns from 'node:dns';
import * as net from 'node:net';
import type { StructuredLogger } from '../util/logging';

export interface AccessPolicy {
  /** `address` as reported by the socket (IPv4, IPv6, or IPv4-mapped IPv6). */
  isTrusted(address: string): boolean;
}

export interface RefreshableAccessPolicy extends AccessPolicy {
  /** Resolves the trusted_hosts names again; names that do not resolve are logged and skipped. */
  refresh(): Promise<void>;
}

export type LookupAll = (name: string) => Promise<readonly { address: string; family: number }[]>;

export interface AccessPolicyOptions {
  readonly trustedHosts: readonly string[];
  readonly allTrusted: boolean;
  readonly logger: StructuredLogger;
  /** For tests; defaults to dns.lookup with all addresses. */
  readonly lookup?: LookupAll;
}

const defaultLookup: LookupAll = (name) => dns.promises.lookup(name, { all: true, verbatim: true });

export function createAccessPolicy(options: AccessPolicyOptions): RefreshableAccessPolicy {
  const lookup = options.lookup ?? defaultLookup;
  const loopback = new net.BlockList();
  loopback.addAddress('127.0.0.1', 'ipv4');
  loopback.addAddress('::1', 'ipv6');
  let trusted = new net.BlockList();

  // Literal addresses count at once, before the first refresh().
  for (const entry of options.trustedHosts) {
    const literal = stripBrackets(entry);
    if (net.isIP(literal) !== 0) addAddress(trusted, literal, options.logger);
  }

  return {
    isTrusted(address: string): boolean {
      if (options.allTrusted) return true;
      const { addr, type } = normalize(address);
      if (type === null) return false;
      try {
        return loopback.check(addr, type) || trusted.check(addr, type);
      } catch {
        return false; // e.g. a scoped IPv6 address BlockList cannot parse
      }
    },

    async refresh(): Promise<void> {
      const next = new net.BlockList();
      await Promise.all(options.trustedHosts.map(async (entry) => {
        const literal = stripBrackets(entry);
        if (net.isIP(literal) !== 0) {
          addAddress(next, literal, options.logger);
          return;
        }
        try {
          for (const { address } of await lookup(entry)) {
            addAddress(next, address, options.logger);
          }
        } catch (err) {
          options.logger.warn({ entry, err }, `trusted_hosts: cannot resolve ${entry}: ${(err as Error).message}`);
        }
      }));
      trusted = next;
    },
  };
}

function addAddress(list: net.BlockList, address: string, logger: StructuredLogger): void {
  const { addr, type } = normalize(address);
  if (type === null) return;
  try {
    list.addAddress(addr, type);
  } catch (err) {
    logger.warn({ address, err }, `trusted_hosts: ignoring address ${address}: ${(err as Error).message}`);
  }
}

/** IPv4-mapped IPv6 (`::ffff:a.b.c.d`) is checked as the IPv4 address it carries. */
function normalize(address: string): { addr: string; type: 'ipv4' | 'ipv6' | null } {
  const bare = stripBrackets(address);
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(bare);
  if (mapped) return { addr: mapped[1], type: 'ipv4' };
  const family = net.isIP(bare);
  if (family === 4) return { addr: bare, type: 'ipv4' };
  if (family === 6) return { addr: bare, type: 'ipv6' };
  return { addr: bare, type: null };
}

function stripBrackets(s: string): string {
  return s.startsWith('[') && s.endsWith(']') ? s.slice(1, -1) : s;
}
