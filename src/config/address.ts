/**
 * `host[:port]` parsing for data_source (and rrdcached_address). Accepts host names,
 * IPv4 addresses, `[IPv6]` and `[IPv6]:port`, and a bare IPv6 address (which cannot
 * carry a port, since its colons would be ambiguous). The C gmetad only knew IPv4 and
 * silently turned a bad port into 0; here a bad port is reported.
 */
import { isIP } from 'node:net';
import type { SourceAddress } from './types';

export type AddressResult =
  | { readonly ok: true; readonly address: SourceAddress }
  | { readonly ok: false; readonly reason: string };

/** RFC 1123 host name: dot-separated labels of letters, digits, `-` and `_` (seen in the wild). */
const HOST_NAME = /^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\.?$/;

export function isValidHostName(text: string): boolean {
  // All-numeric names that are not IPv4 (e.g. 999.1.1.1) would never resolve.
  return HOST_NAME.test(text) && !/^[\d.]+$/.test(text);
}

export function parsePort(text: string): number | null {
  if (!/^\d{1,5}$/.test(text)) return null;
  const port = Number(text);
  return port >= 1 && port <= 65535 ? port : null;
}

/**
 * @param defaultPort used when the text has no port; null means a port is required.
 */
export function parseAddress(text: string, defaultPort: number | null): AddressResult {
  if (text === '') return { ok: false, reason: 'empty address' };

  let host: string;
  let portText: string | null;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0) return { ok: false, reason: `invalid address "${text}": missing "]"` };
    host = text.slice(1, close);
    const rest = text.slice(close + 1);
    if (rest === '') portText = null;
    else if (rest.startsWith(':')) portText = rest.slice(1);
    else return { ok: false, reason: `invalid address "${text}": unexpected text after "]"` };
    if (isIP(host) !== 6) return { ok: false, reason: `invalid IPv6 address "${host}"` };
  } else if (text.indexOf(':') !== text.lastIndexOf(':')) {
    // Two or more colons: only a bare IPv6 address makes sense.
    if (isIP(text) !== 6) {
      return { ok: false, reason: `invalid address "${text}" (write IPv6 with a port as [address]:port)` };
    }
    host = text;
    portText = null;
  } else {
    const colon = text.indexOf(':');
    host = colon < 0 ? text : text.slice(0, colon);
    portText = colon < 0 ? null : text.slice(colon + 1);
    if (isIP(host) !== 4 && !isValidHostName(host)) {
      return { ok: false, reason: `invalid host name "${host}"` };
    }
  }

  if (portText === null) {
    if (defaultPort === null) return { ok: false, reason: `missing port in "${text}" (expected host:port)` };
    return { ok: true, address: { host, port: defaultPort } };
  }
  const port = parsePort(portText);
  if (port === null) return { ok: false, reason: `invalid port "${portText}"` };
  return { ok: true, address: { host, port } };
}

/** Inverse of parseAddress: brackets IPv6 so the port stays unambiguous. */
export function formatAddress(address: SourceAddress): string {
  const host = isIP(address.host) === 6 ? `[${address.host}]` : address.host;
  return `${host}:${address.port}`;
}
