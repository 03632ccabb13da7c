/**
 * Per-source limits, so that a broken or hostile source is refused within bounded memory
 * and time (the C gmetad has none: an endless document grows it until it dies).
 *
 *   limits {
 *     max_document_bytes 1GiB          # every data_source
 *     max_hosts 50000
 *     max_poll_seconds 60
 *     max_hosts "big-cluster" 200000   # one data_source, by its data_source name
 *   }
 *
 * Defaults fit the largest real clusters with room: 10,000 hosts x 100 metrics is about
 * 320 MB of XML (bench/: 1,000 x 100 = 32 MB), so 1 GiB leaves 3x; 50,000 hosts is 5x that
 * cluster, 2,000,000 metrics 2x; 60 s is ten times what a 1 GiB document takes to read and
 * parse here (~5 s). max_metrics is what bounds memory: a metric costs ~170 bytes of heap
 * when names repeat from host to host, as in real clusters, but ~800 when every name is new
 * (a hostile source), so 2M is at most ~1.6 GB, where 1 GiB of such XML would be ~5 GB.
 */
import { invalid } from './errors';
import type { DataSourceConfig, SourceLimits } from './types';

export const DEFAULT_SOURCE_LIMITS: SourceLimits = Object.freeze({
  maxDocumentBytes: 1024 * 1024 * 1024,
  maxHosts: 50_000,
  maxMetrics: 2_000_000,
  maxPollSeconds: 60,
});

/** The directive names of the `limits` section, in the order -t prints them. */
export const LIMIT_NAMES: Readonly<Record<keyof SourceLimits, string>> = Object.freeze({
  maxDocumentBytes: 'max_document_bytes',
  maxHosts: 'max_hosts',
  maxMetrics: 'max_metrics',
  maxPollSeconds: 'max_poll_seconds',
});

const KEYS = new Map<string, keyof SourceLimits>(
  (Object.entries(LIMIT_NAMES) as [keyof SourceLimits, string][]).map(([key, name]) => [name, key]),
);

const BYTE_UNITS: Readonly<Record<string, number>> = {
  '': 1, k: 1024, kib: 1024, kb: 1024, m: 1024 ** 2, mib: 1024 ** 2, mb: 1024 ** 2, g: 1024 ** 3, gib: 1024 ** 3, gb: 1024 ** 3,
};

/** Limits set in the file: for every source, and per data_source name. */
export interface LimitsDraft {
  readonly all: Partial<Record<keyof SourceLimits, number>>;
  readonly bySource: Map<string, { values: Partial<Record<keyof SourceLimits, number>>; line: number }>;
}

export function emptyLimits(): LimitsDraft {
  return { all: {}, bySource: new Map() };
}

interface LimitLine {
  readonly key: string;
  readonly values: readonly string[];
  readonly line: number;
}

/** Reads one `limits { }` section into `draft`; errors name the file and line. */
export function parseLimitsSection(draft: LimitsDraft, directives: readonly LimitLine[], file: string): void {
  for (const d of directives) {
    const key = KEYS.get(d.key.toLowerCase());
    if (key === undefined) {
      throw invalid(file, d.line, `limits ${d.key}`, `unknown limit (expected ${Object.values(LIMIT_NAMES).join(', ')})`);
    }
    if (d.values.length !== 1 && d.values.length !== 2) {
      throw invalid(file, d.line, `limits ${d.key}`, 'expected a value, or a data_source name and a value');
    }
    const text = d.values[d.values.length - 1];
    const value = parseLimitValue(key, text);
    if (value === null) {
      const expected = key === 'maxDocumentBytes' ? 'a positive number of bytes, optionally with K, M or G (KiB, MiB, GiB)'
        : key === 'maxHosts' || key === 'maxMetrics' ? 'a positive integer' : 'a positive number of seconds';
      throw invalid(file, d.line, `limits ${d.key}`, `invalid value "${text}" (expected ${expected})`);
    }
    if (d.values.length === 1) {
      draft.all[key] = value;
    } else {
      const source = d.values[0];
      const entry = draft.bySource.get(source) ?? { values: {}, line: d.line };
      entry.values[key] = value;
      draft.bySource.set(source, entry);
    }
  }
}

function parseLimitValue(key: keyof SourceLimits, text: string): number | null {
  if (key === 'maxDocumentBytes') {
    const m = /^(\d+)\s*([a-z]*)$/i.exec(text);
    const unit = m ? BYTE_UNITS[m[2].toLowerCase()] : undefined;
    if (!m || unit === undefined) return null;
    const bytes = Number(m[1]) * unit;
    return Number.isSafeInteger(bytes) && bytes > 0 ? bytes : null;
  }
  if (key === 'maxHosts' || key === 'maxMetrics') {
    if (!/^\d+$/.test(text)) return null;
    const n = Number(text);
    return Number.isSafeInteger(n) && n > 0 ? n : null;
  }
  if (!/^\d+(\.\d+)?$/.test(text)) return null;
  const seconds = Number(text);
  return seconds > 0 && seconds <= 86400 ? seconds : null;
}

/** Each data_source with its effective limits; a limit for an unknown source is an error. */
export function applyLimits(sources: readonly DataSourceConfig[], draft: LimitsDraft, file: string): DataSourceConfig[] {
  for (const [name, entry] of draft.bySource) {
    if (!sources.some((ds) => ds.name === name)) {
      throw invalid(file, entry.line, 'limits', `no data_source named "${name}"`);
    }
  }
  return sources.map((ds) => ({
    ...ds,
    limits: { ...DEFAULT_SOURCE_LIMITS, ...draft.all, ...draft.bySource.get(ds.name)?.values },
  }));
}
