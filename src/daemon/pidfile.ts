/** The pid file: written at start, removed at exit, refusing to start over a live one. */
import * as fs from 'node:fs';

export class PidFileError extends Error {
  readonly code = 'GMETAD_PIDFILE';
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function writePidFile(path: string, pid = process.pid): void {
  try {
    const existing = Number.parseInt(fs.readFileSync(path, 'utf8').trim(), 10);
    if (Number.isInteger(existing) && existing > 0 && existing !== pid && isAlive(existing)) {
      throw new PidFileError(`pid file ${path}: gmetad already running as pid ${existing}`);
    }
  } catch (err) {
    if (err instanceof PidFileError) throw err;
    // missing or unreadable: we write a new one below
  }
  try {
    fs.writeFileSync(path, `${pid}\n`, { mode: 0o644 });
  } catch (err) {
    throw new PidFileError(`pid file ${path}: ${(err as Error).message.replace(/^[A-Z]+: /, '')}`);
  }
}

/** Removes the pid file if it still names us; never throws (shutdown must go on). */
export function removePidFile(path: string, pid = process.pid): void {
  try {
    if (Number.parseInt(fs.readFileSync(path, 'utf8').trim(), 10) === pid) fs.unlinkSync(path);
  } catch {
    // already gone or not ours
  }
}
