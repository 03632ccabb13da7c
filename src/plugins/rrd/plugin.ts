/**
 * The built-in RRD plugin (on when `write_rrds` is on, as in the C gmetad): per-host and
 * __SummaryInfo__ RRDs through rrdcached when `rrdcached_address` / RRDCACHED_ADDRESS is
 * set, otherwise through long-lived `rrdtool -` processes.
 *
 * Its `rrd { ... }` section may set:
 *   write_behind N       seconds of values gathered per file per rrdtool update (default 120;
 *                        0 writes every value at once; ignored with rrdcached, which batches itself)
 *   rrdtool_processes N  how many `rrdtool -` processes to run (default 2)
 */
import * as fs from 'node:fs';
import type { GmetadPlugin, PluginContext, PluginEvent } from '../api';
import { setting } from '../api';
import { resolveRrdcachedAddress } from './rrdcached-client';
import { RrdWriter } from './rrd-writer';

export const RRD_PLUGIN_NAME = 'rrd';

function nonNegativeInteger(context: PluginContext, key: string): number | undefined {
  const text = setting(context.settings, key);
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text)) throw new Error(`${RRD_PLUGIN_NAME} { ${key} }: expected a whole number, got "${text}"`);
  return Number(text);
}

export function createRrdPlugin(context: PluginContext): GmetadPlugin {
  const { config } = context;
  // Refuse to start, like the C gmetad, when the tree's root is missing: one clear line.
  let rootStat: fs.Stats;
  try {
    rootStat = fs.statSync(config.rrdRootdir);
  } catch {
    throw new Error(`rrd_rootdir ${config.rrdRootdir}: no such directory`);
  }
  if (!rootStat.isDirectory()) throw new Error(`rrd_rootdir ${config.rrdRootdir}: not a directory`);

  const rrdcachedAddress = resolveRrdcachedAddress(config.rrdcachedAddress);
  const writer = new RrdWriter({
    rootDir: config.rrdRootdir,
    rras: config.rras,
    caseSensitiveHostnames: config.caseSensitiveHostnames,
    umask: config.umask,
    backend: rrdcachedAddress ? 'rrdcached' : 'rrdtool',
    ...(rrdcachedAddress ? { rrdcachedAddress } : {}),
    logger: context.logger,
    stats: context.stats,
    clock: context.clock,
    writeBehindSeconds: nonNegativeInteger(context, 'write_behind'),
    rrdtoolProcesses: nonNegativeInteger(context, 'rrdtool_processes'),
  });
  context.logger.info({ backend: writer.backend, rrd_rootdir: config.rrdRootdir, rrdcached: rrdcachedAddress },
    'writing RRDs');

  return {
    name: RRD_PLUGIN_NAME,
    notify(event: PluginEvent): void {
      if (event.kind === 'source') writer.writeSnapshot(event.snapshot, event.step);
      else writer.writeRootSummary(event.summary, event.time, event.step);
    },
    flush: () => writer.flush(),
    stop: () => writer.close(),
  };
}
