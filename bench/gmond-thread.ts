/**
 * An emulated gmond (startEmulatedGmond) in a worker thread of its own. A benchmark that
 * serves a 142 MB document, scans trees and reads /status in one thread stalls that thread
 * (collections of the document's layout took up to ~1 s on a slow machine), and every
 * gmond it hosts then accepts late: the daemon's polls looked late although it had
 * connected on time. In its own thread, a gmond's accept times are the daemon's poll times.
 */
import * as path from 'node:path';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { ClusterDocument, startEmulatedGmond, type ClusterOptions } from './emulated-cluster';

interface GmondThreadRequest {
  readonly cluster: ClusterOptions;
  readonly refreshMs?: number;
}

type GmondThreadMessage =
  | { readonly kind: 'ready'; readonly port: number; readonly size: number }
  | { readonly kind: 'accepted'; readonly atMs: number };

export interface GmondThread {
  readonly port: number;
  /** Size of the document in bytes. */
  readonly size: number;
  /** Epoch milliseconds at which each connection was accepted, in order. */
  readonly connections: number[];
  close(): Promise<void>;
}

export function startGmondThread(cluster: ClusterOptions, refreshMs?: number): Promise<GmondThread> {
  const request: GmondThreadRequest = { cluster, ...(refreshMs !== undefined ? { refreshMs } : {}) };
  const worker = new Worker(path.join(__dirname, 'gmond-thread.js'), { workerData: request });
  const connections: number[] = [];
  return new Promise((resolve, reject) => {
    worker.once('error', reject);
    worker.on('message', (m: GmondThreadMessage) => {
      if (m.kind === 'accepted') {
        connections.push(m.atMs);
        return;
      }
      worker.off('error', reject);
      resolve({
        port: m.port,
        size: m.size,
        connections,
        close: async () => {
          await worker.terminate();
        },
      });
    });
  });
}

async function serve(): Promise<void> {
  const request = workerData as GmondThreadRequest;
  const document = new ClusterDocument(request.cluster);
  const gmond = await startEmulatedGmond({
    document,
    ...(request.refreshMs !== undefined ? { refreshMs: request.refreshMs } : {}),
    onConnection: (atMs) => parentPort!.postMessage({ kind: 'accepted', atMs } satisfies GmondThreadMessage),
  });
  parentPort!.postMessage({ kind: 'ready', port: gmond.port, size: document.size } satisfies GmondThreadMessage);
}

if (!isMainThread && (workerData as GmondThreadRequest | undefined)?.cluster) void serve();
