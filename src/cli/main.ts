/**
 * `gmetad` command line: the C gmetad's options plus gmetad-python's, then daemon life:
 * config check, detach, pid file, privileges, signals. Every start-up failure is one line on
 * stderr and exit status 1.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import yargs from 'yargs';
import { describeConfig } from '../config/describe';
import { loadConfig } from '../config/load';
import type { GmetadConfig } from '../config/types';
import { detachAndWait, isDetachedChild, reportToParent } from '../daemon/detach';
import { GmetadDaemon } from '../daemon/gmetad';
import { createLogger, type DaemonLogger } from '../daemon/logger';
import { removePidFile, writePidFile } from '../daemon/pidfile';
import { dropPrivileges } from '../daemon/privileges';
import { BUILTIN_PLUGINS } from '../plugins/builtins';
import { DaemonStats } from '../util/stats';

export const DEFAULT_CONF = '/etc/ganglia/gmetad.conf';
/** SIGTERM/SIGINT: a hard deadline so a stuck plugin or socket can never keep the process alive. */
export const SHUTDOWN_DEADLINE_MS = 30_000;

export interface CliOptions {
  readonly conf: string;
  readonly debug: number | undefined;
  readonly pidFile: string | null;
  readonly foreground: boolean;
  readonly logfile: string | null;
  readonly interactivePort: number | undefined;
  readonly xmlPort: number | undefined;
  readonly test: boolean;
}

export function packageVersion(): string {
  const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', '..', 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

/**
 * The option table, as yargs knows it. The man page (man/gmetad-ts.8) and the README list
 * the same options; a unit test compares them with this parser's getOptions().
 */
export function cliParser(argv: readonly string[]) {
  return yargs([...argv])
    .scriptName('gmetad')
    .usage('$0 [options]\n\ngmetad-ts: a drop-in replacement for the Ganglia meta daemon.')
    .option('conf', { alias: 'c', type: 'string', default: DEFAULT_CONF, describe: 'Location of gmetad configuration file' })
    .option('debug', { alias: 'd', type: 'number', describe: 'Debug level; above zero stays in the foreground and logs to stderr' })
    .option('pid-file', { alias: 'p', type: 'string', describe: 'Write process id to this file' })
    .option('foreground', { alias: 'f', type: 'boolean', default: false, describe: 'Run in the foreground (gmetad-python)' })
    .option('logfile', { alias: 'l', type: 'string', describe: 'Log to this file instead of syslog (gmetad-python)' })
    .option('interactive_port', { alias: 'i', type: 'number', describe: 'Override interactive_port (gmetad-python)' })
    .option('xml_port', { alias: 'x', type: 'number', describe: 'Override xml_port (gmetad-python)' })
    .option('test', { alias: 't', type: 'boolean', default: false, describe: 'Check the configuration, print it with defaults filled in, and exit' })
    .version(`gmetad-ts ${packageVersion()}`)
    .alias('version', 'V')
    .help('help')
    .alias('help', 'h')
    .strict()
    .fail((msg, err) => {
      throw err ?? new Error(msg);
    });
}

export function parseArgs(argv: readonly string[]): CliOptions {
  const args = cliParser(argv).parseSync();
  const port = (value: number | undefined, name: string): number | undefined => {
    if (value === undefined) return undefined;
    if (!Number.isInteger(value) || value < 1 || value > 65535) throw new Error(`--${name}: invalid port "${value}"`);
    return value;
  };
  return {
    conf: args.conf,
    debug: args.debug,
    pidFile: args['pid-file'] ?? null,
    foreground: args.foreground,
    logfile: args.logfile ?? null,
    interactivePort: port(args.interactive_port, 'interactive_port'),
    xmlPort: port(args.xml_port, 'xml_port'),
    test: args.test,
  };
}

function fail(message: string): never {
  reportToParent({ type: 'error', message });
  process.stderr.write(`gmetad: ${message}\n`);
  process.exit(1);
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export async function main(argv: readonly string[]): Promise<void> {
  let options: CliOptions;
  try {
    options = parseArgs(argv);
  } catch (err) {
    fail(errorMessage(err));
  }

  let config: GmetadConfig;
  try {
    config = loadConfig(options.conf, {
      onWarning: (w) => process.stderr.write(`gmetad: warning: ${w.message}\n`),
    });
  } catch (err) {
    fail(errorMessage(err));
  }

  if (options.test) {
    process.stdout.write(describeConfig(config));
    process.stderr.write(`gmetad: configuration file ${config.file} test is successful\n`);
    process.exit(0);
  }

  const debugLevel = options.debug ?? config.debugLevel;
  const foreground = options.foreground || debugLevel > 0;
  if (!foreground && !isDetachedChild()) {
    process.exit(await detachAndWait());
  }

  // Like the C gmetad: an explicit umask always applies; a daemon without one gets umask 0.
  if (config.umask !== null) process.umask(config.umask);
  else if (isDetachedChild()) process.umask(0);
  const logger = createLogger({ debugLevel, foreground, logfile: options.logfile });
  const stats = new DaemonStats();
  let daemon: GmetadDaemon | null = null;
  try {
    daemon = new GmetadDaemon(config, logger, stats, {
      xmlPort: options.xmlPort, interactivePort: options.interactivePort,
    }, BUILTIN_PLUGINS);
    if (options.pidFile) writePidFile(options.pidFile);
    await daemon.start(() => {
      // After the ports are bound, before any plugin process or file is created.
      if (!config.setuid) return;
      const ids = dropPrivileges(config.setuidUsername);
      if (ids) logger.info({ user: config.setuidUsername, uid: ids.uid }, 'dropped privileges');
    });
  } catch (err) {
    await daemon?.stop().catch(() => undefined);
    if (options.pidFile) removePidFile(options.pidFile);
    logger.flush?.();
    fail(errorMessage(err));
  }

  installSignalHandlers(daemon!, logger, options);
  reportToParent({ type: 'ready', pid: process.pid });
}

function installSignalHandlers(daemon: GmetadDaemon, logger: DaemonLogger, options: CliOptions): void {
  let shuttingDown = false;
  const shutdown = (signal: string) => {
    if (shuttingDown) return;
    shuttingDown = true;
    logger.info({ signal }, 'shutting down');
    setTimeout(() => {
      logger.error('shutdown took too long; exiting');
      process.exit(1);
    }, SHUTDOWN_DEADLINE_MS).unref();
    daemon.stop()
      .catch((err) => logger.error({ err }, 'error during shutdown'))
      .finally(() => {
        if (options.pidFile) removePidFile(options.pidFile);
        logger.flush?.();
        process.exit(0);
      });
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGHUP', () => {
    let next: GmetadConfig;
    try {
      next = loadConfig(options.conf, { onWarning: (w) => logger.warn(w.message) });
    } catch (err) {
      logger.error({ err: errorMessage(err) }, `reload failed; keeping the running configuration: ${errorMessage(err)}`);
      return;
    }
    daemon.reload(next).catch((err) => logger.error({ err: errorMessage(err) },
      `reload failed: ${errorMessage(err)}`));
  });
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((err) => fail(errorMessage(err)));
}
