/**
 * The built-in RRD plugin (on when `write_rrds` is on, as in the C gmetad): per-host and
 * __SummaryInfo__ RRDs through rrdcached when `rrdcached_address` / RRDCACHED_ADDRESS is
 * set, otherwise in-process (native/) with long-lived `rrdtool -` processes for creates
 * and for files the native updater hands back.
 *
 * Its `rrd { ... }` section may set:
 *   write_behind N       seconds of values gathered per file per rrdtool update (default 0:
 *                        every value is written at once, as the C gmetad does; N > 0 spends
 *                        less CPU and lets graphs lag up to N s; ignored with rrdcached)
 *   rrdtool_processes N  how many `rrdtool -` processes to run (default 2)
 *   rrd_rootdir DIR, RRAs "RRA:..." ...
 *                        where gmetad-python's configuration keeps them: they take the place
 *                        of the top-level directives, so its file keeps writing the same tree
 *   native_updates on|off  update files in-process (default on; see native/), with rrdtool
 *                        for files the native updater does not understand
 *   native_creates on|off  create files in-process, the bytes `rrdtool create` writes
 *                        (default: as native_updates), with rrdtool create for definitions
 *                        it does not understand (Holt-Winters RRAs, time-unit steps...)
 * and, like every plugin, queue_size and deadline.
 */
import * as fs from 'node:fs';
import type { GmetadPlugin, PluginContext, PluginEvent, PluginStatus } from '../api';
import { resolveRrdcachedAddress } from './rrdcached-client';
import { RrdWriter } from './rrd-writer';

export const RRD_PLUGIN_NAME = 'rrd';

export function createRrdPlugin(context: PluginContext): GmetadPlugin {
  const { config, settings } = context;
  const writeBehindSeconds = settings.integer('write_behind', { min: 0 });
  const rrdtoolProcesses = settings.integer('rrdtool_processes', { min: 1, max: 64 });
  const rootDir = settings.string('rrd_rootdir') ?? config.rrdRootdir;
  const rras = sectionRras(settings) ?? config.rras;
  const nativeUpdates = settings.boolean('native_updates');
  const nativeCreates = settings.boolean('native_creates');
  // Refuse to start, like the C gmetad, when the tree's root is missing: one clear line.
  let rootStat: fs.Stats;
  try {
    rootStat = fs.statSync(rootDir);
  } catch {
    throw new Error(`rrd_rootdir ${rootDir}: no such directory`);
  }
  if (!rootStat.isDirectory()) throw new Error(`rrd_rootdir ${rootDir}: not a directory`);

  const rrdcachedAddress = resolveRrdcachedAddress(config.rrdcachedAddress);
  const writer = new RrdWriter({
    rootDir,
    rras,
    caseSensitiveHostnames: config.caseSensitiveHostnames,
    umask: config.umask,
    backend: rrdcachedAddress ? 'rrdcached' : 'rrdtool',
    ...(rrdcachedAddress ? { rrdcachedAddress } : {}),
    logger: context.logger,
    stats: context.stats,
    clock: context.clock,
    writeBehindSeconds,
    rrdtoolProcesses,
    ...(nativeUpdates !== undefined ? { nativeUpdates } : {}),
    ...(nativeCreates !== undefined ? { nativeCreates } : {}),
  });
  context.logger.info({ backend: writer.backend, rrd_rootdir: rootDir, rrdcached: rrdcachedAddress },
    'writing RRDs');

  return {
    name: RRD_PLUGIN_NAME,
    events: ['source', 'root'],
    notify(event: PluginEvent): Promise<void> | void {
      if (event.kind === 'source') {
        // Files of sources removed by a reload are forgotten (memory follows the tree).
        writer.retainSources(new Set(event.view.sources.map((s) => s.config.name)));
        return writer.writeSnapshot(event.snapshot, event.step);
      }
      if (event.kind === 'root') return writer.writeRootSummary(event.summary, event.time, event.step);
    },
    status: (): PluginStatus => writer.status(),
    flush: () => writer.flush(),
    stop: () => writer.close(),
  };
}

/** gmetad-python's `rrd { RRAs "RRA:CF:xff:steps:rows" ... }`, checked like the top-level directive. */
function sectionRras(settings: PluginContext['settings']): string[] | undefined {
  const values = settings.strings('RRAs');
  if (values.length === 0) return undefined;
  for (const rra of values) {
    if (!/^RRA:[A-Za-z_]+(?::[^:\s]+){2,}$/.test(rra)) throw settings.error('RRAs', `invalid RRA "${rra}" (expected RRA:CF:xff:steps:rows)`);
  }
  return [...values];
}
