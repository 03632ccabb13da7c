/**
 * Real Graphite receivers for the exporter tests: carbon-cache (Debian graphite-carbon)
 * with a private config and whisper directory on free ports, read back with whisper-fetch;
 * and carbon-c-relay forwarding to a given port. Both stopped by pid through the registry.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './net';
import { waitForPort, type ProcessRegistry } from './processes';

const run = promisify(execFile);

export const CARBON_CACHE_BINARY = '/usr/bin/carbon-cache';
export const CARBON_C_RELAY_BINARY = '/usr/bin/carbon-c-relay';
export const WHISPER_FETCH_BINARY = '/usr/bin/whisper-fetch';

/** One hour per point for 20 years: fixed test timestamps stay inside the retention. */
export const WHISPER_STEP = 3600;

export interface CarbonCache {
  /** Line receiver, TCP and UDP. */
  readonly port: number;
  readonly whisperDir: string;
  /** The value stored for `metricPath` at the hour holding `time`, null if none. */
  valueAt(metricPath: string, time: number): Promise<number | null>;
  /** Whether the whisper file of `metricPath` exists. */
  has(metricPath: string): boolean;
}

/** `port`: a given line-receiver port (for tests that start the receiver after its client). */
export async function startCarbonCache(registry: ProcessRegistry, port?: number): Promise<CarbonCache> {
  const root = registry.tempDir('carbon-cache');
  port ??= await freePort();
  const dirs = ['conf', 'storage', 'log', 'pid'].map((d) => path.join(root, d));
  for (const d of dirs) fs.mkdirSync(d);
  const [conf, storage, log, pid] = dirs;
  const whisperDir = path.join(storage, 'whisper');
  fs.writeFileSync(path.join(conf, 'carbon.conf'), [
    '[cache]',
    `STORAGE_DIR = ${storage}/`,
    `LOCAL_DATA_DIR = ${whisperDir}/`,
    `CONF_DIR = ${conf}/`,
    `LOG_DIR = ${log}/`,
    `PID_DIR = ${pid}/`,
    'DATABASE = whisper',
    'USER =',
    'MAX_CACHE_SIZE = inf',
    'MAX_UPDATES_PER_SECOND = 100000',
    'MAX_CREATES_PER_MINUTE = inf',
    'LINE_RECEIVER_INTERFACE = 127.0.0.1',
    `LINE_RECEIVER_PORT = ${port}`,
    'ENABLE_UDP_LISTENER = True',
    'UDP_RECEIVER_INTERFACE = 127.0.0.1',
    `UDP_RECEIVER_PORT = ${port}`,
    'PICKLE_RECEIVER_INTERFACE = 127.0.0.1',
    'PICKLE_RECEIVER_PORT = 0',
    'CACHE_QUERY_INTERFACE = 127.0.0.1',
    'CACHE_QUERY_PORT = 0',
    'WHISPER_AUTOFLUSH = True',
    'WHISPER_SPARSE_CREATE = True',
    'WHISPER_FALLOCATE_CREATE = False',
    '',
  ].join('\n'));
  fs.writeFileSync(path.join(conf, 'storage-schemas.conf'), `[all]\npattern = .*\nretentions = ${WHISPER_STEP}s:20y\n`);
  const child = await registry.spawn('carbon-cache', CARBON_CACHE_BINARY, [
    '--nodaemon', '--debug', `--config=${path.join(conf, 'carbon.conf')}`, `--pidfile=${path.join(pid, 'carbon.pid')}`, 'start',
  ]);
  await waitForPort(port, '127.0.0.1', 30_000, child);
  const linePort = port;
  const fileOf = (metricPath: string) => path.join(whisperDir, ...metricPath.split('.')) + '.wsp';
  return {
    port: linePort,
    whisperDir,
    has: (metricPath) => fs.existsSync(fileOf(metricPath)),
    async valueAt(metricPath, time) {
      const slot = time - (time % WHISPER_STEP);
      const { stdout } = await run(WHISPER_FETCH_BINARY, [
        '--json', `--from=${slot - 1}`, `--until=${slot + WHISPER_STEP - 1}`, fileOf(metricPath),
      ]);
      const doc = JSON.parse(stdout) as { start: number; step: number; values: (number | null)[] };
      const index = (slot - doc.start) / doc.step;
      return doc.values[index] ?? null;
    },
  };
}

export interface CarbonRelay {
  readonly port: number;
}

/**
 * carbon-c-relay on a free port (TCP and UDP), forwarding every line to 127.0.0.1:`target`.
 * carbon-c-relay 3.7.3 (Debian 12) now and then dies with SIGSEGV right after it starts
 * listening, on this loaded machine (seen in about one run in ten, before any client sent a
 * line); it is started again then, up to three times, and the crash is left in the output.
 */
export async function startCarbonCRelay(registry: ProcessRegistry, target: number): Promise<CarbonRelay> {
  const dir = registry.tempDir('carbon-c-relay');
  const conf = path.join(dir, 'relay.conf');
  fs.writeFileSync(conf, `cluster out forward 127.0.0.1:${target};\nmatch * send to out stop;\n`);
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    // -s: submission mode (no statistics lines of its own in the stream).
    const child = await registry.spawn('carbon-c-relay', CARBON_C_RELAY_BINARY, ['-f', conf, '-p', String(port), '-s', '-w', '1']);
    await waitForPort(port, '127.0.0.1', 15_000, child);
    await new Promise((r) => setTimeout(r, 500));
    const exit = child.exitStatus();
    if (exit === null) return { port };
    if (attempt >= 3) throw new Error(`carbon-c-relay keeps dying (${exit.signal ?? exit.code}):\n${child.output()}`);
  }
}
