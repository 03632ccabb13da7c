/**
 * The RRD update thread (see update-thread.ts): applies the batches the port thread sends,
 * in order, with one NativeRrdUpdater, and answers each with how many updates were written
 * and which were not, and why.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import type { StructuredLogger } from '../../../util/logging';
import { toPathBytes } from '../rrd-paths';
import { NativeRrdUpdater, RrdUpdateError, type NativeRrdFile } from './native-updater';
import { UpdateOp, type FromUpdateWorker, type ToUpdateWorker, type UpdateProblemKind, type UpdateWorkerData } from './update-thread';

const port = parentPort;
if (port === null) throw new Error('update-worker.js runs only as a worker thread');

// Created by the port thread, this thread has its nice value, which may be raised
// (util/thread-priority): file updates are bulk work and go back to the process's value.
const { baseNice } = workerData as UpdateWorkerData;
try {
  if (os.getPriority(0) !== baseNice) os.setPriority(0, baseNice);
} catch {
  // Raising a nice value is always permitted on Linux; elsewhere the updates go on as they are.
}
try {
  fs.writeFileSync('/proc/thread-self/comm', 'gmetad-rrd');
} catch {
  // not Linux, or /proc not mounted: only a name
}

/** The updater logs through the port thread's logger. */
const logTo = (level: 'debug' | 'info' | 'warn' | 'error') => (fieldsOrMsg: object | string, msg?: string): void => {
  const message: FromUpdateWorker = typeof fieldsOrMsg === 'string'
    ? { type: 'log', level, fields: {}, msg: fieldsOrMsg }
    : { type: 'log', level, fields: fieldsOrMsg, msg: msg ?? '' };
  port.postMessage(message);
};
const logger: StructuredLogger = { debug: logTo('debug'), info: logTo('info'), warn: logTo('warn'), error: logTo('error') };

const native = new NativeRrdUpdater({ logger });
/** The files by the ids the port thread gave them. */
const files: (NativeRrdFile | undefined)[] = [];
const ASCII_ONLY = /^[\u0000-\u007f]*$/;

function problemOf(err: unknown): [UpdateProblemKind, string] {
  if (err instanceof RrdUpdateError) return [err.kind, err.message];
  return ['io', err instanceof Error ? err.message : String(err)];
}

port.on('message', (message: ToUpdateWorker) => {
  if (message.type === 'close') {
    native.close();
    port.close();
    return;
  }
  const { ops, ids, times, texts } = message;
  let updated = 0;
  const problems: [number, UpdateProblemKind, string][] = [];
  for (let i = 0; i < ops.length; i++) {
    const id = ids[i]!;
    switch (ops[i] as UpdateOp) {
      case UpdateOp.Define: {
        const bytePath = texts[i]!;
        files[id] = native.file(ASCII_ONLY.test(bytePath) ? bytePath : toPathBytes(bytePath));
        break;
      }
      case UpdateOp.Forget: {
        const file = files[id];
        if (file !== undefined) native.forget(file);
        files[id] = undefined;
        break;
      }
      case UpdateOp.Update:
      case UpdateOp.UpdateArguments: {
        const file = files[id];
        if (file === undefined) {
          problems.push([i, 'unsupported', `update thread: file ${id} was never named`]);
          break;
        }
        try {
          const outcome = ops[i] === UpdateOp.Update
            ? native.update(file, times[i]!, texts[i]!.split(':'))
            : native.updateArguments(file, texts[i]!.split(' '));
          if (outcome === 'updated') updated += 1;
          else problems.push([i, 'unsupported', native.unsupportedReason(file) ?? 'not a file the in-process updater understands']);
        } catch (err) {
          problems.push([i, ...problemOf(err)]);
        }
        break;
      }
    }
  }
  port.postMessage({ type: 'done', seq: message.seq, updated, problems } satisfies FromUpdateWorker);
});
