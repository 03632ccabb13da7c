/**
 * A parse worker (see docs/architecture.md): tokenizes the documents of the sources pinned
 * to it, builds each snapshot and sends it to the main thread as a SourceImage whose
 * buffers are transferred, not copied. Everything it allocates for a poll is garbage for
 * this thread's collector, never the main thread's.
 */
import * as fs from 'node:fs';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import * as os from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { transferList, type SourceImage } from '../store/image/format';
import { buildSummaryPolicy } from '../store/summary';
import { LimitExceeded } from './document';
import { gangliaImageDocuments, type GangliaDocument } from './ganglia-document';
import { ACK_EVERY_BYTES, type FromWorker, type ParseWorkerData, type SourceSettings, type ToWorker } from './parse-protocol';
import { warmUpParser } from './warmup';

interface SourceEntry {
  readonly settingsKey: string;
  readonly documents: (pollTime: number) => GangliaDocument<SourceImage>;
}

const port = parentPort;
if (port === null) throw new Error('parse-worker.js runs only as a worker thread');

// This thread was created by the port thread and has its nice value, which may be raised
// (util/thread-priority): parsing is bulk work and goes back to the process's value.
const { baseNice } = workerData as ParseWorkerData;
try {
  if (os.getPriority(0) !== baseNice) os.setPriority(0, baseNice);
} catch {
  // Raising a nice value is always permitted on Linux; elsewhere parsing goes on as it is.
}

// Name the thread (Linux), so that `top -H` and the benchmarks tell parse workers apart
// from V8's and libuv's threads (which node names "node" too).
try {
  fs.writeFileSync('/proc/thread-self/comm', 'gmetad-parse');
} catch {
  // not Linux, or /proc not mounted: only a name
}

/**
 * After a large document this worker collects at once: what it allocated for the document
 * is garbage as soon as the image is sent, and waiting for V8 to notice lets the worker's
 * heap grow to several documents' worth (RSS). Marking costs little since almost nothing is
 * alive. This is the worker's own heap: the port thread never stops for it, and `gc` stays
 * hidden from it. Measured without it (bench/run.js, 2026-12-01): S2 used 0.06 s less CPU
 * per cycle but 10 MiB more RSS; S4 as 10 x 100k used more CPU (0.79x C instead of 0.72x)
 * and more RSS (199 instead of 172 MiB).
 */
const COLLECT_AFTER_METRICS = 20_000;
const collect = ((): (() => void) | null => {
  try {
    v8.setFlagsFromString('--expose-gc');
    return vm.runInNewContext('gc') as () => void;
  } catch {
    return null;
  }
})();

const sources = new Map<string, SourceEntry>();
const polls = new Map<number, GangliaDocument<SourceImage>>();
/** Per poll, bytes parsed and not yet acknowledged (see ACK_EVERY_BYTES). */
const unacknowledged = new Map<number, number>();

function post(message: FromWorker, transfer: ArrayBuffer[] = []): void {
  port!.postMessage(message, transfer);
}

function documentsFor(source: string, settings: SourceSettings): (pollTime: number) => GangliaDocument<SourceImage> {
  const key = JSON.stringify(settings);
  let entry = sources.get(source);
  if (entry === undefined || entry.settingsKey !== key) {
    entry = {
      settingsKey: key,
      documents: gangliaImageDocuments({
        source, scalable: settings.scalable, policy: buildSummaryPolicy(settings.summary), maxHosts: settings.maxHosts, maxMetrics: settings.maxMetrics,
      }),
    };
    sources.set(source, entry);
  }
  return entry.documents;
}

/**
 * Drops a poll that will not be finished (failed, or aborted by the main thread: a limit,
 * the deadline). A hostile document may have built a large tree by then: collect it now,
 * so memory goes back to its steady level before the next poll rather than doubling.
 */
function drop(id: number): void {
  const document = polls.get(id);
  polls.delete(id);
  unacknowledged.delete(id);
  if (document !== undefined && collect !== null && document.metricsReceived >= COLLECT_AFTER_METRICS) setImmediate(collect);
}

function fail(id: number, err: unknown, atEnd: boolean): void {
  drop(id);
  const message = err instanceof Error ? err.message : String(err);
  post({ type: 'error', id, message, atEnd, ...(err instanceof LimitExceeded ? { limit: err.limit } : {}) });
}

port.on('message', (message: ToWorker) => {
  switch (message.type) {
    case 'begin':
      polls.set(message.id, documentsFor(message.source, message.settings)(message.pollTime));
      return;
    case 'chunk': {
      const document = polls.get(message.id);
      // A failed poll's error is already on its way; the main thread needs no acknowledgement.
      if (document === undefined) return;
      const { bytes } = message;
      try {
        document.write(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1'));
      } catch (err) {
        fail(message.id, err, false);
        return;
      }
      const parsed = (unacknowledged.get(message.id) ?? 0) + bytes.byteLength;
      if (parsed >= ACK_EVERY_BYTES) {
        unacknowledged.delete(message.id);
        post({ type: 'ack', id: message.id, bytes: parsed });
      } else {
        unacknowledged.set(message.id, parsed);
      }
      return;
    }
    case 'end': {
      const document = polls.get(message.id);
      if (document === undefined) return; // already failed
      polls.delete(message.id);
      unacknowledged.delete(message.id);
      try {
        const image = document.finish();
        post({ type: 'done', id: message.id, image, metricsReceived: document.metricsReceived }, transferList(image));
        if (collect !== null && document.metricsReceived >= COLLECT_AFTER_METRICS) setImmediate(collect);
      } catch (err) {
        fail(message.id, err, true);
        if (collect !== null && document.metricsReceived >= COLLECT_AFTER_METRICS) setImmediate(collect);
      }
      return;
    }
    case 'abort':
      drop(message.id);
      return;
    case 'forget':
      sources.delete(message.source);
      return;
  }
});

// Get the tokenizer and builder optimised before the first real document arrives.
void warmUpParser();
