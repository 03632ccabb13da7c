/**
 * Reads and checks a push exporter's `name { ... }` section once, at load: each bad value
 * stops start-up with one line naming the file and line (`gmetad.conf:12: remote_write
 * batch_size: expected a whole number above 0, got "x"`), like the core directives do.
 */
import type { GmetadConfig } from '../../config/types';
import type { PluginSettings } from '../api';

export class SettingError extends Error {
  readonly code = 'GMETAD_PLUGIN_SETTING';
}

export class SectionReader {
  constructor(
    private readonly section: string,
    private readonly settings: PluginSettings,
    private readonly config: GmetadConfig,
  ) {}

  /** Whether the configuration has this section at all. */
  get present(): boolean {
    return this.config.pluginSections.some((s) => s.name.toLowerCase() === this.section.toLowerCase());
  }

  /** Every occurrence of `key`, each with its values. */
  all(key: string): readonly (readonly string[])[] {
    return this.settings.get(key.toLowerCase()) ?? [];
  }

  /** The value of a directive that takes one value (the last one if repeated). */
  string(key: string): string | undefined {
    const occurrences = this.all(key);
    if (occurrences.length === 0) return undefined;
    const values = occurrences[occurrences.length - 1];
    if (values.length !== 1) this.fail(key, `expected one value, got ${values.length}`);
    return values[0];
  }

  positiveInteger(key: string, fallback: number): number {
    const text = this.string(key);
    if (text === undefined) return fallback;
    if (!/^\d+$/.test(text) || Number(text) < 1) this.fail(key, `expected a whole number above 0, got "${text}"`);
    return Number(text);
  }

  /** `10` (seconds), `10s`, `500ms`, `2m`, as milliseconds. */
  durationMs(key: string, fallbackMs: number): number {
    const text = this.string(key);
    if (text === undefined) return fallbackMs;
    const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text);
    if (!m || Number(m[1]) <= 0) this.fail(key, `expected a duration such as 10s, 500ms or 2m, got "${text}"`);
    const unit = m[2] ?? 's';
    return Math.round(Number(m[1]) * (unit === 'ms' ? 1 : unit === 's' ? 1000 : 60_000));
  }

  /** An http(s) URL. */
  url(key: string, text: string | undefined): URL {
    if (text === undefined || text === '') this.fail(key, 'is required (for example "http://localhost:9090/api/v1/write")');
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      this.fail(key, `not a URL: "${text}"`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') this.fail(key, `expected an http:// or https:// URL, got "${text}"`);
    return url;
  }

  /** `file:line` of the directive (or of the section when the key is absent). */
  origin(key: string): string {
    let origin: string | undefined;
    for (const s of this.config.pluginSections) {
      if (s.name.toLowerCase() !== this.section.toLowerCase()) continue;
      origin ??= s.origin;
      for (const d of s.directives) if (d.key.toLowerCase() === key.toLowerCase()) origin = d.origin;
    }
    return origin ?? this.config.file;
  }

  fail(key: string, reason: string): never {
    throw new SettingError(`${this.origin(key)}: ${this.section} { ${key} }: ${reason}`);
  }
}
