/**
 * The real Ganglia web frontend (Debian's ganglia-webfrontend, "gweb" 3.7.5, PHP) as a
 * client of a gmetad under test: a private copy of /usr/share/ganglia-webfrontend with its
 * own conf.php and PHP 8 fixes, served by `php -S` on a free loopback port.
 *
 * gweb asks the gmetad's interactive port for XML (one "/path\n" per connection, read to
 * EOF) and runs rrdtool on the gmetad's rrd_rootdir for graphs.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { freePort } from './net';
import { waitFor, type ManagedProcess, type ProcessRegistry } from './processes';

export const GWEB_SOURCE_DIR = '/usr/share/ganglia-webfrontend';
export const PHP_BINARY = '/usr/bin/php';
/** Debian's conf.php loads JS/CSS from /javascript/... (the javascript-common alias). */
const SHARED_JAVASCRIPT_DIR = '/usr/share/javascript';
/** Default views and event files the package installs for gweb's writable state. */
const PACKAGE_STATE_CONF_DIR = '/var/lib/ganglia-web/conf';
/** gweb treats this port number as gmond's and then sends no request at all. */
const GMOND_PORT = 8649;

const FIXTURES = path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'gweb');
const PATCHES_FILE = path.join(FIXTURES, 'php8-patches.json');
const COMPAT_FILE = path.join(FIXTURES, 'php8-compat.php');


/** One literal source fix (see test/fixtures/gweb/php8-patches.json). */
export interface SourcePatch {
  /** Path relative to the gweb root. */
  readonly file: string;
  /** Exact text to replace; it must occur exactly `count` times. */
  readonly find: string;
  readonly replace: string;
  readonly count: number;
  readonly why: string;
}

export interface GwebOptions {
  /** The gmetad's interactive_port (never 8649). */
  readonly interactivePort: number;
  /** The gmetad's rrd_rootdir. */
  readonly rrdRootdir: string;
  readonly gmetadHost?: string;
  /** Port for php -S; default: a free one. */
  readonly port?: number;
  /** Address php -S listens on (default 127.0.0.1; the demo may open it to the network). */
  readonly bind?: string;
  /** PHP_CLI_SERVER_WORKERS (default 2). */
  readonly workers?: number;
  readonly startTimeoutMs?: number;
}

export interface HttpReply {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
  /** body as latin1 text. */
  readonly text: string;
}

export interface GwebHandle {
  /** e.g. http://127.0.0.1:PORT/ganglia/ */
  readonly baseUrl: string;
  readonly port: number;
  /** pid of `php -S`, also the id of its process group. */
  readonly pid: number;
  /** The private gweb copy (its conf.php is ours). */
  readonly rootDir: string;
  readonly process: ManagedProcess;
  /** GET baseUrl + `relative` (e.g. "?c=X&h=Y" or "api/search.php?..."). */
  get(relative: string, timeoutMs?: number): Promise<HttpReply>;
  /** PHP server log (errors and warnings; php -S's access lines). */
  log(): string;
  stop(): Promise<void>;
}

/** Why gweb cannot run here, or null if everything it needs is installed. */
export function gwebMissing(): string | null {
  const needed: ReadonlyArray<[string, string]> = [
    [path.join(GWEB_SOURCE_DIR, 'index.php'), 'ganglia-webfrontend'],
    [PHP_BINARY, 'php-cli'],
    ['/usr/bin/rrdtool', 'rrdtool'],
  ];
  const missing = needed.filter(([file]) => !fs.existsSync(file)).map(([, pkg]) => pkg);
  if (!missing.includes('php-cli')) {
    // gweb parses gmetad's XML with ext/xml; php-gd is part of the documented package set.
    for (const [extension, pkg] of [['xml', 'php-xml'], ['gd', 'php-gd']] as const) {
      const probe = spawnSync(PHP_BINARY, ['-r', `exit(extension_loaded('${extension}') ? 0 : 1);`], { stdio: 'ignore' });
      if (probe.status !== 0) missing.push(pkg);
    }
  }
  return missing.length > 0 ? `missing Debian packages: ${missing.join(' ')} (run scripts/setup.sh)` : null;
}

