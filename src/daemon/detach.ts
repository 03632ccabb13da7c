/**
 * Daemon mode (debug level 0 without -f): the parent re-runs itself as a detached child in
 * a new session and exits 0 once the child reports that it is listening, or 1 with the
 * child's one-line error. The child then drops the IPC channel and runs on its own.
 */
import { spawn } from 'node:child_process';

const DETACHED_ENV = 'GMETAD_TS_DETACHED';

export type ChildReport = { type: 'ready'; pid: number } | { type: 'error'; message: string };

export function isDetachedChild(): boolean {
  return process.env[DETACHED_ENV] === '1' && typeof process.send === 'function';
}

/** In the parent: start the detached child and wait for its report. Resolves to the exit code. */
export function detachAndWait(timeoutMs = 60_000): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
      detached: true,
      stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
      env: { ...process.env, [DETACHED_ENV]: '1' },
    });
    const timer = setTimeout(() => {
      process.stderr.write('gmetad: the daemon did not report ready in time\n');
      resolve(1);
    }, timeoutMs);
    child.on('message', (report: ChildReport) => {
      clearTimeout(timer);
      if (report.type === 'ready') {
        child.disconnect();
        child.unref();
        resolve(0);
      } else {
        process.stderr.write(`gmetad: ${report.message}\n`);
        resolve(1);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve(code === 0 ? 0 : 1);
    });
  });
}

/** In the child: tell the parent how start-up went, then cut the channel. */
export function reportToParent(report: ChildReport): void {
  if (!isDetachedChild()) return;
  process.send!(report, () => {
    if (report.type === 'ready') process.disconnect?.();
  });
}
