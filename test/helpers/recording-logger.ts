/** A StructuredLogger that keeps every line, for tests that assert on what was logged. */
import type { LogMethod, StructuredLogger } from '../../src/util/logging';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface LoggedLine {
  readonly level: LogLevel;
  readonly fields: Readonly<Record<string, unknown>>;
  readonly msg: string;
}

export function recordingLogger(): { logger: StructuredLogger; lines: LoggedLine[] } {
  const lines: LoggedLine[] = [];
  const at = (level: LogLevel): LogMethod => ((fieldsOrMsg: object | string, msg?: string) => {
    if (typeof fieldsOrMsg === 'string') lines.push({ level, fields: {}, msg: fieldsOrMsg });
    else lines.push({ level, fields: fieldsOrMsg as Record<string, unknown>, msg: msg ?? '' });
  }) as LogMethod;
  return { logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }, lines };
}
