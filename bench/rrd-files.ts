/**
 * Reading an RRD tree the way the RRD benchmark needs it: every file's last update time,
 * read straight from the file header (no rrdtool process per file: the tree holds ~100k files).
 *
 * RRD file layout (rrd_format.h, x86_64, version 0003): stat_head (128 bytes: cookie "RRD\0",
 * version, float cookie, ds_cnt, rra_cnt, pdp_step, 10 params), ds_cnt ds_def (120 bytes each),
 * rra_cnt rra_def (120 bytes each), then live_head whose first field is last_up (time_t).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';

const STAT_HEAD_BYTES = 128;
const DS_DEF_BYTES = 120;
const RRA_DEF_BYTES = 120;
const HEADER_READ_BYTES = 4096;

/** `last_up` (epoch seconds) from the start of an RRD file; throws if it is not a 64-bit little-endian RRD. */
export function parseRrdLastUpdate(head: Buffer): number {
  if (head.length < STAT_HEAD_BYTES || head.toString('latin1', 0, 4) !== 'RRD\0') throw new Error('not an RRD file');
  const dsCount = Number(head.readBigUInt64LE(24));
  const rraCount = Number(head.readBigUInt64LE(32));
  if (dsCount < 1 || dsCount > 100 || rraCount < 1 || rraCount > 1000) throw new Error(`implausible RRD header (ds ${dsCount}, rra ${rraCount})`);
  const offset = rrdLastUpdateOffset(dsCount, rraCount);
  if (head.length < offset + 8) throw new RangeError(`need ${offset + 8} header bytes, got ${head.length}`);
  return Number(head.readBigInt64LE(offset));
}

/** Byte offset of live_head.last_up for a file with these counts. */
export function rrdLastUpdateOffset(dsCount: number, rraCount: number): number {
  return STAT_HEAD_BYTES + dsCount * DS_DEF_BYTES + rraCount * RRA_DEF_BYTES;
}

/** last_up of one file (reads only its header). */
export function readRrdLastUpdate(file: string, scratch: Buffer = Buffer.alloc(HEADER_READ_BYTES)): number {
  const fd = fs.openSync(file, 'r');
  try {
    const n = fs.readSync(fd, scratch, 0, scratch.length, 0);
    return parseRrdLastUpdate(scratch.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
}

/** Every `*.rrd` under `root` (recursively), except the directories named in `skipTopDirs` right under root. */
export function listRrdFiles(root: string, skipTopDirs: readonly string[] = []): string[] {
  const files: string[] = [];
  const walk = (dir: string, top: boolean): void => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return; // not created yet
    }
    for (const e of entries) {
      if (e.isDirectory()) {
        if (!(top && skipTopDirs.includes(e.name))) walk(path.join(dir, e.name), false);
      } else if (e.name.endsWith('.rrd')) files.push(path.join(dir, e.name));
    }
  };
  walk(root, true);
  return files;
}

export interface ScanRequest {
  readonly root: string;
  readonly skipTopDirs: readonly string[];
  /** Read every file's last_up too; without it only the number of files comes back. */
  readonly lastUpdates: boolean;
}

export interface ScanReply {
  readonly files: string[];
  readonly count: number;
  /** last_up per file, NaN if unreadable (null when not asked for: then `files` is empty). */
  readonly lastUpdates: Float64Array | null;
  readonly unreadable: number;
  readonly ms: number;
}

function scanInWorker(request: ScanRequest): Promise<ScanReply> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(path.join(__dirname, 'rrd-scan-worker.js'), { workerData: request });
    worker.once('message', (reply: ScanReply) => resolve(reply));
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`RRD scan worker exited with code ${code}`)));
  });
}

/**
 * listRrdFiles + scanLastUpdates in a worker thread, so that the emulated gmonds in this
 * thread keep answering while a large tree is read.
 */
