/**
 * Child processes for integration tests: spawn, keep their output for diagnostics, stop
 * them by pid (SIGTERM, then SIGKILL), and a per-test registry so `t.after` stops exactly
 * what the test started, also when it fails half-way.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

/** Keep only the tail of a child's output: enough to diagnose, bounded for chatty daemons. */
const OUTPUT_LIMIT_BYTES = 256 * 1024;

export interface ExitStatus {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  readonly command: string;
  readonly args: readonly string[];
  /** Resolves when the process has exited (never rejects). */
  readonly exited: Promise<ExitStatus>;
  /** The exit status, or null while it runs. */
  exitStatus(): ExitStatus | null;
  /** stdout and stderr interleaved as received (tail only). */
  output(): string;
  /**
   * SIGTERM by pid, wait up to `timeoutMs`, then SIGKILL and wait again. Resolves with
   * the exit status; safe to call twice or after the process died on its own.
   */
  stop(timeoutMs?: number): Promise<ExitStatus>;
}

/**
 * Children still running in this test process. Only a last-resort net: if the test
 * runner exits without running the `t.after` hooks, these are SIGKILLed by pid so no
 * daemon outlives the test file holding its ports.
 */
const runningChildren = new Map<number, { child: ChildProcess; group: boolean }>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const [pid, { group }] of runningChildren) {
      try {
        process.kill(group ? -pid : pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  });
}

export interface SpawnOptions {
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  /**
   * Start it as the leader of a new process group and signal the whole group (for servers
   * such as `php -S` whose forked workers outlive their parent).
   */
  readonly processGroup?: boolean;
}

/** Starts `command args` with stdin closed and output captured. Throws if it cannot start. */
export async function spawnManaged(
  name: string,
  command: string,
  args: readonly string[],
  options: SpawnOptions = {},
): Promise<ManagedProcess> {
  installExitHook();
  const child = spawn(command, [...args], {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.processGroup ?? false,
  });
  const group = options.processGroup ?? false;

  let buffered: Buffer[] = [];
  let bufferedBytes = 0;
  const collect = (chunk: Buffer) => {
    buffered.push(chunk);
    bufferedBytes += chunk.length;
    if (bufferedBytes > 2 * OUTPUT_LIMIT_BYTES) {
      const all = Buffer.concat(buffered);
      buffered = [all.subarray(all.length - OUTPUT_LIMIT_BYTES)];
      bufferedBytes = OUTPUT_LIMIT_BYTES;
    }
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);

  let status: ExitStatus | null = null;
  const exited = new Promise<ExitStatus>((resolve) => {
    child.once('exit', (code, signal) => {
      status = { code, signal };
      if (child.pid !== undefined) runningChildren.delete(child.pid);
      resolve(status);
    });
  });

  // A bad path is reported through 'error' before 'spawn'; surface it as a rejection.
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', (err) => reject(new Error(`${name}: cannot start ${command}: ${err.message}`)));
  });
  const pid = child.pid as number;
  runningChildren.set(pid, { child, group });
  const signal = (sig: NodeJS.Signals) => signalPid(group ? -pid : pid, sig);

  const output = () => {
    const all = Buffer.concat(buffered).toString('latin1');
    return all.length > OUTPUT_LIMIT_BYTES ? all.slice(all.length - OUTPUT_LIMIT_BYTES) : all;
  };

  const waitExit = (ms: number) =>
    Promise.race([exited, new Promise<null>((r) => setTimeout(() => r(null), ms).unref())]);

  const stop = async (timeoutMs = 5_000): Promise<ExitStatus> => {
    if (status && !group) return status;
    signal('SIGTERM');
    const graceful = await waitExit(timeoutMs);
    // A group's members may outlive its leader: finish the group off either way.
    if (graceful && !group) return graceful;
    signal('SIGKILL');
    return graceful ?? exited;
  };

  return {
    name,
    pid,
    command,
    args: [...args],
    exited,
    exitStatus: () => status,
    output,
    stop,
  };
}

