import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import pino from 'pino';
import { formatLogLine } from '../../src/daemon/logger';
import { PluginChain } from '../../src/plugins/chain';
import { type StructuredLogger, withFields } from '../../src/util/logging';
import { DaemonStats } from '../../src/util/stats';
import { recordingLogger } from '../helpers/recording-logger';

/** pino writing its JSON lines into an array, as the daemon's logger does into its stream. */
function pinoLines(): { logger: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const out = new Writable({ write(chunk: Buffer, _e, done) { for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l)); done(); } });
  return { logger: pino({ base: undefined, level: 'debug' }, out), lines };
}

test('one logger type: a message, fields and a message, or fields alone; pino is one', () => {
  const { logger: p, lines } = pinoLines();
  const logger: StructuredLogger = p;
  logger.info('plain');
  logger.warn({ source: 'a' }, 'with fields');
  logger.debug({ only: 1 });
  assert.deepEqual(lines.map((l) => [l.msg, l.source, l.only]), [['plain', undefined, undefined], ['with fields', 'a', undefined], [undefined, undefined, 1]]);
});

test('withFields adds its fields to every line, through pino children and simple loggers alike', () => {
  const rec = recordingLogger();
  const child = withFields(withFields(rec.logger, { plugin: 'x' }), { data_source: 'd' });
  child.info('started');
  child.error({ n: 2, plugin: 'own' }, 'failed');
  assert.deepEqual(rec.lines, [
    { level: 'info', fields: { plugin: 'x', data_source: 'd' }, msg: 'started' },
    { level: 'error', fields: { plugin: 'own', data_source: 'd', n: 2 }, msg: 'failed' },
  ]);
  const { logger: p, lines } = pinoLines();
  withFields(p, { plugin: 'y' }).warn('w');
  assert.equal(lines[0]!.plugin, 'y');
});

test('errors are logged with their stack: pino serializes err, the terminal format keeps it', () => {
  const { logger, lines } = pinoLines();
  const err = new Error('boom');
  logger.error({ err }, 'it failed');
  const logged = lines[0]!.err as { type: string; message: string; stack: string };
  assert.equal(logged.message, 'boom');
  assert.equal(logged.stack, err.stack);
  assert.match(formatLogLine(JSON.stringify(lines[0])), /ERROR it failed err=.*"stack":"Error: boom\\n {4}at /);
});

test('a plugin that throws is logged with the Error itself (so its stack), not only its message', async () => {
  const rec = recordingLogger();
  const chain = new PluginChain([{ name: 'thrower', notify: () => { throw new Error('bad plugin'); } }], rec.logger, new DaemonStats());
  await chain.start();
  chain.notify({ kind: 'root', summary: undefined as never, time: 0, step: 15, view: undefined as never });
  await chain.forceFlush();
  const line = rec.lines.find((l) => l.level === 'error');
  assert.ok(line, JSON.stringify(rec.lines));
  assert.ok(line.fields.err instanceof Error);
  assert.match((line.fields.err as Error).stack ?? '', /bad plugin\n\s+at /);
});
