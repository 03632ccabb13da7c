/**
 * The real C gmetad 3.7.2 (Debian package) as a reference daemon, plus the gmetad.conf
 * writer and start-up waiting that our-gmetad.ts shares (both daemons read the same file).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { freePort, rawRequest } from './net';
import { waitFor, waitForPort, type ManagedProcess, type ProcessRegistry } from './processes';

export const C_GMETAD_BINARY = '/usr/sbin/gmetad';

export interface DataSourceSpec {
  readonly name: string;
  /** Poll interval in seconds. */
  readonly step: number;
  /** "host:port" strings, tried in order. */
  readonly addresses: readonly string[];
}

export interface GmetadOptions {
  readonly dataSources: readonly DataSourceSpec[];
  readonly gridname: string;
  readonly authority?: string;
  readonly xmlPort?: number;
  readonly interactivePort?: number;
  /** Default: a temp dir of the registry. */
  readonly rrdRootdir?: string;
  /** Default false: tests that do not look at RRDs should not pay for them. */
  readonly writeRrds?: boolean;
  /** Extra gmetad.conf lines, verbatim. */
  readonly extra?: readonly string[];
  /**
   * CLUSTER or GRID NAMEs (as in the sources' XML, not data_source names) that must
   * appear in the XML port dump before start returns: "the first poll has landed".
   */
  readonly expectNames?: readonly string[];
  readonly readyTimeoutMs?: number;
}

export interface GmetadHandle {
  readonly xmlPort: number;
  readonly interactivePort: number;
  readonly pid: number;
  readonly confPath: string;
  readonly rrdRootdir: string;
  readonly process: ManagedProcess;
  /** Full XML port dump. */
  dump(): Promise<string>;
  /** Raw reply of the interactive port to `request` (sent verbatim). */
  ask(request: string): Promise<string>;
  stop(): Promise<void>;
}

export interface ResolvedGmetadOptions extends GmetadOptions {
  readonly xmlPort: number;
  readonly interactivePort: number;
  readonly rrdRootdir: string;
}

/** Fills in free ports and a temp rrd_rootdir. */
export async function resolveGmetadOptions(
  registry: ProcessRegistry,
  opts: GmetadOptions,
  label: string,
): Promise<ResolvedGmetadOptions> {
  return {
    ...opts,
    xmlPort: opts.xmlPort ?? (await freePort()),
    interactivePort: opts.interactivePort ?? (await freePort()),
    rrdRootdir: opts.rrdRootdir ?? registry.tempDir(`${label}-rrds`),
  };
}

/** gmetad.conf text understood by both the C gmetad and ours. */
export function gmetadConfig(opts: ResolvedGmetadOptions): string {
  const quoted = (v: string) => {
    if (/["\n]/.test(v)) throw new Error(`unsupported character in gmetad.conf value: ${v}`);
    return `"${v}"`;
  };
  const lines = ['# written by the gmetad-ts integration tests', 'debug_level 1'];
  for (const ds of opts.dataSources) {
    lines.push(`data_source ${quoted(ds.name)} ${ds.step} ${ds.addresses.join(' ')}`);
  }
  lines.push(`gridname ${quoted(opts.gridname)}`);
  if (opts.authority !== undefined) lines.push(`authority ${quoted(opts.authority)}`);
  lines.push(
    'trusted_hosts 127.0.0.1',
    'setuid off',
    `xml_port ${opts.xmlPort}`,
    `interactive_port ${opts.interactivePort}`,
    `rrd_rootdir ${quoted(opts.rrdRootdir)}`,
    `write_rrds ${opts.writeRrds ? 'on' : 'off'}`,
    ...(opts.extra ?? []),
  );
  return lines.join('\n') + '\n';
}

export function writeGmetadConfig(registry: ProcessRegistry, opts: ResolvedGmetadOptions, label: string): string {
  const dir = registry.tempDir(`${label}-conf`);
  const confPath = path.join(dir, 'gmetad.conf');
  fs.writeFileSync(confPath, gmetadConfig(opts));
  return confPath;
}

export async function readDump(port: number, timeoutMs = 10_000): Promise<string> {
  const reply = await rawRequest(port, null, { timeoutMs });
  if (reply.ended !== 'eof') throw new Error(`XML port ${port} ended with ${reply.ended}`);
  return reply.data.toString('latin1');
}

export async function askInteractive(port: number, request: string, timeoutMs = 10_000): Promise<string> {
  const reply = await rawRequest(port, Buffer.from(request, 'latin1'), { timeoutMs });
  return reply.data.toString('latin1');
}

/** True if a dump lists a CLUSTER or a non-root GRID called `name`. */
export function dumpHasNode(dump: string, name: string): boolean {
  const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`<CLUSTER NAME="${escaped}"`).test(dump) || new RegExp(`<GRID NAME="${escaped}"`).test(dump);
}

/** Waits for both ports and for every expected node, then wraps the process in a handle. */
export async function awaitGmetadReady(
  child: ManagedProcess,
  opts: ResolvedGmetadOptions,
  confPath: string,
): Promise<GmetadHandle> {
  await waitForPort(opts.xmlPort, '127.0.0.1', 15_000, child);
  await waitForPort(opts.interactivePort, '127.0.0.1', 15_000, child);
  const expected = opts.expectNames ?? [];
  if (expected.length > 0) {
    await waitFor(
      async () => {
        const dump = await readDump(opts.xmlPort);
        return expected.every((name) => dumpHasNode(dump, name));
      },
      {
        timeoutMs: opts.readyTimeoutMs ?? 30_000,
        intervalMs: 250,
        description: `${child.name} to list ${expected.join(', ')}`,
        process: child,
      },
    );
  }
  return {
    xmlPort: opts.xmlPort,
    interactivePort: opts.interactivePort,
    pid: child.pid,
    confPath,
    rrdRootdir: opts.rrdRootdir,
    process: child,
    dump: () => readDump(opts.xmlPort),
    ask: (request) => askInteractive(opts.interactivePort, request),
    stop: async () => {
      await child.stop();
    },
  };
}

/** Starts /usr/sbin/gmetad in the foreground (-d 1) and waits for its first poll. */
export async function startCGmetad(registry: ProcessRegistry, opts: GmetadOptions): Promise<GmetadHandle> {
  const resolved = await resolveGmetadOptions(registry, opts, 'c-gmetad');
  const confPath = writeGmetadConfig(registry, resolved, 'c-gmetad');
  const child = await registry.spawn(`C gmetad ${opts.gridname}`, C_GMETAD_BINARY, ['-d', '1', '-c', confPath]);
  return awaitGmetadReady(child, resolved, confPath);
}
