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
 */
import * as fs from 'node:fs';
import type { SectionReader } from './section-reader';

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

/** Reads the common settings; `urlText` is the URL after the exporter's own defaults (env, base paths). */
export function readPushSettings(reader: SectionReader, urlText: string | undefined, defaults: PushDefaults): PushSettings {
  const url = reader.url('url', urlText);
  const headers: Record<string, string> = {};
  for (const values of reader.all('header')) {
    if (values.length !== 2 || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(values[0])) {
      reader.fail('header', 'expected a header name and a value: header "X-Scope-OrgID" "tenant-1"');
    }
    headers[values[0]] = values[1];
  }

  let username = reader.string('username');
  let password = reader.string('password');
  if (url.username !== '' || url.password !== '') {
    username ??= decodeURIComponent(url.username);
    password ??= decodeURIComponent(url.password);
    url.username = '';
    url.password = '';
  }
  let bearer = reader.string('bearer_token');
  const bearerFile = reader.string('bearer_token_file');
  if (bearerFile !== undefined) {
    if (bearer !== undefined) reader.fail('bearer_token_file', 'set bearer_token or bearer_token_file, not both');
    try {
      bearer = fs.readFileSync(bearerFile, 'utf8').trim();
    } catch (err) {
      reader.fail('bearer_token_file', `cannot read ${bearerFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  if (bearer !== undefined && username !== undefined) reader.fail('bearer_token', 'set basic auth (username/password) or a bearer token, not both');
  if (password !== undefined && username === undefined) reader.fail('password', 'needs a username');
  if (username !== undefined) headers.Authorization = basicAuthorization(username, password ?? '');
  if (bearer !== undefined) headers.Authorization = `Bearer ${bearer}`;

  return {
    url,
    headers,
    timeoutMs: reader.durationMs('timeout', defaults.timeoutMs ?? 10_000),
    batchSize: reader.positiveInteger('batch_size', defaults.batchSize),
    maxQueuedValues: reader.positiveInteger('max_queued_values', defaults.maxQueuedValues),
    flushTimeoutMs: reader.durationMs('flush_timeout', defaults.flushTimeoutMs ?? 10_000),
  };
}

/** The URL with credentials masked, for log lines. */
export function describeUrl(url: URL): string {
  return `${url.origin}${url.pathname}`;
}
