/**
 * Scans an RRD tree in a worker thread (see scanTreeOffThread in rrd-files): the benchmarks
 * host the emulated gmonds in their main thread, and a synchronous scan of a few hundred
 * thousand files there (10-20 s on a slow machine) held their accept() and replies, so the
 * daemons' polls looked late or timed out because of the benchmark itself.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { listRrdFiles, scanLastUpdates, type ScanReply, type ScanRequest } from './rrd-files';

const request = workerData as ScanRequest;
const files = listRrdFiles(request.root, request.skipTopDirs);
if (!request.lastUpdates) {
  const reply: ScanReply = { files: [], count: files.length, lastUpdates: null, unreadable: 0, ms: 0 };
  parentPort!.postMessage(reply);
} else {
  const scan = scanLastUpdates(files);
  const lastUpdates = new Float64Array(files.length);
  files.forEach((f, i) => { lastUpdates[i] = scan.lastUpdate.get(f) ?? NaN; });
  const reply: ScanReply = { files, count: files.length, lastUpdates, unreadable: scan.unreadable, ms: scan.ms };
  parentPort!.postMessage(reply, [lastUpdates.buffer]);
}
