/**
 * The built-in `prometheus_textfile` plugin: the same exposition written as a `.prom` file
 * for node_exporter's textfile collector (`--collector.textfile.directory`), for sites that
 * already scrape node_exporter on every host and want no extra port:
 *
 *   prometheus_textfile {
 *     dir "/var/lib/prometheus/node-exporter"   # required
 *     file gmetad.prom                          # default gmetad.prom
 *     prefix ganglia_                           # default ganglia_
 *     health on                                 # gmetad_* families (default on)
 *   }
 *
 * The file is rewritten once per root-summary step (the shortest polling interval, at most
 * 15 s) when the tree changed, atomically: written to a hidden temporary name in the same
 * directory (node_exporter reads only *.prom) and renamed over the old one, so a scrape
 * never sees half a file. No process_* families: node_exporter has its own. node_exporter
 * reports the file's mtime (node_textfile_mtime_seconds): alert on it to catch a stopped gmetad.
 */
import { promises as fs, statSync } from 'node:fs';
import * as path from 'node:path';
import type { TreeView } from '../../store/store';
import type { GmetadPlugin, PluginContext, PluginEvent, PluginStatus } from '../api';
import type { PluginSettings } from '../settings';
import { DEFAULT_EXPOSITION, ExpositionRenderer, newRenderCounts } from './exposition';

export const PROMETHEUS_TEXTFILE_PLUGIN_NAME = 'prometheus_textfile';

interface TextfileSettings {
  readonly dir: string;
  readonly file: string;
  readonly prefix: string;
  readonly health: boolean;
}

function readSettings(settings: PluginSettings): TextfileSettings {
  const dir = settings.string('dir', { required: true });
  if (!path.isAbsolute(dir)) throw settings.error('dir', `must be an absolute path: "${dir}"`);
  let isDir = false;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    // reported below
  }
  if (!isDir) throw settings.error('dir', `no such directory: "${dir}"`);
  const file = settings.string('file', { default: 'gmetad.prom' });
  if (!/^[^/]+\.prom$/.test(file)) throw settings.error('file', `must be a file name ending in .prom: "${file}"`);
  const prefix = settings.string('prefix', { default: 'ganglia_' });
  if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(prefix)) throw settings.error('prefix', `not a valid metric name prefix: "${prefix}"`);
  return { dir, file, prefix, health: settings.boolean('health', { default: true }) };
}

export function createPrometheusTextfilePlugin(context: PluginContext): GmetadPlugin {
  let settings = readSettings(context.settings);
  let renderer = new ExpositionRenderer({ ...DEFAULT_EXPOSITION, prefix: settings.prefix, health: settings.health, processMetrics: false });
  const counters = { writes: 0, errors: 0, lastWriteMs: 0, lastSeries: 0, lastBytes: 0 };
  let lastVersion = -1;

  const write = async (view: TreeView): Promise<void> => {
    const started = performance.now();
    const target = path.join(settings.dir, settings.file);
    const temp = path.join(settings.dir, `.${settings.file}.${process.pid}.tmp`);
    const counts = newRenderCounts();
    let bytes = 0;
    const handle = await fs.open(temp, 'w', 0o644);
    try {
      const input = { view, now: Math.floor(context.clock() / 1000), stats: context.stats, bootTimeMs: context.stats.bootTime };
      for await (const text of renderer.render(input, counts)) {
        const chunk = Buffer.from(text, 'utf8');
        await handle.write(chunk);
        bytes += chunk.length;
      }
    } catch (err) {
      await handle.close();
      await fs.rm(temp, { force: true });
      throw err;
    }
    await handle.close();
    await fs.rename(temp, target);
    counters.writes += 1;
    counters.lastWriteMs = Math.round(performance.now() - started);
    counters.lastSeries = counts.series;
    counters.lastBytes = bytes;
  };

  return {
    name: PROMETHEUS_TEXTFILE_PLUGIN_NAME,
    events: ['root'],
    async notify(event: PluginEvent): Promise<void> {
      if (event.kind !== 'root') return;
      const view = context.currentView();
      if (view.version === lastVersion) return;
      try {
        await write(view);
        lastVersion = view.version;
      } catch (err) {
        counters.errors += 1;
        throw err;
      }
    },
    reload(next: PluginContext): void {
      settings = readSettings(next.settings);
      renderer = new ExpositionRenderer({ ...DEFAULT_EXPOSITION, prefix: settings.prefix, health: settings.health, processMetrics: false });
      lastVersion = -1;
    },
    status(): PluginStatus {
      return { ...counters, file: path.join(settings.dir, settings.file) };
    },
  };
}
