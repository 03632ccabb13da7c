/**
 * NativeRrdUpdater: applies `rrdtool update` to RRD files itself, byte for byte as
 * rrdtool 1.7.2 does on x86_64, without an rrdtool process. Creation stays with
 * `rrdtool create`; files this module does not fully understand are handed back.
 *
 * Interface (all synchronous; one call = one `rrdtool update <file> <args...>`):
 *
 *   const native = new NativeRrdUpdater({ logger });
 *   const outcome = native.update(path, timestamp, ['3.50']);      // one update
 *   native.updateMany(path, [{ time, values }, ...]);               // several, in order
 *   native.updateArguments(path, ['1795255456:3.50', ...]);         // rrdtool's `time:v1:v2` texts
 *   // outcome === 'updated'      the file holds the update(s)
 *   // outcome === 'unsupported'  nothing written: use rrdtool for this file (the reason
 *   //                            is logged once per file and reason, and returned by
 *   //                            unsupportedReason(path))
 *   // throws RrdUpdateError      kind 'stale'   (timestamp <= last update: rrdtool's
 *   //                                            "illegal attempt to update ..."),
 *   //                                 'invalid' (value rrdtool would not parse),
 *   //                                 'missing' (no such file: create it, then retry),
 *   //                                 'io'      (other errno, in .code)
 *   native.inspect(path)   // { lastUpdate, step, ds: [...] } or { unsupported } without writing
 *   native.forget(path)    // drop what is remembered about a file (host left the tree)
 *
 * Values: strings are the text the caller would put on rrdtool's command line ("3.50",
 * "U", "12345"); rrdtool stores that text in the file (pdp_prep.last_ds) and parses it
 * with its own strtod, both reproduced here. A number v is the text String(v) (what the
 * daemon writes to rrdtool for host values), NaN and null are "U".
 * Timestamps: whole seconds (what gmetad passes); others are refused as 'invalid'
 * (rrdtool's "N" and sub-second times set last_up_usec, which this writer does not
 * produce; it does apply updates correctly to files whose last_up_usec is non-zero).
 *
 * Calls block (synchronous I/O, ~5-7 µs of CPU each on tmpfs or the page cache): a
 * caller with many files should update them in bounded slices per event-loop turn.
 *
 * Per call: open (or a descriptor kept open, below), one pread of the header, the row
 * writes, one pwrite of the live header
 * (rows first: a crash between the two leaves the old header, pointing at old rows, and
 * a file rrdtool reads; each row is written once, with its final value, so a crash
 * anywhere leaves every row either as it was or as the call leaves it), close.
 *
 * Descriptors kept open: the first maxOpenFiles files written (default: the open-files
 * limit less a reserve for sockets and pipes) keep their descriptor, which saves the open
 * and close, the costliest calls of an update. The daemon writes every file once per poll,
 * a cycle in which an LRU would never hit once files outnumber descriptors, so the set is
 * stable: a file keeps its descriptor until it is forgotten, fails, or its directory
 * changes. A kept descriptor would write on into a file deleted or renamed over, so before
 * each write the file's directory is stat'ed if it was not since the file's last write
 * (DirWatch: about one stat per directory per poll); when the directory changed, the file
 * is opened again by path (and found missing, or replaced). The header is still read at
 * every write, so a file changed in place by another program is seen as before.
 *
 * What stays in memory per file is a reference to its
 * parsed static header (data sources, archives), shared by all files with the same
 * bytes; every call compares the file's static header with it, so a file replaced or
 * changed by another program (rrdtool tune, restore, a new create) is parsed again.
 * rrdtool's fcntl lock is not taken: the daemon is the files' only writer, as with
 * rrdtool, whose lock only makes a concurrent update fail.
 *
 * Refused updates leave the file untouched, as rrdtool does for a stale timestamp; for
 * an unparsable value rrdtool (writing through mmap) may already have changed the
 * last_ds of the data sources before it, this writer changes nothing.
 */
