/**
 * The one logger type of the code base, the plugin API's `Logger` included: pino's calling
 * convention (a message, fields and a message, or fields alone), so the daemon's pino logger
 * (or a child of it) is passed as is, and tests pass a recording object. An error goes in
 * the fields as `err: <the Error>`, not its message: pino's serializer then prints its type,
 * message and stack.
 */
export interface LogMethod {
  (msg: string): void;
  (fields: object, msg?: string): void;
}

export interface StructuredLogger {
  debug: LogMethod;
  info: LogMethod;
  warn: LogMethod;
  error: LogMethod;
  /** A logger adding `bindings` to every line (pino's child); absent on simple loggers: use withFields(). */
  child?(bindings: Record<string, unknown>): StructuredLogger;
}

const ignore = (): void => {};

/** Discards everything; the default when no logger is given. */
export const SILENT_LOGGER: StructuredLogger = { debug: ignore, info: ignore, warn: ignore, error: ignore };

/** `logger` with `bindings` added to every line: its own child() when it has one. */
export function withFields(logger: StructuredLogger, bindings: Record<string, unknown>): StructuredLogger {
  if (logger.child) return logger.child(bindings);
  const wrap = (method: LogMethod): LogMethod => ((fieldsOrMsg: object | string, msg?: string) =>
    typeof fieldsOrMsg === 'string' ? method(bindings, fieldsOrMsg) : method({ ...bindings, ...fieldsOrMsg }, msg)) as LogMethod;
  return {
    debug: wrap(logger.debug), info: wrap(logger.info), warn: wrap(logger.warn), error: wrap(logger.error),
    child: (more) => withFields(logger, { ...bindings, ...more }),
  };
}
