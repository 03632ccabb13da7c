/**
 * An example gmetad-ts plugin written as a plain ES module (.mjs, loaded with import()):
 * appends a line to a file whenever a data source goes down or comes back, and shows in
 * /status (under plugins.source-alerts) how many of each it saw and, read on demand from
 * the current tree (the "pull" side of the API), how many sources are down right now.
 *
 * Copy it into `plugins_dir` and configure it in gmetad.conf:
 *
 *   source-alerts {
 *     path "/var/log/ganglia/source-alerts.log"
 *   }
 *
 * With TypeScript or a JSDoc-aware editor, the types come from the package:
 * @typedef {import('gmetad-ts').PluginContext} PluginContext
 * @typedef {import('gmetad-ts').GmetadPlugin} GmetadPlugin
 * @typedef {import('gmetad-ts').PluginEvent} PluginEvent
 */
import { appendFile } from 'node:fs/promises';

export const name = 'source-alerts';

/** @param {PluginContext} context @returns {GmetadPlugin} */
export function createPlugin(context) {
  let file = context.settings.string('path', { required: true });
  const seen = { down: 0, up: 0 };
  return {
    name,
    // Only these kinds reach notify(); the default is ['source', 'root'].
    events: ['source-down', 'source-up'],
    /** @param {PluginEvent} event */
    async notify(event) {
      if (event.kind === 'source-down') {
        seen.down += 1;
        await appendFile(file, `${event.time} ${event.source} down: ${event.error}\n`);
      } else if (event.kind === 'source-up') {
        seen.up += 1;
        await appendFile(file, `${event.time} ${event.source} up\n`);
      }
    },
    /** SIGHUP: a new path applies from the next event on. @param {PluginContext} next */
    reload(next) {
      file = next.settings.string('path', { required: true });
    },
    status() {
      const sourcesDown = context.currentView().sources.filter((s) => s.dead).length;
      return { down: seen.down, up: seen.up, sourcesDown, file };
    },
  };
}