import * as fs from 'node:fs';
import { SILENT_LOGGER, type StructuredLogger } from '../../../util/logging';
import { ShardedMap } from '../../../util/sharded-map';
import { dirChangedSince, watchedDir, type WatchedDir } from '../dir-watch';
import { checkLive, headerLengthFor, parseLayout, readUlong, staticLength, STAT_HEAD_SIZE, type RrdLayout } from './rrd-layout';
import { applyUpdate, finalRowWrites, HeaderView, RowWrites, RrdUpdateError } from './rrd-update';

export { RrdUpdateError } from './rrd-update';
export type { RrdUpdateErrorKind } from './rrd-update';

/** One DS value: rrdtool text, a number (as String(n)), or null/NaN for unknown. */
export type RrdValue = string | number | null;

export interface RrdUpdate {
  /** Seconds since the epoch, a whole number. */
  readonly time: number;
  /** One value per data source, in the file's DS order. */
  readonly values: readonly RrdValue[];
}

export type NativeUpdateOutcome = 'updated' | 'unsupported';

export type RrdInspection =
  | { readonly lastUpdate: number; readonly step: number; readonly ds: readonly string[] }
  | { readonly unsupported: string };

export interface NativeRrdUpdaterOptions {
  readonly logger?: StructuredLogger;
  /** Most files remembered at once (the oldest of one shard of the map are forgotten first; default 1,000,000). */
  readonly maxFiles?: number;
  /**
   * Most descriptors kept open between updates (default: the process's open-files limit,
   * which Node raises to the hard limit, less max(2048, a fifth) for sockets and pipes;
   * 0 opens and closes every file at each update).
   */
  readonly maxOpenFiles?: number;
  /**
   * Called after an update's rows are written and before its header is: the crash test
   * pauses here so that its SIGKILL lands between the two writes.
   */
  readonly betweenWrites?: () => void;
}

/**
 * What the updater keeps about one file. A caller that writes a file often holds it (see
 * file()) and passes it instead of the path: that saves a lookup by path in a map of every
 * file, which at a few hundred thousand files misses the CPU caches at every update.
 */
export class NativeRrdFile {
  layout: RrdLayout | null = null;
  unsupported: string | null = null;
  /** Descriptor kept open, or -1. */
  fd = -1;
  /** The file's directory while fd is kept. */
  dir: KeptDir | null = null;
  /** dir.seq when the file was last written through fd. */
  seenSeq = 0;
  /** In the updater's map (false once forgotten or evicted: the next update lists it again). */
  listed = false;

  constructor(readonly path: fs.PathLike, readonly key: string) {}
}

type FileEntry = NativeRrdFile;

interface KeptDir extends WatchedDir {
  readonly key: string;
  /** Files of this directory holding a descriptor. */
  files: number;
}

/** The first read of an unknown file: enough for every header gmetad writes. */
const FIRST_READ = 4096;
/** Distinct static headers kept (a tree has a handful: one per step x type x RRAs). */
const MAX_LAYOUTS = 4096;

/** The values as rrdtool texts: the array itself when they all are texts already. */
function textsOf(values: readonly RrdValue[]): readonly string[] {
  for (let i = 0; i < values.length; i++) {
    if (typeof values[i] !== 'string') return values.map(valueText);
  }
  return values as readonly string[];
}

function pathOf(target: fs.PathLike | NativeRrdFile): fs.PathLike {
  return target instanceof NativeRrdFile ? target.path : target;
}

function checkTime(target: fs.PathLike | NativeRrdFile, time: number): void {
  if (!Number.isInteger(time) || time < 0 || time > Number.MAX_SAFE_INTEGER) {
    throw new RrdUpdateError('invalid', `${String(pathOf(target))}: timestamp ${time} is not a whole number of seconds`);
  }
}

function valueText(value: RrdValue): string {
  if (value === null) return 'U';
  if (typeof value === 'number') return Number.isNaN(value) ? 'U' : String(value);
  return value;
}

