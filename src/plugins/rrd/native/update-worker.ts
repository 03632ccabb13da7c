/**
 * The RRD update thread (see update-thread.ts): applies the batches the port thread sends,
 * in order, with one NativeRrdUpdater, and answers each with how many updates were written
 * and which were not, and why.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { StructuredLogger } from '../../../util/logging';
import { settleWorkerThread } from '../../../util/thread-priority';
import { fsPathOf } from '../rrd-paths';
import { NativeRrdUpdater, RrdUpdateError, type NativeRrdFile } from './native-updater';
import { UPDATE_THREAD_NAME, UpdateOp, type FromUpdateWorker, type ToUpdateWorker, type UpdateProblemKind, type UpdateWorkerData } from './update-thread';

const port = parentPort;
if (port === null) throw new Error('update-worker.js runs only as a worker thread');

settleWorkerThread(UPDATE_THREAD_NAME, (workerData as UpdateWorkerData).baseNice);

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
      case UpdateOp.Define:
        files[id] = native.file(fsPathOf(texts[i]!));
        break;
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
