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
 *   }
 *
 * Outside this repository, import the types from the package: `from 'gmetad-ts'`.
 */
import { promises as fs } from 'node:fs';
import type { GmetadPlugin, PluginContext, PluginEvent } from '../src/index';
import { formatSum, setting } from '../src/index';

export const name = 'summary-log';

export function createPlugin(context: PluginContext): GmetadPlugin {
  const file = setting(context.settings, 'path');
  if (!file) throw new Error('summary-log { path "FILE" } is required');
  const metric = setting(context.settings, 'metric') ?? 'load_one';
  let pending: Promise<void> = Promise.resolve();

  return {
    name,
    notify(event: PluginEvent): Promise<void> {
      if (event.kind !== 'source') return Promise.resolve();
      const lines = event.snapshot.nodes.map((node) => {
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
      pending = pending.then(() => fs.appendFile(file, lines.map((l) => `${l}\n`).join('')));
      return pending;
    },
    flush: () => pending,
  };
}
