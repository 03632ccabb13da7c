/**
 * Reads gmetad.conf into the frozen GmetadConfig: lexer -> statements -> directives, on
 * top of the C gmetad's compiled defaults. Nothing else in the daemon reads the file.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { DEFAULTS_FILE, defaultConfig } from './defaults';
import { DIRECTIVES, type Draft } from './directives';
import { ConfigError, invalid, makeWarning, type ConfigWarning } from './errors';
import { deepFreeze } from './freeze';
import { applyLimits, emptyLimits, parseLimitsSection } from './limits';
import { parseStatements, type SectionStatement } from './syntax';
import { tokenize } from './tokenize';
import type { GmetadConfig, PluginSection } from './types';

export interface ParseOptions {
  /** Source of `${NAME}` substitutions; defaults to process.env. */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

export interface LoadOptions extends ParseOptions {
  /** Receives each warning (unknown directive, ignored value...); they are dropped otherwise. */
  readonly onWarning?: (warning: ConfigWarning) => void;
}

export interface ParseResult {
  readonly config: GmetadConfig;
  readonly warnings: ConfigWarning[];
}

/**
 * Reads and validates a configuration file. The file is decoded as ISO-8859-1 (one char
 * per byte), like every other string in the daemon, so names pass through byte for byte.
 * @throws ConfigError GMETAD_CONFIG_UNREADABLE or GMETAD_CONFIG_INVALID
 */
export function loadConfig(path: string, options: LoadOptions = {}): GmetadConfig {
  const file = absoluteName(path);
  let text: string;
  try {
    text = readFileSync(file, 'latin1');
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ConfigError(
      { code: 'GMETAD_CONFIG_UNREADABLE', file, line: null, directive: null, reason: `cannot read the configuration file (${reason})` },
      { cause: error },
    );
  }
  const { config, warnings } = parseConfig(text, file, options);
  for (const warning of warnings) options.onWarning?.(warning);
  return config;
}

/**
 * Parses configuration text; `file` is only used for messages and `config.file`.
 * @throws ConfigError GMETAD_CONFIG_INVALID at the first problem
 */
export function parseConfig(text: string, file: string, options: ParseOptions = {}): ParseResult {
  const name = absoluteName(file);
  const warnings: ConfigWarning[] = [];
  const warn = (warning: ConfigWarning): void => { warnings.push(warning); };
  const statements = parseStatements(tokenize(text, { file: name, env: options.env ?? process.env, onWarning: warn }), name);
  const draft = draftOf(defaultConfig(name));
  // Line where each non-repeatable directive was last set, to flag overrides and conflicts.
  const setAt = new Map<string, number>();

  const limits = emptyLimits();

  for (const statement of statements) {
    if (statement.kind === 'section' && statement.name.toLowerCase() === 'limits') {
      parseLimitsSection(limits, statement.directives, name);
      continue;
    }
    if (statement.kind === 'section') {
      const earlier = draft.pluginSections.find((s) => s.name.toLowerCase() === statement.name.toLowerCase());
      if (earlier !== undefined) {
        warn(makeWarning(name, statement.line, statement.name, `section repeated (first at ${earlier.origin}); both are kept`));
      }
      draft.pluginSections.push(pluginSection(statement, name));
      continue;
    }
    const key = statement.key.toLowerCase();
    if (key === 'include' || key === 'includepath') {
      // dotconf's Include would pull in other files; silently skipping it could lose data sources.
      throw invalid(name, statement.line, statement.key, 'not supported by gmetad-ts; put the settings in this file');
    }
    const spec = DIRECTIVES.get(key);
    if (spec === undefined) {
      warn(makeWarning(name, statement.line, statement.key, 'unknown directive, ignored'));
      continue;
    }
    if (!spec.accumulates) {
      const previous = setAt.get(key);
      if (previous !== undefined) warn(makeWarning(name, statement.line, statement.key, `overrides the value set at line ${previous}`));
      setAt.set(key, statement.line);
    }
    spec.apply(draft, { file: name, key: statement.key, values: statement.values, line: statement.line }, warn);
  }

  if (draft.xmlPort === draft.interactivePort) {
    const line = Math.max(setAt.get('xml_port') ?? 0, setAt.get('interactive_port') ?? 0);
    const directive = line === setAt.get('xml_port') ? 'xml_port' : 'interactive_port';
    throw invalid(name, line, directive, `xml_port and interactive_port are both ${draft.xmlPort}`);
  }

  const allTrustedLine = setAt.get('all_trusted');
  if (allTrustedLine !== undefined && !draft.allTrusted) warn(allTrustedOffWarning(name, allTrustedLine, draft.trustedHosts));

  draft.dataSources = applyLimits(draft.dataSources, limits, name);
  return { config: deepFreeze<GmetadConfig>(draft), warnings };
}

/**
 * `all_trusted off` is off here; the C gmetad 3.7.2 sets all_trusted whatever the value
 * (its option handler ignores it), so the same file trusted everyone there. Say who still
 * has access, and that everyone else loses it.
 */
function allTrustedOffWarning(file: string, line: number, trustedHosts: readonly string[]): ConfigWarning {
  const who = trustedHosts.length === 0 ? '127.0.0.1 and ::1 only (no trusted_hosts)'
    : `127.0.0.1, ::1 and trusted_hosts ${trustedHosts.join(' ')} only`;
  return makeWarning(file, line, 'all_trusted', `off: the XML and interactive ports answer ${who}; `
    + 'the C gmetad 3.7.2 trusts every host when all_trusted is present, whatever its value, so every other host '
    + 'that could read them there gets nothing here (use "all_trusted on" to keep that)');
}

/** Absolute path for messages; pseudo names like "<defaults>" or "<stdin>" stay as they are. */
function absoluteName(file: string): string {
  return file.startsWith('<') || file === DEFAULTS_FILE ? file : resolve(file);
}

function draftOf(config: GmetadConfig): Draft {
  return {
    ...config,
    dataSources: [...config.dataSources],
    trustedHosts: [...config.trustedHosts],
    rras: [...config.rras],
    carbon: { ...config.carbon },
    memcached: { ...config.memcached },
    riemann: { ...config.riemann },
    unsummarizedMetrics: [...config.unsummarizedMetrics],
    summarizedMetrics: [...config.summarizedMetrics],
    pluginSections: [...config.pluginSections],
  };
}

function pluginSection(statement: SectionStatement, file: string): PluginSection {
  return {
    name: statement.name,
    origin: `${file}:${statement.line}`,
    directives: statement.directives.map((d) => ({ key: d.key, values: [...d.values], origin: `${file}:${d.line}` })),
  };
}
