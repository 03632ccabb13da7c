/**
 * The logging surface modules depend on instead of pino itself: pino's `(object, message)`
 * calling convention, so the daemon's logger (or a child of it) is passed as is, and tests
 * can pass a recording object.
 */
export interface StructuredLogger {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

const ignore = (): void => {};

/** Discards everything; the default when no logger is given. */
export const SILENT_LOGGER: StructuredLogger = { debug: ignore, info: ignore, warn: ignore, error: ignore };
