/**
 * Where and how the influxdb exporter writes: InfluxDB 1.x (`database` set) or the v2 API
 * (`org` and `bucket`), from the `influxdb { }` section and, for v2, the environment
 * variables InfluxDB's tools read: INFLUXDB_URL, INFLUXDB_ORG, INFLUXDB_BUCKET,
 * INFLUXDB_TOKEN. As with those tools' flags, a value in the section wins over the
 * variable; with no section at all, INFLUXDB_URL alone turns v2 export on.
 */
import type { PluginSettings } from '../api';
import { parseHttpUrl, type PushSettings, readPushSettings } from '../push/push-settings';

export type InfluxVersion = 1 | 2;

export interface InfluxSettings {
  readonly version: InfluxVersion;
  /** The write endpoint, query included (db/rp or org/bucket, precision=ms: see push/forward-timestamps). */
  readonly push: PushSettings;
  readonly measurement: string;
  readonly gzip: boolean;
  /** What is written to, for the start-up log line. */
  readonly target: string;
}

/** The environment variables read for v2, by setting. */
export const INFLUX_ENV = { url: 'INFLUXDB_URL', org: 'INFLUXDB_ORG', bucket: 'INFLUXDB_BUCKET', token: 'INFLUXDB_TOKEN' } as const;

const DEFAULT_BATCH_VALUES = 50_000;
const DEFAULT_MAX_QUEUED = 500_000;

export type Environment = Readonly<Record<string, string | undefined>>;

function envValue(env: Environment, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value === '' ? undefined : value;
}

/** The exporter is on with an `influxdb` section, or with INFLUXDB_URL in the environment. */
export function influxdbWanted(hasSection: boolean, env: Environment): boolean {
  return hasSection || envValue(env, INFLUX_ENV.url) !== undefined;
}

/** `base` + `suffix` unless the URL already names that endpoint (a proxy path is kept). */
function endpoint(url: URL, suffix: string): URL {
  const out = new URL(url.href);
  if (!out.pathname.endsWith(suffix)) out.pathname = `${out.pathname.replace(/\/+$/, '')}${suffix}`;
  return out;
}

export function readInfluxSettings(settings: PluginSettings, env: Environment): InfluxSettings {
  const database = settings.string('database');
  const fromSection = (key: 'url' | 'org' | 'bucket' | 'token') => settings.string(key);
  const v2 = {
    url: fromSection('url') ?? envValue(env, INFLUX_ENV.url),
    org: fromSection('org') ?? envValue(env, INFLUX_ENV.org),
    bucket: fromSection('bucket') ?? envValue(env, INFLUX_ENV.bucket),
    token: fromSection('token') ?? envValue(env, INFLUX_ENV.token),
  };
  const measurement = settings.string('measurement', { default: 'ganglia' });
  if (measurement === '') throw settings.error('measurement', 'must not be empty');
  const gzip = settings.boolean('gzip', { default: true });
  const defaults = { batchSize: DEFAULT_BATCH_VALUES, maxQueuedValues: DEFAULT_MAX_QUEUED };

  if (database !== undefined) {
    for (const key of ['org', 'bucket', 'token'] as const) {
      if (fromSection(key) !== undefined) throw settings.error(key, 'is for the v2 API; this section writes to a 1.x database');
    }
    const base = parseHttpUrl(settings, 'url', fromSection('url') ?? envValue(env, INFLUX_ENV.url), 'http://influxdb:8086');
    const url = endpoint(base, '/write');
    url.searchParams.set('db', database);
    const rp = settings.string('retention_policy');
    if (rp !== undefined) url.searchParams.set('rp', rp);
    url.searchParams.set('precision', 'ms');
    return { version: 1, push: readPushSettings(settings, url, defaults), measurement, gzip, target: `database ${database}` };
  }

  if (!settings.present && v2.url === undefined) throw new Error(`${INFLUX_ENV.url} is not set and there is no influxdb section`);
  const missing = (key: 'org' | 'bucket', example: string): never => {
    const how = `set ${key} in the influxdb section or ${INFLUX_ENV[key]} in the environment (for example "${example}"), or database for InfluxDB 1.x`;
    if (settings.present) throw settings.error(null, `"${key}" is required: ${how}`);
    throw new Error(`${INFLUX_ENV.url} is set but ${INFLUX_ENV[key]} is not: ${how}`);
  };
  if (v2.url === undefined) {
    if (settings.present) throw settings.error(null, `"url" is required (or ${INFLUX_ENV.url} in the environment), for example "http://influxdb:8086"`);
  }
  const org = v2.org ?? missing('org', 'my-org');
  const bucket = v2.bucket ?? missing('bucket', 'ganglia');
  let base: URL;
  if (fromSection('url') !== undefined) base = parseHttpUrl(settings, 'url', v2.url, 'http://influxdb:8086');
  else {
    try {
      base = new URL(v2.url!);
      if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new Error('not http');
    } catch {
      throw new Error(`${INFLUX_ENV.url}: expected an http:// or https:// URL, got "${v2.url}"`);
    }
  }
  const url = endpoint(base, '/api/v2/write');
  url.searchParams.set('org', org);
  url.searchParams.set('bucket', bucket);
  url.searchParams.set('precision', 'ms');
  const push = readPushSettings(settings, url, defaults);
  if (v2.token !== undefined && push.headers.Authorization !== undefined) {
    throw settings.error('token', 'set a token or basic auth / bearer_token, not both');
  }
  const headers = v2.token === undefined ? push.headers : { ...push.headers, Authorization: `Token ${v2.token}` };
  return { version: 2, push: { ...push, headers }, measurement, gzip, target: `org ${org}, bucket ${bucket}` };
}