function ioError(error: unknown, path: fs.PathLike): RrdUpdateError {
  const err = error as NodeJS.ErrnoException;
  const code = err.code ?? 'EIO';
  const kind = code === 'ENOENT' || code === 'ENOTDIR' ? 'missing' : 'io';
  return new RrdUpdateError(kind, `${String(path)}: ${err.message}`, code);
}

export class NativeRrdUpdater {
  private readonly logger: StructuredLogger;
  private readonly maxFiles: number;
  /** By path; sharded: one Map of every file would stop the event loop for ~30 ms each time it grows. */
  private readonly files = new ShardedMap<FileEntry>();
  private readonly layouts = new Map<string, RrdLayout>();
  private scratch: Buffer = Buffer.alloc(0);
  private view: HeaderView = new HeaderView(this.scratch);
  private readonly rows = new RowWrites();
  private lastLayout: RrdLayout | null = null;
  private readonly betweenWrites: (() => void) | undefined;
  private readonly maxOpenFiles: number;
  private openFiles = 0;
  private readonly dirs = new ShardedMap<KeptDir>();

  constructor(options: NativeRrdUpdaterOptions = {}) {
    this.logger = options.logger ?? SILENT_LOGGER;
    this.maxFiles = Math.max(1, options.maxFiles ?? 1_000_000);
    this.maxOpenFiles = Math.max(0, options.maxOpenFiles ?? defaultMaxOpenFiles());
    this.betweenWrites = options.betweenWrites;
    this.grow(FIRST_READ);
  }

  /** Files remembered (for memory accounting). */
  get size(): number {
    return this.files.size;
  }

  /** Descriptors kept open between updates. */
  get keptOpen(): number {
    return this.openFiles;
  }

  /** Closes every kept descriptor (they are opened again as needed). */
  close(): void {
    for (const entry of this.files.values()) this.release(entry);
  }

  /** Applies one update; see the module comment. */
  update(path: fs.PathLike | NativeRrdFile, time: number, values: readonly RrdValue[]): NativeUpdateOutcome {
    checkTime(path, time);
    return this.apply(path, null, time, textsOf(values));
  }

  /**
   * As updateMany, from rrdtool update arguments `time:v1[:v2...]` (the texts the daemon
   * sends through the pipe). The time must be whole seconds: "N" and "@time" are refused.
   */
  updateArguments(path: fs.PathLike | NativeRrdFile, args: readonly string[]): NativeUpdateOutcome {
    const updates: RrdUpdate[] = [];
    for (const arg of args) {
      const colon = arg.indexOf(':');
      const timeText = colon < 0 ? arg : arg.slice(0, colon);
      if (colon < 0 || !/^\d{1,15}$/.test(timeText)) {
        throw new RrdUpdateError('invalid', `${String(pathOf(path))}: update argument ${JSON.stringify(arg)} does not start with a timestamp in whole seconds`);
      }
      updates.push({ time: Number(timeText), values: arg.slice(colon + 1).split(':') });
    }
    return this.updateMany(path, updates);
  }

  /** Applies updates in order, as one `rrdtool update` with several arguments: on the first refused one, those before it stay applied and it throws. */
  updateMany(path: fs.PathLike | NativeRrdFile, updates: readonly RrdUpdate[]): NativeUpdateOutcome {
    for (const { time } of updates) checkTime(path, time);
    return this.apply(path, updates, 0, []);
  }

  /**
   * The file's entry, to pass to the update methods instead of its path (it stays valid:
   * after forget(), using it again lists it again).
   */
  file(path: fs.PathLike): NativeRrdFile {
    const key = keyOf(path);
    return this.files.get(key) ?? this.list(new NativeRrdFile(path, key));
  }

