/**
 * The logging surface the RRD writer needs: pino's `(object, message)` calling convention,
 * so the daemon's pino logger (or a child of it) can be passed as is.
 */
export interface RrdLogger {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

const ignore = (): void => {};

/** Discards everything; the default when no logger is given. */
export const SILENT_LOGGER: RrdLogger = { debug: ignore, info: ignore, warn: ignore, error: ignore };
