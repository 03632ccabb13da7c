/**
 * A parse worker (see docs/architecture.md): for the sources pinned to it, connects to the
 * address the poller names, reads the document off the socket (fetch-document), tokenizes it,
 * builds the snapshot and sends it to the main thread as a SourceImage whose buffers are
 * transferred, not copied. The port thread never reads a polled socket, and everything
 * allocated for a poll is garbage for this thread's collector, never the main thread's.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { transferList, type SourceImage } from '../store/image/format';
import { buildSummaryPolicy } from '../store/summary';
import { settleWorkerThread } from '../util/thread-priority';
import { TurnBudget } from '../util/turn-budget';
import { TcpConnector } from './connector';
import { fetchDocument, PollAbort } from './fetch-document';
import { gangliaImageDocuments, SyncDocumentParser, type GangliaDocument } from './ganglia-document';
import { PARSE_THREAD_NAME, type FromWorker, type ParseWorkerData, type SourceSettings, type ToWorker } from './parse-protocol';
import { warmUpParser } from './warmup';

interface SourceEntry {
  readonly settingsKey: string;
  readonly documents: (pollTime: number) => GangliaDocument<SourceImage>;
}

const port = parentPort;
if (port === null) throw new Error('parse-worker.js runs only as a worker thread');

settleWorkerThread(PARSE_THREAD_NAME, (workerData as ParseWorkerData).baseNice);

/*
 * No forced collection here. Until 2026-12-03 the worker called gc() after every document of
 * 20k metrics or more, to keep its heap from growing to several documents' worth. Measured
 * once the worker read its own sockets (BENCHMARKS.md, issue 9): at S2 it cost 0.15 CPU s
 * of the worker's 0.29 and 0.13 of V8's helpers' 0.16 per 15 s cycle, and the daemon's RSS
 * was the same without it (74.7 against 74.4 MiB; the worker's heap was 7-10 MB before the
 * collection and 6 after). A hostile document's memory goes back by replacing the worker
 * (parse-pool, RECYCLE_AFTER_BYTES), not by a collection.
 */
const sources = new Map<string, SourceEntry>();
/** The attempts in flight, by id: abort() ends one. */
const attempts = new Map<number, AbortController>();
const connector = new TcpConnector();
/** Fairness between the sources pinned here: each socket read gives way once the turn's budget is spent. */
const turns = new TurnBudget();

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

/** One attempt, answered with 'done'. */
async function fetch(message: Extract<ToWorker, { type: 'fetch' }>): Promise<void> {
  const controller = new AbortController();
  attempts.set(message.id, controller);
  const documents = documentsFor(message.source, message.settings);
  let parser: SyncDocumentParser<SourceImage> | null = null;
  const newParser = (pollTime: number): SyncDocumentParser<SourceImage> => (parser = new SyncDocumentParser(documents(pollTime)));
  try {
    const result = await fetchDocument(connector, newParser, message.request, controller.signal,
      () => post({ type: 'connected', id: message.id }), turns);
    const p = parser as SyncDocumentParser<SourceImage> | null;
    const done: FromWorker = {
      type: 'done', id: message.id, result, documentBytes: p?.written ?? 0, metricsReceived: p?.document.metricsReceived ?? 0,
    };
    post(done, result.kind === 'ok' ? transferList(result.snapshot) : []);
  } finally {
    attempts.delete(message.id);
  }
}

port.on('message', (message: ToWorker) => {
  switch (message.type) {
    case 'fetch':
      void fetch(message).catch((err: unknown) => {
        // Only a bug gets here (fetchDocument does not reject): still an answer, not a hang.
        post({ type: 'done', id: message.id, result: { kind: 'failed', reason: `parse worker: ${String(err)}`, bytes: 0 }, documentBytes: 0, metricsReceived: 0 });
      });
      return;
    case 'abort':
      attempts.get(message.id)?.abort(new PollAbort(message.reason, message.stopped));
      return;
    case 'forget':
      sources.delete(message.source);
      return;
  }
});

// Get the tokenizer and builder optimised before the first real document arrives.
void warmUpParser();