  /** The updates `updates`, or (null) the one update `time`, `texts`. */
  private apply(
    target: fs.PathLike | NativeRrdFile, updates: readonly RrdUpdate[] | null, time: number, texts: readonly string[],
  ): NativeUpdateOutcome {
    let known: FileEntry | undefined;
    if (target instanceof NativeRrdFile) {
      known = target.listed ? target : this.list(target);
    } else {
      known = this.files.get(keyOf(target));
    }
    const path = known !== undefined ? known.path : target as fs.PathLike;
    const key = known !== undefined ? known.key : keyOf(path);
    let fd = -1;
    if (known !== undefined && known.fd >= 0) {
      if (dirChangedSince(known.dir!, known.seenSeq)) this.release(known);
      else fd = known.fd;
    }
    let dir: KeptDir | null = null;
    if (fd < 0) {
      if (this.openFiles < this.maxOpenFiles) {
        // Its directory's state before the open, which later checks compare with.
        dir = this.dirOf(key, path);
        if (dir.seq === 0) dirChangedSince(dir, 0);
      }
      fd = this.open(path);
    }
    // Whether this call closes fd when done (true unless the descriptor is kept).
    let closeWhenDone = !(known !== undefined && known.fd === fd);
    let failure: RrdUpdateError | null = null;
    try {
      const entry = this.readHeader(fd, path, key, known);
      const layout = entry.layout;
      if (layout === null) {
        if (!closeWhenDone) this.release(entry);
        return 'unsupported';
      }
      const rows = this.rows;
      rows.clear();
      let applied = 0;
      const count = updates === null ? 1 : updates.length;
      for (let k = 0; k < count; k++) {
        try {
          if (updates === null) applyUpdate(layout, this.view, time, texts, rows);
          else applyUpdate(layout, this.view, updates[k].time, textsOf(updates[k].values), rows);
          applied++;
        } catch (error) {
          if (!(error instanceof RrdUpdateError)) throw error;
          failure = new RrdUpdateError(error.kind, `${String(path)}: ${error.message}`);
          break;
        }
      }
      if (applied > 0) this.write(fd, path, layout, rows);
      rows.clear();
      if (closeWhenDone && dir !== null && entry.fd < 0 && this.openFiles < this.maxOpenFiles) {
        entry.fd = fd;
        entry.dir = dir;
        dir.files += 1;
        this.openFiles += 1;
        closeWhenDone = false;
      }
      if (entry.fd === fd) entry.seenSeq = entry.dir!.seq;
    } catch (error) {
      // An I/O error: this descriptor is not kept.
      if (!closeWhenDone) this.release(known!);
      throw error;
    } finally {
      if (closeWhenDone) {
        fs.closeSync(fd);
        if (dir !== null && dir.files === 0) this.dirs.delete(dir.key);
      }
    }
    if (failure) throw failure;
    return 'updated';
  }

  private dirOf(key: string, path: fs.PathLike): KeptDir {
    const slash = key.lastIndexOf('/');
    const dirKey = slash > 0 ? key.slice(0, slash) : slash === 0 ? '/' : '.';
    let dir = this.dirs.get(dirKey);
    if (dir === undefined) {
      const dirPath = Buffer.isBuffer(path) ? (slash > 0 ? path.subarray(0, slash) : Buffer.from(dirKey)) : dirKey;
      dir = { ...watchedDir(dirPath), key: dirKey, files: 0 };
      this.dirs.set(dirKey, dir);
    }
    return dir;
  }

  /** Closes the file's kept descriptor, if any. */
  private release(entry: FileEntry): void {
    if (entry.fd < 0) return;
    const fd = entry.fd;
    const dir = entry.dir!;
    entry.fd = -1;
    entry.dir = null;
    this.openFiles -= 1;
    dir.files -= 1;
    if (dir.files === 0) this.dirs.delete(dir.key);
    try {
      fs.closeSync(fd);
    } catch {
      // EBADF/EIO on close: the descriptor is gone either way
    }
  }

  private evictOldest(): void {
    const oldest = this.files.keys().next().value as string;
    const entry = this.files.get(oldest);
    if (entry !== undefined) {
      this.release(entry);
      entry.listed = false;
    }
    this.files.delete(oldest);
  }

