/**
 * A plugin's own `name { directive value ... }` section, read with types. Every value comes
 * with the file:line it was written on, so a bad value stops start-up (or a SIGHUP reload)
 * with one line an operator can act on, exactly like the core configuration's errors:
 *
 *   /etc/ganglia/gmetad.conf:41: prometheus { port }: expected a whole number from 1 to 65535, got "99999"
 *
 * It is also a ReadonlyMap (directive → each occurrence's values), which is what plugins
 * written before the typed readers received; `setting(settings, key)` keeps working.
 */
import { ConfigError, invalid } from '../config/errors';
import type { PluginSection } from '../config/types';

export interface ValueOptions<T> {
  /** Returned when the directive is absent. */
  readonly default?: T;
  /** Absent is an error (naming the section). */
  readonly required?: boolean;
}

export interface StringOptions extends ValueOptions<string> {
  /** The only values accepted (compared case-insensitively; the listed spelling is returned). */
  readonly oneOf?: readonly string[];
}

export interface NumberOptions extends ValueOptions<number> {
  readonly min?: number;
  readonly max?: number;
}

/** A value is certain when there is a default or it is required. */
type Certain<O> = O & ({ readonly default: unknown } | { readonly required: true });

export interface PluginSettings extends ReadonlyMap<string, readonly (readonly string[])[]> {
  /** The section's name as configured (the plugin's name). */
  readonly section: string;
  /** "file:line" of the section's opening line, or the configuration file if there is none. */
  readonly origin: string;
  /** True when gmetad.conf has a section for this plugin. */
  readonly present: boolean;

  /** The first value of the directive, e.g. `url "http://..."`. */
  string(key: string, options: Certain<StringOptions>): string;
  string(key: string, options?: StringOptions): string | undefined;
  /** Every value of the directive's first occurrence, e.g. `labels a b c`. */
  strings(key: string): readonly string[];
  /** A whole number, e.g. `port 9100`. */
  integer(key: string, options: Certain<NumberOptions>): number;
  integer(key: string, options?: NumberOptions): number | undefined;
  /** Any finite number, e.g. `ratio 0.5`. */
  number(key: string, options: Certain<NumberOptions>): number;
  number(key: string, options?: NumberOptions): number | undefined;
  /** on/off, yes/no, true/false, 1/0. */
  boolean(key: string, options: Certain<ValueOptions<boolean>>): boolean;
  boolean(key: string, options?: ValueOptions<boolean>): boolean | undefined;
  /**
   * A duration, returned in milliseconds: `30` (seconds, as everywhere in gmetad.conf),
   * `30s`, `500ms`, `2m`, `1h`. min/max are in milliseconds too.
   */
  duration(key: string, options: Certain<NumberOptions>): number;
  duration(key: string, options?: NumberOptions): number | undefined;
  /** "file:line" of the directive's first occurrence, or of the section when absent. */
  originOf(key: string): string;
  /** A ConfigError located at the directive (or the section), for checks of your own. */
  error(key: string | null, reason: string): ConfigError;
}

interface Located {
  readonly values: readonly string[];
  readonly origin: string;
}

const DURATION_UNITS_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const TRUE_WORDS = new Set(['on', 'yes', 'true', '1']);
const FALSE_WORDS = new Set(['off', 'no', 'false', '0']);

function splitOrigin(origin: string): { file: string; line: number | null } {
  const m = /^(.*):(\d+)$/.exec(origin);
  return m ? { file: m[1], line: Number(m[2]) } : { file: origin, line: null };
}

function describeRange(what: string, o: NumberOptions, unit = ''): string {
  if (o.min !== undefined && o.max !== undefined) return `${what} from ${o.min}${unit} to ${o.max}${unit}`;
  if (o.min !== undefined) return `${what} of at least ${o.min}${unit}`;
  if (o.max !== undefined) return `${what} of at most ${o.max}${unit}`;
  return what;
}

/** Parses a duration; a bare number is seconds. Returns milliseconds, or null if malformed. */
export function parseDuration(text: string): number | null {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/i.exec(text.trim());
  if (!m) return null;
  return Math.round(Number(m[1]) * DURATION_UNITS_MS[(m[2] ?? 's').toLowerCase()]);
}

export class SectionSettings extends Map<string, readonly (readonly string[])[]> implements PluginSettings {
  readonly section: string;
  readonly origin: string;
  readonly present: boolean;
  private readonly located = new Map<string, Located>();

