/**
 * Errors and warnings of the configuration loader. Both always name the file, the line and
 * the directive, so an operator can go straight to the offending spot:
 *   /etc/ganglia/gmetad.conf:12: data_source "x": invalid port "99999"
 */

/** Stable codes for callers that branch on the kind of failure (exit codes, tests). */
export type ConfigErrorCode =
  /** The file could be read but its content is wrong (syntax or value). */
  | 'GMETAD_CONFIG_INVALID'
  /** The file could not be read at all (missing, permissions, a directory...). */
  | 'GMETAD_CONFIG_UNREADABLE';

export interface ConfigErrorDetails {
  readonly code: ConfigErrorCode;
  readonly file: string;
  /** 1-based line, or null when the problem is not tied to a line (unreadable file). */
  readonly line: number | null;
  /** Directive (or section) name as written in the file, or null. */
  readonly directive: string | null;
  /** How the directive is shown in the message, e.g. `data_source "x"`; defaults to directive. */
  readonly label?: string;
  /** What is wrong, without the location prefix. */
  readonly reason: string;
}

export class ConfigError extends Error {
  readonly code: ConfigErrorCode;
  readonly file: string;
  readonly line: number | null;
  readonly directive: string | null;
  readonly reason: string;

  constructor(details: ConfigErrorDetails, options?: { cause?: unknown }) {
    super(formatLocated(details.file, details.line, details.label ?? details.directive, details.reason), options);
    this.name = 'ConfigError';
    this.code = details.code;
    this.file = details.file;
    this.line = details.line;
    this.directive = details.directive;
    this.reason = details.reason;
  }
}

/** Something accepted but worth telling the operator (unknown directive, ignored value...). */
export interface ConfigWarning {
  readonly file: string;
  readonly line: number;
  readonly directive: string;
  /** Full text including the location, ready to log. */
  readonly message: string;
}

export function makeWarning(file: string, line: number, directive: string, reason: string, label?: string): ConfigWarning {
  return { file, line, directive, message: formatLocated(file, line, label ?? directive, reason) };
}

/** Builds an invalid-content error; used by the lexer, the syntax layer and the directives. */
export function invalid(file: string, line: number, directive: string | null, reason: string, label?: string): ConfigError {
  return new ConfigError({ code: 'GMETAD_CONFIG_INVALID', file, line, directive, reason, ...(label === undefined ? {} : { label }) });
}

function formatLocated(file: string, line: number | null, label: string | null, reason: string): string {
  const where = line === null ? file : `${file}:${line}`;
  return label === null ? `${where}: ${reason}` : `${where}: ${label}: ${reason}`;
}