export function loadPhp8Patches(): SourcePatch[] {
  const doc = JSON.parse(fs.readFileSync(PATCHES_FILE, 'utf8')) as { patches: SourcePatch[] };
  return doc.patches;
}

/**
 * Applies each patch to the gweb copy under `root`. Throws if a find text does not occur
 * exactly as often as recorded (a different package version needs reviewed patches).
 */
export function applyPatches(root: string, patches: readonly SourcePatch[]): void {
  for (const patch of patches) {
    const file = path.join(root, patch.file);
    const source = fs.readFileSync(file, 'latin1');
    const found = source.split(patch.find).length - 1;
    if (found !== patch.count) {
      throw new Error(`gweb patch for ${patch.file}: expected ${patch.count} x ${JSON.stringify(patch.find)}, found ${found}`);
    }
    fs.writeFileSync(file, source.split(patch.find).join(patch.replace), 'latin1');
  }
}

function phpString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/**
 * conf.php for the private copy: Debian's JS/CSS paths (without its include of
 * /etc/ganglia-webfrontend/conf.php), the gmetad under test, private writable state, and
 * gweb's own caching off so every page asks the gmetad.
 */
export function gwebConfPhp(opts: {
  readonly packageConfPhp: string;
  readonly gmetadHost: string;
  readonly interactivePort: number;
  readonly rrdRootdir: string;
  readonly stateDir: string;
}): string {
  const packagePaths = opts.packageConfPhp.split('\n').filter((line) => line.startsWith("$conf['"));
  const conf = path.join(opts.stateDir, 'conf');
  const settings: Array<[string, string | number]> = [
    ['ganglia_ip', opts.gmetadHost],
    ['ganglia_port', opts.interactivePort],
    ['gmetad_root', path.dirname(opts.rrdRootdir)],
    ['rrds', opts.rrdRootdir],
    ['rrdtool', '/usr/bin/rrdtool'],
    ['rrdcached_socket', ''],
    ['auth_system', 'readonly'],
    // conf_default.php derives these from gweb_confdir before conf.php runs: set each.
    ['gweb_confdir', opts.stateDir],
    ['dwoo_compiled_dir', path.join(opts.stateDir, 'dwoo', 'compiled')],
    ['dwoo_cache_dir', path.join(opts.stateDir, 'dwoo', 'cache')],
    ['views_dir', conf],
    ['conf_dir', conf],
    ['overlay_events_file', path.join(conf, 'events.json')],
    ['overlay_events_color_map_file', path.join(conf, 'event_color.json')],
    ['cachefile', path.join(conf, 'ganglia_metrics.cache')],
    ['nagios_cache_file', path.join(conf, 'nagios_ganglia.cache')],
    // Otherwise the "/" index is cached 1200 s and api/metrics.php's dump 45 s.
    ['cachedata', 0],
    ['cachetime', 0],
    ['nagios_cache_enabled', 0],
  ];
  const lines = ['<?php', '# written by test/helpers/gweb.ts', ...packagePaths];
  for (const [key, value] of settings) {
    lines.push(`$conf['${key}'] = ${typeof value === 'number' ? String(value) : phpString(value)};`);
  }
  return lines.join('\n') + '\n';
}

/**
 * Builds the document root under `stateDir`: site/ganglia (patched copy + conf.php) and
 * site/javascript (link to the shared JS), plus gweb's writable state. Returns site/.
 */
