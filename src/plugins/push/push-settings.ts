/**
 * The settings every push exporter takes in its section, besides its own:
 *
 *   url "http://host:port/path"     where to POST (credentials in it become basic auth)
 *   username "u"  password "p"      basic auth
 *   bearer_token "t"                `Authorization: Bearer t` (or bearer_token_file "/path")
 *   header "X-Scope-OrgID" "team1"  an extra request header (repeatable)
 *   timeout 10s                     per request
 *   batch_size N                    most values per request
 *   max_queued_values N             bound of the exporter's queue; beyond it values are dropped (counted)
 *   flush_timeout 10s               at SIGTERM, how long to keep retrying before dropping what is left
 *
 * Checked once, at load (and SIGHUP): a bad value stops start-up with one line naming file and line.
 */
import * as fs from 'node:fs';
import type { PluginSettings } from '../api';

export interface PushSettings {
  /** Without credentials (fetch refuses URLs that carry them). */
  readonly url: URL;
  /** Request headers from the section (auth included). */
  readonly headers: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
  readonly batchSize: number;
  readonly maxQueuedValues: number;
  readonly flushTimeoutMs: number;
}

export interface PushDefaults {
  readonly batchSize: number;
  readonly maxQueuedValues: number;
  readonly timeoutMs?: number;
  readonly flushTimeoutMs?: number;
}

export function basicAuthorization(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}`;
}

/** An http(s) URL; `key` names the directive for the error (or the section when it is absent). */
export function parseHttpUrl(settings: PluginSettings, key: string, text: string | undefined, example: string): URL {
  if (text === undefined || text === '') throw settings.error(null, `"${key}" is required (for example "${example}")`);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw settings.error(key, `not a URL: "${text}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw settings.error(key, `expected an http:// or https:// URL, got "${text}"`);
  return url;
}

/** Every occurrence of a repeatable directive, each with its values. */
export function occurrences(settings: PluginSettings, key: string): readonly (readonly string[])[] {
  return settings.get(key.toLowerCase()) ?? [];
}

/** Reads the common settings; `url` is already parsed (each exporter has its own defaults and paths). */
export function readPushSettings(settings: PluginSettings, url: URL, defaults: PushDefaults): PushSettings {
  const headers: Record<string, string> = {};
  for (const values of occurrences(settings, 'header')) {
    if (values.length !== 2 || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(values[0])) {
      throw settings.error('header', 'expected a header name and a value: header "X-Scope-OrgID" "tenant-1"');
    }
    headers[values[0]] = values[1];
  }

  let username = settings.string('username');
  let password = settings.string('password');
  if (url.username !== '' || url.password !== '') {
    username ??= decodeURIComponent(url.username);
    password ??= decodeURIComponent(url.password);
    url.username = '';
    url.password = '';
  }
  let bearer = settings.string('bearer_token');
  const bearerFile = settings.string('bearer_token_file');
  if (bearerFile !== undefined) {
    if (bearer !== undefined) throw settings.error('bearer_token_file', 'set bearer_token or bearer_token_file, not both');
    try {
      bearer = fs.readFileSync(bearerFile, 'utf8').trim();
    } catch (err) {
      throw settings.error('bearer_token_file', `cannot read ${bearerFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  if (bearer !== undefined && username !== undefined) throw settings.error('bearer_token', 'set basic auth (username/password) or a bearer token, not both');
  if (password !== undefined && username === undefined) throw settings.error('password', 'needs a username');
  if (username !== undefined) headers.Authorization = basicAuthorization(username, password ?? '');
  if (bearer !== undefined) headers.Authorization = `Bearer ${bearer}`;

  return {
    url,
    headers,
    timeoutMs: settings.duration('timeout', { default: defaults.timeoutMs ?? 10_000, min: 1 }),
    batchSize: settings.integer('batch_size', { default: defaults.batchSize, min: 1 }),
    maxQueuedValues: settings.integer('max_queued_values', { default: defaults.maxQueuedValues, min: 1 }),
    flushTimeoutMs: settings.duration('flush_timeout', { default: defaults.flushTimeoutMs ?? 10_000, min: 0 }),
  };
}

/** The URL without credentials or query (tokens may sit there), for log lines. */
export function describeUrl(url: URL): string {
  return `${url.origin}${url.pathname}`;
}