export async function scanTreeOffThread(root: string, skipTopDirs: readonly string[] = []): Promise<{ files: string[]; scan: TreeScan }> {
  const reply = await scanInWorker({ root, skipTopDirs, lastUpdates: true });
  const lastUpdate = new Map<string, number>();
  reply.files.forEach((f, i) => {
    const t = reply.lastUpdates![i]!;
    if (!Number.isNaN(t)) lastUpdate.set(f, t);
  });
  return { files: reply.files, scan: { lastUpdate, unreadable: reply.unreadable, ms: reply.ms } };
}

/** countRrdFiles in a worker thread (see scanTreeOffThread). */
export async function countRrdFilesOffThread(root: string): Promise<number> {
  return (await scanInWorker({ root, skipTopDirs: [], lastUpdates: false })).count;
}

/** last_up of every file (files that vanished or cannot be read are left out and counted). */
export interface TreeScan {
  readonly lastUpdate: Map<string, number>;
  readonly unreadable: number;
  readonly ms: number;
}

export function scanLastUpdates(files: readonly string[]): TreeScan {
  const started = performance.now();
  const scratch = Buffer.alloc(HEADER_READ_BYTES);
  const lastUpdate = new Map<string, number>();
  let unreadable = 0;
  for (const file of files) {
    try {
      lastUpdate.set(file, readRrdLastUpdate(file, scratch));
    } catch {
      unreadable += 1;
    }
  }
  return { lastUpdate, unreadable, ms: performance.now() - started };
}

/**
 * Values written to the files between two scans: for each file, how many of the timestamps
 * that were served (each poll's LOCALTIME, sorted ascending) lie in (before, after]. A file
 * missing from `before` counts from the beginning.
 */
export function valuesWrittenBetween(
  before: ReadonlyMap<string, number>,
  after: ReadonlyMap<string, number>,
  servedTimestamps: readonly number[],
): number {
  const sorted = [...servedTimestamps].sort((a, b) => a - b);
  // Number of served timestamps <= t.
  const rank = (t: number): number => {
    let lo = 0;
    let hi = sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (sorted[mid]! <= t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  let total = 0;
  for (const [file, end] of after) {
    const start = before.get(file) ?? -Infinity;
    if (end > start) total += rank(end) - (start === -Infinity ? 0 : rank(start));
  }
  return total;
}

export interface LagSummary {
  readonly files: number;
  /** newest - last_up, seconds. */
  readonly maxLag: number;
  readonly medianLag: number;
  /** Files whose lag exceeds `allowedLag`. */
  readonly behind: number;
  readonly allowedLag: number;
}

/** How far each file's last update is behind `newest` (the newest timestamp served before the scan). */
export function lagSummary(lastUpdates: Iterable<number>, newest: number, allowedLag: number): LagSummary {
  const lags: number[] = [];
  for (const t of lastUpdates) lags.push(Math.max(0, newest - t));
  lags.sort((a, b) => a - b);
  return {
    files: lags.length,
    maxLag: lags.length ? lags[lags.length - 1]! : NaN,
    medianLag: lags.length ? lags[Math.floor(lags.length / 2)]! : NaN,
    behind: lags.filter((l) => l > allowedLag).length,
    allowedLag,
  };
}

/** `LOCALTIME="..."` of a gmond document's CLUSTER tag (the value every RRD update of the poll is stamped with). */
export function clusterLocaltime(doc: Buffer): number {
  const marker = Buffer.from('<CLUSTER ');
  const at = doc.indexOf(marker);
  if (at < 0) throw new Error('no CLUSTER tag');
  const key = Buffer.from('LOCALTIME="');
  const k = doc.indexOf(key, at);
  if (k < 0) throw new Error('CLUSTER tag without LOCALTIME');
  const end = doc.indexOf(0x22, k + key.length);
  const value = Number(doc.toString('latin1', k + key.length, end));
  if (!Number.isInteger(value)) throw new Error('bad LOCALTIME');
  return value;
}