  /** Adds an entry to the map (evicting the oldest when full). */
  private list(entry: FileEntry): FileEntry {
    if (this.files.size >= this.maxFiles) this.evictOldest();
    this.files.set(entry.key, entry);
    entry.listed = true;
    return entry;
  }

  /** The file's last update time and structure, or why it is handed to rrdtool; writes nothing. */
  inspect(path: fs.PathLike): RrdInspection {
    let fd: number;
    try {
      fd = fs.openSync(path, 'r');
    } catch (error) {
      throw ioError(error, path);
    }
    try {
      const key = keyOf(path);
      const layout = this.readHeader(fd, path, key, this.files.get(key)).layout;
      if (layout === null) return { unsupported: this.unsupportedReason(path) ?? 'unsupported' };
      return { lastUpdate: this.view.ulong(layout.liveOffset), step: layout.step, ds: layout.ds.map((d) => d.name) };
    } finally {
      fs.closeSync(fd);
    }
  }

  /** Why the file was last handed back, or null. */
  unsupportedReason(path: fs.PathLike | NativeRrdFile): string | null {
    if (path instanceof NativeRrdFile) return path.unsupported;
    return this.files.get(keyOf(path))?.unsupported ?? null;
  }

  /** Forgets a file (its next update parses it again). */
  forget(path: fs.PathLike | NativeRrdFile): void {
    const key = path instanceof NativeRrdFile ? path.key : keyOf(path);
    const entry = this.files.get(key);
    if (entry !== undefined) {
      this.release(entry);
      entry.listed = false;
      entry.layout = null;
      entry.unsupported = null;
    }
    if (path instanceof NativeRrdFile && path !== entry) {
      this.release(path);
      path.layout = null;
      path.unsupported = null;
    }
    this.files.delete(key);
  }

  private open(path: fs.PathLike): number {
    try {
      return fs.openSync(path, 'r+');
    } catch (error) {
      throw ioError(error, path);
    }
  }

  /**
   * Reads the header into the scratch buffer; returns the file's entry, whose layout is
   * null (logged once) when the file is not one this module updates.
   */
  private readHeader(fd: number, path: fs.PathLike, key: string, entry: FileEntry | undefined): FileEntry {
    const known = entry !== undefined ? entry.layout : null;
    // A file not seen yet most likely has the structure of the last one (a tree has few).
    const guess = known ?? this.lastLayout;
    const wanted = guess ? guess.headerLength : FIRST_READ;
    let got = this.read(fd, path, wanted);
    let layout = known;
    let reason = 'unsupported';
    if (known === null && guess !== null && this.hasStatic(guess, got) && fstatSize(fd, path) === guess.fileLength) {
      layout = guess;
    } else if (known === null || !this.hasStatic(known, got)) {
      layout = null;
      const staticLen = got >= STAT_HEAD_SIZE ? staticLength(this.scratch.subarray(0, got)) : null;
      if (staticLen !== null) {
        const headerLength = headerLengthFor(readUlong(this.scratch, 24), readUlong(this.scratch, 32));
        if (got < headerLength && got === wanted) got = this.read(fd, path, headerLength);
        const interned = this.layouts.get(this.scratch.toString('latin1', 0, staticLen));
        const size = fstatSize(fd, path);
        if (interned !== undefined && got >= interned.headerLength && size === interned.fileLength) {
          layout = interned;
        } else {
          const parsed = parseLayout(this.scratch.subarray(0, got), size);
          if ('layout' in parsed) {
            layout = parsed.layout;
            if (this.layouts.size >= MAX_LAYOUTS) this.layouts.clear();
            this.layouts.set(layout.staticBytes.toString('latin1'), layout);
          } else {
            reason = parsed.unsupported;
          }
        }
      } else {
        reason = got < STAT_HEAD_SIZE ? 'shorter than an RRD header' : parseUnsupported(this.scratch.subarray(0, got));
      }
    }
    if (layout === null) return this.handBack(key, path, entry, reason);
    const liveProblem = checkLive(layout, this.scratch, this.view.u32);
    if (liveProblem !== null) return this.handBack(key, path, entry, liveProblem);
    this.lastLayout = layout;
    if (entry === undefined) {
      entry = this.list(new NativeRrdFile(path, key));
      entry.layout = layout;
    } else if (entry.layout !== layout) {
      entry.layout = layout;
      entry.unsupported = null;
    }
    return entry;
  }