  /** `sections`: every section of the configuration (several with the plugin's name are merged, in order). */
  constructor(sections: readonly PluginSection[], name: string, configFile: string) {
    super();
    this.section = name;
    const own = sections.filter((s) => s.name.toLowerCase() === name.toLowerCase());
    this.present = own.length > 0;
    this.origin = own[0]?.origin ?? configFile;
    for (const section of own) {
      for (const { key, values, origin } of section.directives) {
        const k = key.toLowerCase();
        const all = (this.get(k) ?? []) as (readonly string[])[];
        all.push([...values]);
        super.set(k, all);
        if (!this.located.has(k)) this.located.set(k, { values, origin });
      }
    }
  }

  originOf(key: string): string {
    return this.located.get(key.toLowerCase())?.origin ?? this.origin;
  }

  error(key: string | null, reason: string): ConfigError {
    const { file, line } = splitOrigin(key === null ? this.origin : this.originOf(key));
    const label = key === null ? this.section : `${this.section} { ${key} }`;
    if (line === null) return new ConfigError({ code: 'GMETAD_CONFIG_INVALID', file, line: null, directive: key, label, reason });
    return invalid(file, line, key ?? this.section, reason, label);
  }

  /** The single value of a directive, or undefined; refuses several values. */
  private single(key: string, options: ValueOptions<unknown>): string | undefined {
    const found = this.located.get(key.toLowerCase());
    if (!found) {
      if (options.required && options.default === undefined) {
        throw this.error(null, `"${key}" is required`);
      }
      return undefined;
    }
    if (found.values.length !== 1) throw this.error(key, `expected one value, got ${found.values.length}`);
    return found.values[0];
  }

  string(key: string, options: Certain<StringOptions>): string;
  string(key: string, options?: StringOptions): string | undefined;
  string(key: string, options: StringOptions = {}): string | undefined {
    const text = this.single(key, options);
    if (text === undefined) return options.default;
    if (options.oneOf) {
      const match = options.oneOf.find((v) => v.toLowerCase() === text.toLowerCase());
      if (match === undefined) throw this.error(key, `expected one of ${options.oneOf.join(', ')}, got "${text}"`);
      return match;
    }
    return text;
  }

  strings(key: string): readonly string[] {
    return this.located.get(key.toLowerCase())?.values ?? [];
  }

  integer(key: string, options: Certain<NumberOptions>): number;
  integer(key: string, options?: NumberOptions): number | undefined;
  integer(key: string, options: NumberOptions = {}): number | undefined {
    return this.numeric(key, options, /^[+-]?\d+$/, 'a whole number');
  }

  number(key: string, options: Certain<NumberOptions>): number;
  number(key: string, options?: NumberOptions): number | undefined;
  number(key: string, options: NumberOptions = {}): number | undefined {
    return this.numeric(key, options, /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/, 'a number');
  }

  private numeric(key: string, options: NumberOptions, shape: RegExp, what: string): number | undefined {
    const text = this.single(key, options);
    if (text === undefined) return options.default;
    const value = Number(text);
    if (!shape.test(text) || !Number.isFinite(value) || (options.min !== undefined && value < options.min)
      || (options.max !== undefined && value > options.max)) {
      throw this.error(key, `expected ${describeRange(what, options)}, got "${text}"`);
    }
    return value;
  }

  boolean(key: string, options: Certain<ValueOptions<boolean>>): boolean;
  boolean(key: string, options?: ValueOptions<boolean>): boolean | undefined;
  boolean(key: string, options: ValueOptions<boolean> = {}): boolean | undefined {
    const text = this.single(key, options);
    if (text === undefined) return options.default;
    const word = text.toLowerCase();
    if (TRUE_WORDS.has(word)) return true;
    if (FALSE_WORDS.has(word)) return false;
    throw this.error(key, `expected on or off, got "${text}"`);
  }

  duration(key: string, options: Certain<NumberOptions>): number;
  duration(key: string, options?: NumberOptions): number | undefined;
  duration(key: string, options: NumberOptions = {}): number | undefined {
    const text = this.single(key, options);
    if (text === undefined) return options.default;
    const ms = parseDuration(text);
    if (ms === null || (options.min !== undefined && ms < options.min) || (options.max !== undefined && ms > options.max)) {
      throw this.error(key, `expected ${describeRange('a duration (30, 30s, 500ms, 2m, 1h)', options, ' ms')}, got "${text}"`);
    }
    return ms;
  }

  // A plugin's settings are read-only.
  override set(): this {
    throw new TypeError('plugin settings are read-only');
  }

  override delete(): boolean {
    throw new TypeError('plugin settings are read-only');
  }

  override clear(): void {
    throw new TypeError('plugin settings are read-only');
  }
}
