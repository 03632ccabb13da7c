/**
 * Parsing of one interactive-port request line, with the C gmetad 3.7.2's rules
 * (gmetad/server.c process_request and processfilter):
 * - `GET <path> HTTP/1.0|1.1` (at least 12 chars) is HTTP mode; any other line starting
 *   with `GET ` but not ending that way is malformed; so are `get`, `POST`, ...;
 * - the path must start with `/`;
 * - `/status` (case-insensitive prefix) is a status request, checked before the
 *   character filter;
 * - any of >!@#$%`;|"\'< is malformed;
 * - `?x=summary` selects the summary filter (only the part after the first `=` counts),
 *   another value is logged and ignored, a `?` part without `=` is malformed.
 */

export type InteractiveRequest =
  | { readonly kind: 'status'; readonly callback: string | null; readonly http: boolean }
  | {
    readonly kind: 'query';
    readonly http: boolean;
    /** Path elements below the root; may contain "" (matches nothing) except at the end. */
    readonly path: readonly string[];
    readonly filter: 'summary' | null;
    /** The `?...` part when its value is not `summary` (the caller logs it). */
    readonly unknownFilter: string | null;
  }
  | { readonly kind: 'malformed'; readonly reason: string };

const ILLEGAL_CHARS = /[>!@#$%`;|"\\'<]/;
const HTTP_SUFFIXES = [' HTTP/1.0', ' HTTP/1.1'];
/** JSONP callbacks are echoed into the reply: accept JavaScript identifiers/paths only. */
const SAFE_CALLBACK = /^[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*$/;

export function parseInteractiveRequest(line: string): InteractiveRequest {
  if (line.length === 0) return malformed('empty request');
  let path = line;
  let http = false;
  if (line.length >= 12 && line.startsWith('GET ')) {
    if (!HTTP_SUFFIXES.some((s) => line.endsWith(s))) return malformed('GET without HTTP/1.0 or HTTP/1.1');
    path = line.slice(4, line.length - 9);
    http = true;
  }
  if (!path.startsWith('/')) return malformed('path does not start with /');

  if (path.slice(0, 7).toLowerCase() === '/status') return statusRequest(path, http);

  if (ILLEGAL_CHARS.test(path)) return malformed('illegal character in path');

  let filter: 'summary' | null = null;
  let unknownFilter: string | null = null;
  const question = path.indexOf('?');
  if (question >= 0) {
    const query = path.slice(question + 1);
    path = path.slice(0, question);
    const equals = query.indexOf('=');
    if (equals < 0) return malformed('filter without =');
    if (query.slice(equals + 1) === 'summary') filter = 'summary';
    else unknownFilter = query;
  }
  return { kind: 'query', http, path: splitPath(path), filter, unknownFilter };
}

/**
 * `/a/b` → ["a", "b"]. A trailing `/` ends the path; an empty element elsewhere (`//a`)
 * stays and, like in the C gmetad, matches nothing.
 */
export function splitPath(path: string): string[] {
  const parts = path.split('/').slice(1);
  if (parts.length > 0 && parts[parts.length - 1] === '') parts.pop();
  return parts;
}

function statusRequest(path: string, http: boolean): InteractiveRequest {
  // As in 3.7.2: the callback runs from after `?callback=` to the next `&`.
  const marker = path.indexOf('?callback=');
  let callback: string | null = null;
  if (marker >= 0) {
    const value = path.slice(marker + 10).split('&').find((part) => part.length > 0);
    if (value !== undefined) {
      if (!SAFE_CALLBACK.test(value)) return malformed('JSONP callback is not an identifier');
      callback = value;
    }
  }
  return { kind: 'status', callback, http };
}

function malformed(reason: string): InteractiveRequest {
  return { kind: 'malformed', reason };
}