  /** Whether the scratch buffer (`got` bytes read) holds a whole header with this static part. */
  private hasStatic(layout: RrdLayout, got: number): boolean {
    if (got < layout.headerLength) return false;
    // Word by word in JavaScript: cheaper than a binding call for these few hundred bytes.
    const words = layout.staticWords;
    const u32 = this.view.u32;
    for (let w = 0; w < words.length; w++) if (u32[w] !== words[w]) return false;
    return true;
  }

  private handBack(key: string, path: fs.PathLike, entry: FileEntry | undefined, reason: string): FileEntry {
    if (entry === undefined) entry = this.list(new NativeRrdFile(path, key));
    if (entry.unsupported !== reason) {
      this.logger.warn({ file: String(path), reason }, 'rrd: file not updated natively, handing it to rrdtool');
    }
    entry.layout = null;
    entry.unsupported = reason;
    return entry;
  }

  private read(fd: number, path: fs.PathLike, length: number): number {
    if (this.scratch.length < length) this.grow(length);
    try {
      return fs.readSync(fd, this.scratch, 0, length, 0);
    } catch (error) {
      throw ioError(error, path);
    }
  }

  private grow(length: number): void {
    const size = Math.max(length, this.scratch.length * 2, FIRST_READ);
    this.scratch = Buffer.from(new ArrayBuffer(Math.ceil(size / 8) * 8));
    this.view = new HeaderView(this.scratch);
  }

  /**
   * Rows first, each once with its final value, then the live header that points at
   * them: a crash in between leaves every row as it was or as these updates leave it.
   */
  private write(fd: number, path: fs.PathLike, layout: RrdLayout, rows: RowWrites): void {
    try {
      const writes = finalRowWrites(layout, rows);
      for (let k = 0; k < writes.length; k++) {
        const row = writes[k];
        writeFully(fd, rows.bytes, row.offset, row.length, row.position);
      }
      if (this.betweenWrites !== undefined && writes.length > 0) this.betweenWrites();
      writeFully(fd, this.scratch, layout.liveOffset, layout.headerLength - layout.liveOffset, layout.liveOffset);
    } catch (error) {
      throw ioError(error, path);
    }
  }
}

function writeFully(fd: number, buffer: Buffer, offset: number, length: number, position: number): void {
  while (length > 0) {
    const n = fs.writeSync(fd, buffer, offset, length, position);
    offset += n;
    position += n;
    length -= n;
  }
}

function fstatSize(fd: number, path: fs.PathLike): number {
  try {
    return fs.fstatSync(fd).size;
  } catch (error) {
    throw ioError(error, path);
  }
}

/** The reason parseLayout gives for a header whose counts are out of range. */
function parseUnsupported(head: Buffer): string {
  const parsed = parseLayout(head, -1);
  return 'unsupported' in parsed ? parsed.unsupported : 'header out of range';
}

/** The open-files soft limit (from /proc/self/limits) less a reserve for sockets and pipes. */
function defaultMaxOpenFiles(): number {
  let limit = 1024;
  try {
    const line = /^Max open files\s+(\d+)/m.exec(fs.readFileSync('/proc/self/limits', 'latin1'));
    if (line !== null) limit = Number(line[1]);
  } catch {
    // not Linux: assume the common 1024
  }
  return Math.max(0, Math.min(1 << 20, limit - Math.max(2048, Math.floor(limit / 5))));
}

function keyOf(path: fs.PathLike): string {
  return typeof path === 'string' ? path : Buffer.isBuffer(path) ? path.toString('latin1') : String(path);
}
