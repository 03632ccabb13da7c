/**
 * The XML port (xml_port, 8651): every trusted client gets the full dump at once, then the
 * connection is closed. Whatever the client sends is read and ignored, so closing never
 * resets the connection mid-dump (3.7.2 does). Concurrent dumps share their rendering.
 */
import * as net from 'node:net';
import { systemClock } from '../util/clock';
import { countTimed } from '../util/stats';
import { SharedDumpCache } from './shared-dump-cache';
import { limitsOf, type PortOptions, type RunningPort } from './port-options';
import { fullDumpPieces } from './query';
import { closeServer, ConnectionSet, finish, listen, remoteAddress, writeChunks } from './socket-io';

export async function startXmlPort(options: PortOptions): Promise<RunningPort> {
  const limits = limitsOf(options);
  const clock = options.clock ?? systemClock;
  const dumps = options.dumpCache ?? new SharedDumpCache(undefined, clock);
  const connections = new ConnectionSet();
  const { logger, stats } = options;

  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    options.onConnection?.();
    connections.add(socket);
    const startedMs = clock();
    const started = performance.now();
    socket.on('error', () => undefined); // a reset client is just gone
    const address = remoteAddress(socket);
    if (!options.access.isTrusted(address)) {
      logger.debug({ client: address }, `xml_port: ${address} is not a trusted host, closing`);
      socket.destroy();
      return;
    }
    socket.resume(); // read and drop anything the client sends
    const now = Math.floor(startedMs / 1000);
    const view = options.getView();
    const source = dumps.acquire(view, now, () => fullDumpPieces(view, now));
    void writeChunks(socket, source, limits.idleWriteMs).then((outcome) => {
      const millis = performance.now() - started;
      const endedMs = clock();
      countTimed(stats.requests.xml, millis, endedMs);
      countTimed(stats.requests.all, millis, endedMs);
      if (outcome === 'done') finish(socket, limits.idleWriteMs);
      else logger.debug({ client: address, outcome }, `xml_port: dump to ${address} ${outcome === 'stalled' ? 'stalled, dropped' : 'aborted by the client'}`);
    });
  });

  const port = await listen(server, options.port, options.host, 'xml_port');
  return { port, close: () => closeServer(server, connections) };
}