export function buildGwebSite(opts: {
  readonly stateDir: string;
  readonly gmetadHost: string;
  readonly interactivePort: number;
  readonly rrdRootdir: string;
}): string {
  const site = path.join(opts.stateDir, 'site');
  const root = path.join(site, 'ganglia');
  // gweb resolves its root with dirname(__FILE__) (symlinks followed): a real copy is
  // the only way to give it a conf.php of its own.
  fs.cpSync(GWEB_SOURCE_DIR, root, { recursive: true });
  applyPatches(root, loadPhp8Patches());
  fs.symlinkSync(SHARED_JAVASCRIPT_DIR, path.join(site, 'javascript'));

  const state = path.join(opts.stateDir, 'state');
  const conf = path.join(state, 'conf');
  for (const dir of [path.join(state, 'dwoo', 'compiled'), path.join(state, 'dwoo', 'cache'), conf]) {
    fs.mkdirSync(dir, { recursive: true });
  }
  if (fs.existsSync(PACKAGE_STATE_CONF_DIR)) fs.cpSync(PACKAGE_STATE_CONF_DIR, conf, { recursive: true });
  for (const name of ['events.json', 'event_color.json']) {
    if (!fs.existsSync(path.join(conf, name))) fs.writeFileSync(path.join(conf, name), '[]\n');
  }
  fs.writeFileSync(
    path.join(root, 'conf.php'),
    gwebConfPhp({
      packageConfPhp: fs.readFileSync(path.join(GWEB_SOURCE_DIR, 'conf.php'), 'latin1'),
      gmetadHost: opts.gmetadHost,
      interactivePort: opts.interactivePort,
      rrdRootdir: opts.rrdRootdir,
      stateDir: state,
    }),
  );
  return site;
}

/** Plain HTTP GET; rejects on network errors or timeout. */
export function httpGet(url: string, timeoutMs = 20_000): Promise<HttpReply> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text: body.toString('latin1') });
      });
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`GET ${url}: no reply within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

/**
 * Builds a private gweb in a temp dir of `registry` and serves it with `php -S` on
 * 127.0.0.1. The registry's cleanup stops the server's whole process group.
 */
export async function startGweb(registry: ProcessRegistry, opts: GwebOptions): Promise<GwebHandle> {
  const missing = gwebMissing();
  if (missing) throw new Error(`gweb cannot run: ${missing}`);
  if (opts.interactivePort === GMOND_PORT) {
    throw new Error(`interactive port ${GMOND_PORT}: gweb would take the gmetad for a gmond and send no request`);
  }
  const stateDir = registry.tempDir('gweb');
  const site = buildGwebSite({
    stateDir,
    gmetadHost: opts.gmetadHost ?? '127.0.0.1',
    interactivePort: opts.interactivePort,
    rrdRootdir: path.resolve(opts.rrdRootdir),
  });
  const port = opts.port ?? (await freePort());
  const args = [
    // The cli-server SAPI honours opcache.enable (on in Debian): keep it from caching PHP.
    '-d', 'opcache.enable=0',
    '-d', `auto_prepend_file=${COMPAT_FILE}`,
    // Errors go to the server log (kept for diagnostics), never into pages or PNGs.
    '-d', 'display_errors=0',
    '-d', 'log_errors=1',
    '-d', 'error_reporting=E_ALL & ~E_DEPRECATED & ~E_NOTICE',
    '-d', 'memory_limit=256M',
    '-d', 'max_execution_time=60',
    '-d', 'default_socket_timeout=20',
    '-S', `${opts.bind ?? '127.0.0.1'}:${port}`,
    '-t', site,
  ];
  const child = await registry.spawn(`gweb php -S :${port}`, PHP_BINARY, args, {
    cwd: stateDir,
    env: { ...process.env, PHP_CLI_SERVER_WORKERS: String(opts.workers ?? 2) },
    processGroup: true,
  });
  const reachableAt = opts.bind === undefined || opts.bind === '0.0.0.0' ? '127.0.0.1' : opts.bind;
  const baseUrl = `http://${reachableAt}:${port}/ganglia/`;
  await waitFor(async () => (await httpGet(`${baseUrl}js/ganglia.js`, 2_000)).status === 200, {
    timeoutMs: opts.startTimeoutMs ?? 10_000,
    intervalMs: 100,
    description: `php -S on port ${port} to serve gweb`,
    process: child,
  });
  return {
    baseUrl,
    port,
    pid: child.pid,
    rootDir: path.join(site, 'ganglia'),
    process: child,
    get: (relative, timeoutMs) => httpGet(baseUrl + relative, timeoutMs),
    log: () => child.output(),
    stop: async () => {
      await child.stop();
    },
  };
}

