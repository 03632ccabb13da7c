/**
 * One attempt at one data_source address: connect, stream the document into a
 * DocumentParser (gunzipping when it starts with the gzip magic), enforce the idle deadline
 * and max_document_bytes, and say how it went. The poller (main thread) decides which address
 * to try and when, and owns the whole-poll deadline; the attempt itself runs where the parser
 * is: in a parse worker for the daemon (parse-pool, parse-worker), so that the port thread
 * never reads a polled socket, or on the calling thread (LocalFetcher: tests, tools).
 */
import * as zlib from 'node:zlib';
import type { Duplex } from 'node:stream';
import type { SourceAddress } from '../config/types';
import type { SourceSnapshot } from '../store/model';
import { TurnBudget } from '../util/turn-budget';
import { ConnectError, describeNetError, type Connector } from './connector';
import { DocumentError, LimitExceeded, type DocumentParser, type DocumentParserFactory } from './document-parser';
import { XmlParseError } from './xml/xml-parser';

/** The abort reason of a poll: stop() or the whole-poll deadline. */
export class PollAbort extends Error {
  constructor(message: string, readonly stopped: boolean) {
    super(message);
    this.name = 'PollAbort';
  }
}

/** What one attempt needs to know: where, the poll's time, and its own deadlines and limit. */
export interface FetchRequest {
  readonly address: SourceAddress;
  /** The poll's start, whole epoch seconds (the TN -> t0 reference). */
  readonly pollTime: number;
  /** Deadline for the TCP connect. */
  readonly connectMs: number;
  /** Deadline between two received chunks. */
  readonly idleMs: number;
  /** limits max_document_bytes, counted after gunzip. */
  readonly maxDocumentBytes: number;
}

/**
 * Runs attempts for one data_source. `signal` aborts with a PollAbort (stop() or the poll's
 * deadline); `onConnected` runs once the TCP connection is up (the poller's status).
 */
export interface DocumentFetcher<T = SourceSnapshot> {
  fetch(request: FetchRequest, signal: AbortSignal, onConnected: () => void): Promise<AttemptResult<T>>;
}

export type AttemptResult<T = SourceSnapshot> =
  | { readonly kind: 'ok'; readonly snapshot: T; readonly bytes: number }
  /** Nothing was received from this address: try the next one. */
  | { readonly kind: 'unusable'; readonly reason: string }
  /** The document started and then broke: the poll fails. */
  | { readonly kind: 'failed'; readonly reason: string; readonly bytes: number }
  /** The whole-poll deadline passed or stop() was called. */
  | { readonly kind: 'aborted'; readonly reason: string; readonly bytes: number; readonly stopped: boolean };

export function aborted(reason: unknown, bytes: number): AttemptResult<never> {
  if (reason instanceof PollAbort) return { kind: 'aborted', reason: reason.message, bytes, stopped: reason.stopped };
  return { kind: 'aborted', reason: String(reason), bytes, stopped: false };
}

/**
 * One attempt: connects to `request.address` and reads one document into the parser that
 * `newParser` makes (only once connected). Never rejects but for a bug in `newParser`.
 */
export async function fetchDocument<T>(
  connector: Connector,
  newParser: (pollTime: number) => DocumentParser<T>,
  request: FetchRequest,
  signal: AbortSignal,
  onConnected: () => void,
  turns: TurnBudget,
): Promise<AttemptResult<T>> {
  if (signal.aborted) return aborted(signal.reason, 0);
  let stream: Duplex;
  try {
    stream = await connector.connect(request.address, request.connectMs, signal);
  } catch (err) {
    if (signal.aborted) return aborted(signal.reason, 0);
    const reason = err instanceof ConnectError ? err.message : describeNetError(err);
    return { kind: 'unusable', reason };
  }
  if (signal.aborted) {
    stream.destroy();
    return aborted(signal.reason, 0);
  }
  onConnected();
  let parser: DocumentParser<T>;
  try {
    parser = newParser(request.pollTime);
  } catch (err) {
    stream.destroy();
    throw err;
  }
  return readDocument(stream, parser, signal, request.idleMs, request.maxDocumentBytes, turns);
}

/**
 * Attempts on the calling thread, with a given connector and parser factory: the poller's
 * unit tests and tools. The daemon's come from ParsePool.fetcher (parse-pool).
 */
export class LocalFetcher implements DocumentFetcher {
  constructor(
    private readonly connector: Connector,
    private readonly parserFactory: DocumentParserFactory,
    /** This thread's budget per event-loop turn (default one of its own). */
    private readonly turns: TurnBudget = new TurnBudget(),
  ) {}

  fetch(request: FetchRequest, signal: AbortSignal, onConnected: () => void): Promise<AttemptResult> {
    return fetchDocument(this.connector, this.parserFactory, request, signal, onConnected, this.turns);
  }
}

const GZIP_MAGIC_0 = 0x1f;
const GZIP_MAGIC_1 = 0x8b;

function describeParseError(err: unknown, atEnd: boolean): string {
  if (err instanceof LimitExceeded) return `${err.message}; poll aborted, last good data kept`;
  const what = (err instanceof DocumentError ? err.atEnd : atEnd) ? 'incomplete document' : 'parse error';
  if (err instanceof XmlParseError) return `${what}: ${err.message}`;
  return `${what}: ${err instanceof Error ? err.message : String(err)}`;
}

