/**
 * An example gmetad-ts plugin: appends one JSON line per polled cluster (its name, the
 * poll time, HOSTS UP/DOWN and the SUM of one metric) to a file.
 *
 * `npm run build` compiles it to dist/examples/summary-log.js; point `plugins_dir` at the
 * directory holding the compiled module and configure it in gmetad.conf:
 *
 *   plugins_dir "/opt/gmetad-ts/dist/examples"
 *   summary-log {
 *     path "/var/log/ganglia/summaries.jsonl"
 *     metric load_one
 *     queue_size 16        # optional, every plugin: events waiting before drops (default 64)
 *     deadline 10s         # optional, every plugin: how long one notify() may take (default 60s)
 *   }
 *
 * A missing `path` stops start-up with one line naming the section's file:line. On SIGHUP
 * the plugin takes its new settings through reload() without losing a line.
 *
 * Outside this repository, import the types from the package: `from 'gmetad-ts'`.
 */
import { promises as fs } from 'node:fs';
import type { GmetadPlugin, PluginContext, PluginEvent, PluginSettings } from '../src/index';
import { formatSum } from '../src/index';

export const name = 'summary-log';

interface Settings {
  readonly file: string;
  readonly metric: string;
}

/** Validated once, at load and at each SIGHUP; errors carry the file:line of the directive. */
function read(settings: PluginSettings): Settings {
  return {
    file: settings.string('path', { required: true }),
    metric: settings.string('metric', { default: 'load_one' }),
  };
}

export function createPlugin(context: PluginContext): GmetadPlugin {
  let { file, metric } = read(context.settings);
  let pending: Promise<void> = Promise.resolve();
  let lines = 0;

  return {
    name,
    reload(next: PluginContext): void {
      ({ file, metric } = read(next.settings));
    },
    status: () => ({ lines, file }),
    notify(event: PluginEvent): Promise<void> {
      if (event.kind !== 'source') return Promise.resolve();
      const out = event.snapshot.nodes.map((node) => {
        const m = node.summary.metrics.get(metric);
        return JSON.stringify({
          source: event.snapshot.source,
          [node.kind]: node.name,
          polledAt: event.snapshot.polledAt,
          up: node.summary.hostsUp,
          down: node.summary.hostsDown,
          [metric]: m ? formatSum(m) : null,
        });
      });
      // Returning the promise lets the chain apply its deadline and keep order.
      const target = file;
      pending = pending.then(() => fs.appendFile(target, out.map((l) => `${l}\n`).join('')))
        .then(() => { lines += out.length; });
      return pending;
    },
    flush: () => pending,
  };
}
