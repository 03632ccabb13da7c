/**
 * The part of a logger the servers use. pino's Logger satisfies it; tests can pass a
 * recording object.
 */
export interface ServerLogger {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}
