/**
 * The interactive port (interactive_port, 8652): one request line per connection
 * (`\n`, `\r\n` or EOF; at most 2047 bytes before the terminator, as in 3.7.2), one reply,
 * then close. Unlike 3.7.2 there is no thread pool to exhaust: a client that sends nothing
 * or reads nothing only holds its own connection, until its deadline.
 */
import * as net from 'node:net';
import { systemClock } from '../util/clock';
import { countTimed } from '../util/stats';
import { type ChunkSource, SharedDumpCache, sourceFromPieces } from './shared-dump-cache';
import { limitsOf, type PortOptions, type RunningPort } from './port-options';
import { fullDumpPieces, HTTP_XML_HEADER, isFullDump, queryPieces } from './query';
import { parseInteractiveRequest } from './request';
import { closeServer, ConnectionSet, finish, listen, remoteAddress, writeChunks } from './socket-io';
import { StatusReporter } from './status';

/** The C gmetad's REQUESTLEN: a line must end within this many bytes. */
export const MAX_REQUEST_BYTES = 2048;

type LineResult = { readonly line: string } | { readonly error: 'too long' | 'timeout' | 'closed' };

export async function startInteractivePort(options: PortOptions): Promise<RunningPort> {
  const limits = limitsOf(options);
  const clock = options.clock ?? systemClock;
  const dumps = options.dumpCache ?? new SharedDumpCache(undefined, clock);
  const status = new StatusReporter({
    clock,
    stats: options.stats, eventLoop: options.eventLoop, authorityConfigured: options.authorityConfigured,
  });
  const connections = new ConnectionSet();
  const { logger, stats } = options;

  const count = (started: number) => {
    const millis = performance.now() - started;
    const endedMs = clock();
    countTimed(stats.requests.interactive, millis, endedMs);
    countTimed(stats.requests.all, millis, endedMs);
  };

  const serve = async (socket: net.Socket, address: string): Promise<void> => {
    const read = await readRequestLine(socket, limits.requestLineMs);
    const started = performance.now();
    const startedMs = clock();
    if ('error' in read) {
      // Debug only: every request line is the client's to choose, and a flood of bad ones
      // must not fill syslog (the C gmetad logs each at its debug level too).
      if (read.error === 'too long') logger.debug({ client: address }, `could not read request from ${address}: line too long`);
      else logger.debug({ client: address }, `no request from ${address} (${read.error === 'timeout' ? 'timed out' : 'closed'})`);
      count(started);
      socket.destroy();
      return;
    }
    socket.resume(); // anything after the line (HTTP headers) is read and ignored
    const request = parseInteractiveRequest(read.line);
    logger.debug({ client: address, request: read.line }, `request ${JSON.stringify(read.line)} from ${address}`);
    let source: ChunkSource;
    switch (request.kind) {
      case 'malformed':
        logger.debug({ client: address }, `malformed request from ${address}: ${request.reason}`);
        count(started);
        finish(socket, limits.idleWriteMs);
        return;
      case 'status':
        source = single(status.reply(options.getView(), request.callback, startedMs));
        break;
      case 'query': {
        if (request.unknownFilter !== null) logger.debug({ client: address }, `unknown filter ${request.unknownFilter} from ${address}, ignored`);
        const now = Math.floor(startedMs / 1000);
        const view = options.getView();
        if (isFullDump(view, request)) {
          const dump = dumps.acquire(view, now, () => fullDumpPieces(view, now));
          source = request.http ? prefixed(Buffer.from(HTTP_XML_HEADER, 'latin1'), dump) : dump;
        } else {
          source = sourceFromPieces(queryPieces(view, request, now));
        }
        break;
      }
    }
    const outcome = await writeChunks(socket, source, limits.idleWriteMs);
    count(started);
    if (outcome === 'done') finish(socket, limits.idleWriteMs);
    else logger.debug({ client: address, outcome }, `reply to ${address} ${outcome === 'stalled' ? 'stalled, dropped' : 'aborted by the client'}`);
  };

  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    options.onConnection?.();
    connections.add(socket);
    socket.on('error', () => undefined);
    const address = remoteAddress(socket);
    if (!options.access.isTrusted(address)) {
      logger.debug({ client: address }, `interactive_port: ${address} is not a trusted host, closing`);
      socket.destroy();
      return;
    }
    serve(socket, address).catch((err: Error) => {
      logger.error({ client: address, err }, `interactive_port: request from ${address} failed: ${err.message}`);
      socket.destroy();
    });
  });

  const port = await listen(server, options.port, options.host, 'interactive_port');
  return { port, close: () => closeServer(server, connections) };
}

/**
 * Reads up to the first \r or \n (or EOF). The line is decoded as latin1, one char per
 * byte, like every name in the tree.
 */
export function readRequestLine(socket: net.Socket, timeoutMs: number): Promise<LineResult> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let length = 0;
    const done = (result: LineResult) => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('close', onClose);
      socket.pause();
      resolve(result);
    };
    const onData = (chunk: Buffer) => {
      const searchFrom = length;
      chunks.push(chunk);
      length += chunk.length;
      const all = chunks.length === 1 ? chunk : Buffer.concat(chunks);
      const eol = findEol(all, searchFrom);
      if (eol >= 0 && eol < MAX_REQUEST_BYTES) done({ line: all.toString('latin1', 0, eol) });
      else if (length >= MAX_REQUEST_BYTES) done({ error: 'too long' });
      else if (chunks.length > 1) chunks.splice(0, chunks.length, all);
    };
    const onEnd = () => done({ line: Buffer.concat(chunks).toString('latin1') });
    const onClose = () => done({ error: 'closed' });
    const timer = setTimeout(() => done({ error: 'timeout' }), timeoutMs);
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('close', onClose);
  });
}

function findEol(buf: Buffer, from: number): number {
  for (let i = from; i < buf.length; i++) {
    const c = buf[i];
    if (c === 0x0a || c === 0x0d) return i;
  }
  return -1;
}

function single(buffer: Buffer): ChunkSource {
  let sent = false;
  return {
    next: () => {
      if (sent) return null;
      sent = true;
      return buffer;
    },
    close: () => undefined,
  };
}

function prefixed(first: Buffer, rest: ChunkSource): ChunkSource {
  let sentFirst = false;
  return {
    next: () => {
      if (!sentFirst) {
        sentFirst = true;
        return first;
      }
      return rest.next();
    },
    close: () => rest.close(),
  };
}
