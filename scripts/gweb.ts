/**
 * Serves the real Ganglia web frontend (Debian's ganglia-webfrontend with the PHP 8 fixes
 * of test/helpers/gweb.ts) for a running gmetad until Ctrl-C, for scripts/demo.sh:
 *
 *   node dist/scripts/gweb.js --interactive-port 8652 --rrd-rootdir /tmp/gmetad-ts-demo/rrds
 *
 * Prints the URL to open once the pages answer. The private gweb copy lives in a
 * temporary directory that is removed on exit, together with the php -S process group.
 */
import * as os from 'node:os';
import yargs from 'yargs';
import { canConnect, ProcessRegistry } from '../test/helpers/processes';
import { freePort } from '../test/helpers/net';
import { gwebMissing, startGweb } from '../test/helpers/gweb';

interface GwebCliOptions {
  readonly interactivePort: number;
  readonly rrdRootdir: string;
  readonly gmetadHost: string;
  readonly port: number;
  readonly bind: string;
}

function parseOptions(argv: readonly string[]): GwebCliOptions {
  const args = yargs([...argv])
    .scriptName('gweb')
    .option('interactive-port', { type: 'number', demandOption: true, describe: "the gmetad's interactive_port" })
    .option('rrd-rootdir', { type: 'string', demandOption: true, describe: "the gmetad's rrd_rootdir" })
    .option('gmetad-host', { type: 'string', default: '127.0.0.1', describe: 'where the gmetad runs' })
    .option('port', { type: 'number', default: 8080, describe: 'HTTP port; a free one if it is taken' })
    .option('bind', { type: 'string', default: '127.0.0.1', describe: 'address to listen on (0.0.0.0: every interface)' })
    .strict()
    .parseSync();
  return {
    interactivePort: args['interactive-port'],
    rrdRootdir: args['rrd-rootdir'],
    gmetadHost: args['gmetad-host'],
    port: args.port,
    bind: args.bind,
  };
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const missing = gwebMissing();
  if (missing) throw new Error(missing);
  const registry = new ProcessRegistry();
  let stopping = false;
  const stop = async (status: number) => {
    if (stopping) return;
    stopping = true;
    await registry.cleanup();
    process.exit(status);
  };
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));
  try {
    const probeHost = options.bind === '0.0.0.0' ? '127.0.0.1' : options.bind;
    const port = (await canConnect(options.port, probeHost)) ? await freePort(probeHost) : options.port;
    if (port !== options.port) process.stderr.write(`gweb: port ${options.port} is taken, using ${port}\n`);
    process.stdout.write('gweb: starting the Ganglia web frontend (a private copy of Debian\'s gweb under php -S)\n');
    const gweb = await startGweb(registry, {
      interactivePort: options.interactivePort,
      rrdRootdir: options.rrdRootdir,
      gmetadHost: options.gmetadHost,
      port,
      bind: options.bind,
      workers: 4,
      // The first start copies gweb (3 MB) and php forks its workers: slow on a busy machine.
      startTimeoutMs: 30_000,
    });
    const shown = options.bind === '0.0.0.0' ? gweb.baseUrl.replace('127.0.0.1', os.hostname()) : gweb.baseUrl;
    process.stdout.write(`gweb: the Ganglia web frontend is at ${shown}  (open it in a browser)\n`);
    const exit = await gweb.process.exited;
    if (stopping) return; // Ctrl-C: stop() ended it
    process.stderr.write(`gweb: php -S exited (${JSON.stringify(exit)})\n${gweb.log()}\n`);
    await stop(1);
  } catch (err) {
    process.stderr.write(`gweb: ${err instanceof Error ? err.message : String(err)}\n`);
    await stop(1);
  }
}

void main();