/**
 * Streams one document from `stream` into `parser`: gunzips when the body starts with the
 * gzip magic and feeds each chunk of bytes as it arrives (the document is never held
 * whole); each chunk is parsed before the next is read. Reading pauses until a later
 * event-loop turn once the turn's budget is spent (`turns`, shared with the other sources
 * read on this thread): libuv reads up to 32 chunks per ready socket per turn, so one source
 * would otherwise hold the thread from the others and from abort messages. Past
 * `maxDocumentBytes` of document (counted after gunzip, so a gzip bomb stops there too) the
 * read is aborted. Always destroys the stream; aborts the parser
 * unless the document was delivered.
 */
function readDocument<T>(
  stream: Duplex,
  parser: DocumentParser<T>,
  signal: AbortSignal,
  idleMs: number,
  maxDocumentBytes: number,
  turns: TurnBudget,
): Promise<AttemptResult<T>> {
  return new Promise<AttemptResult<T>>((resolve) => {
    let bytes = 0;
    /** Document bytes fed to the parser (after gunzip). */
    let documentBytes = 0;
    let head: Buffer | null = null; // the first bytes, until there are two to test for gzip
    let decided = false;
    let gunzip: zlib.Gunzip | null = null;
    let ended = false;
    let settled = false;
    /** Why the socket is paused; it reads again once no reason is left. */
    const held = new Set<'gunzip' | 'turn'>();
    const hold = (why: 'gunzip' | 'turn'): void => {
      if (held.size === 0) stream.pause();
      held.add(why);
    };
    const release = (why: 'gunzip' | 'turn'): void => {
      if (held.delete(why) && held.size === 0 && !settled) stream.resume();
    };

    const settle = (result: AttemptResult<T>): void => {
      if (settled) return;
      settled = true;
      clearTimeout(idleTimer);
      signal.removeEventListener('abort', onAbort);
      stream.removeListener('data', onData);
      stream.removeListener('end', onEnd);
      stream.removeListener('close', onClose);
      // Keep an error listener: a late ECONNRESET on a destroyed socket must not crash us.
      stream.removeListener('error', onError);
      stream.on('error', ignore);
      stream.destroy();
      if (gunzip) {
        gunzip.removeAllListeners();
        gunzip.on('error', ignore);
        gunzip.destroy();
      }
      if (result.kind !== 'ok') parser.abort();
      resolve(result);
    };
    const fail = (reason: string): void => {
      settle(bytes === 0 ? { kind: 'unusable', reason } : { kind: 'failed', reason, bytes });
    };

    const feed = (buf: Buffer): void => {
      if (settled) return;
      documentBytes += buf.length;
      if (documentBytes > maxDocumentBytes) {
        const err = new LimitExceeded('max_document_bytes',
          `the document is larger than ${maxDocumentBytes} bytes${gunzip ? ' (after gunzip)' : ''}`);
        fail(describeParseError(err, false));
        return;
      }
      try {
        parser.write(buf);
      } catch (err) {
        fail(describeParseError(err, false));
      }
    };
    const complete = (): void => {
      if (settled) return;
      if (bytes === 0) {
        fail('connection closed before any data');
        return;
      }
      // Input is complete: only the parser's tail is left, bounded by the poll deadline.
      clearTimeout(idleTimer);
      parser.finish().then(
        (snapshot: T) => settle({ kind: 'ok', snapshot, bytes }),
        (err: unknown) => fail(describeParseError(err, true)),
      );
    };
    const startGunzip = (): zlib.Gunzip => {
      const z = zlib.createGunzip();
      z.on('data', (out: Buffer) => {
        idleTimer.refresh();
        feed(out);
      });
      z.on('end', complete);
      z.on('error', (err: Error) => fail(`gzip: ${err.message}`));
      return z;
    };
    const push = (chunk: Buffer): void => {
      if (gunzip) {
        if (!gunzip.write(chunk)) {
          hold('gunzip');
          gunzip.once('drain', () => release('gunzip'));
        }
      } else {
        feed(chunk);
      }
    };

    const onData = (chunk: Buffer): void => {
      if (settled) return;
      bytes += chunk.length;
      idleTimer.refresh();
      if (!turns.mayWork() && !held.has('turn')) {
        hold('turn');
        void turns.wait(true).then(() => release('turn'));
      }
      if (decided) {
        push(chunk);
        return;
      }
      head = head ? Buffer.concat([head, chunk]) : chunk;
      if (head.length < 2) return;
      decided = true;
      const first = head;
      head = null;
      if (first[0] === GZIP_MAGIC_0 && first[1] === GZIP_MAGIC_1) gunzip = startGunzip();
      push(first);
    };
    const onEnd = (): void => {
      if (settled) return;
      ended = true;
      if (head) {
        decided = true; // a one-byte body: too short for gzip
        const last = head;
        head = null;
        feed(last);
      }
      if (gunzip) gunzip.end();
      else complete();
    };
    const onError = (err: Error): void => fail(describeNetError(err));
    // A 'close' without 'end' means the stream was torn down under us.
    const onClose = (): void => {
      if (!ended) fail('connection closed');
    };
    const onIdle = (): void => fail(`no data for ${idleMs} ms`);
    const onAbort = (): void => {
      const result = aborted(signal.reason, bytes);
      settle(result);
    };

    const idleTimer = setTimeout(onIdle, idleMs);
    stream.on('data', onData);
    stream.on('end', onEnd);
    stream.on('error', onError);
    stream.on('close', onClose);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
}

function ignore(): void {
  /* errors after we are done with a stream are of no interest */
}