function signalPid(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

/** Minimal view of node:test's TestContext that the registry needs. */
export interface AfterHookHost {
  after(fn: () => unknown): void;
}

/**
 * Everything one test (or one test file) started: processes and temp dirs. `cleanup()`
 * stops the processes in reverse start order, then removes the dirs.
 */
export class ProcessRegistry {
  private readonly processes: ManagedProcess[] = [];
  private readonly tempDirs: string[] = [];

  async spawn(name: string, command: string, args: readonly string[], options?: SpawnOptions) {
    const child = await spawnManaged(name, command, args, options);
    this.processes.push(child);
    return child;
  }

  /** Adopts a process started elsewhere. */
  track(child: ManagedProcess): ManagedProcess {
    this.processes.push(child);
    return child;
  }

  /** A fresh directory under the OS temp dir, removed by cleanup(). */
  tempDir(prefix: string): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `gmetad-ts-${prefix}-`));
    this.tempDirs.push(dir);
    return dir;
  }

  /** Output of every tracked process, headed by name and pid (for failure messages). */
  diagnostics(): string {
    return this.processes
      .map((p) => `----- ${p.name} (pid ${p.pid}, ${describeStatus(p.exitStatus())}) -----\n${p.output()}`)
      .join('\n');
  }

  /**
   * Runs `fn`; if it throws, rethrows with every tracked process's output appended, so a
   * failed start-up or assertion shows what the daemons said.
   */
  async explain<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      const wrapped = new Error(`${message}\n${this.diagnostics()}`);
      if (err instanceof Error && err.stack) wrapped.stack = `${wrapped.message}\n${err.stack}`;
      throw wrapped;
    }
  }

  async cleanup(): Promise<void> {
    const toStop = this.processes.splice(0).reverse();
    await Promise.all(toStop.map((p) => p.stop()));
    for (const dir of this.tempDirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** A registry whose cleanup runs in `t.after` (test or suite context). */
export function registryFor(t: AfterHookHost): ProcessRegistry {
  const registry = new ProcessRegistry();
  t.after(() => registry.cleanup());
  return registry;
}

function describeStatus(status: ExitStatus | null): string {
  if (!status) return 'running';
  return status.signal ? `killed by ${status.signal}` : `exit ${status.code}`;
}

export interface WaitOptions {
  readonly timeoutMs?: number;
  readonly intervalMs?: number;
  /** What is being waited for, for the timeout message. */
  readonly description?: string;
  /** Fail at once (with its output) if this process exits while waiting. */
  readonly process?: ManagedProcess;
}

/**
 * Polls `probe` until it returns something other than undefined/null/false and returns
 * that value. On timeout, rejects with the description and the last probe error.
 */
export async function waitFor<T>(
  probe: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  { timeoutMs = 15_000, intervalMs = 200, description = 'condition', process: child }: WaitOptions = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown = null;
  for (;;) {
    const exit = child?.exitStatus();
    if (child && exit) {
      throw new Error(
        `${child.name} (pid ${child.pid}) ${describeStatus(exit)} while waiting for ${description}\n${child.output()}`,
      );
    }
    try {
      const value = await probe();
      if (value !== undefined && value !== null && value !== false) return value;
      lastError = null;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const why = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      const out = child ? `\n${child.name} output:\n${child.output()}` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${description}${why}${out}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** True if a TCP connection to host:port succeeds within `timeoutMs`. */
export function canConnect(port: number, host = '127.0.0.1', timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Waits until host:port accepts connections. */
export async function waitForPort(
  port: number,
  host = '127.0.0.1',
  timeoutMs = 10_000,
  child?: ManagedProcess,
): Promise<void> {
  await waitFor(async () => canConnect(port, host), {
    timeoutMs,
    intervalMs: 100,
    description: `${host}:${port} to accept connections`,
    ...(child ? { process: child } : {}),
  });
}
