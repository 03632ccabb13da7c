/**
 * Turning rendered pieces into ~1 MiB latin1 Buffers, and sharing the full dump between
 * clients: dumps that start in the same second from the same TreeView read one shared
 * list of Buffers, rendered once, on demand of the fastest reader. Chunks are dropped as
 * soon as no reader (present or, within that second, future) can need them, so memory
 * stays around one dump even under many concurrent clients, and go back to the chunk pool
 * once their writes have called back (chunk-pool.ts), to be rendered into again.
 */

import { type Clock, epochSeconds, systemClock } from '../util/clock';

import { CHUNK_BYTES, dumpChunkPool, type ChunkPool } from './chunk-pool';

export { CHUNK_BYTES };

/**
 * Latin1 text (one char per byte) or bytes. A producer never writes into the bytes of a
 * piece once it has yielded it (image-render allocates a new buffer per piece), so a large
 * byte piece is sent as it is, without a copy.
 */
export type Piece = string | Uint8Array;

/** A pull source of Buffers; `next()` renders at most about one chunk. */
export interface ChunkSource {
  next(): Buffer | null;
  /** The reader is done (finished or gone); releases what it pinned. */
  close(): void;
  /**
   * The write of a chunk `next()` returned has completed (or failed): the writer no longer
   * needs its bytes. A source that reuses its buffers waits for this.
   */
  written?(chunk: Buffer): void;
}

/**
 * Packs pieces into Buffers of `chunkBytes`, writing each piece straight into the Buffer
 * (no joined intermediate string) and splitting a piece across chunks where needed. A byte
 * piece of a quarter chunk up to a whole chunk is handed on as its own Buffer instead of
 * being copied (image-rendered hosts come as whole chunks: this saves a copy of the dump).
 */
export class PieceBatcher {
  private finished = false;
  /** The unwritten tail of a piece that did not fit in the previous chunk. */
  private pending: Piece | null = null;
  /** A byte piece to hand on as the next chunk, as it is. */
  private whole: Buffer | null = null;

  constructor(private readonly pieces: Iterator<Piece>, private readonly chunkBytes = CHUNK_BYTES, private readonly pool: ChunkPool = dumpChunkPool) {}

  next(): Buffer | null {
    if (this.whole !== null) {
      const chunk = this.whole;
      this.whole = null;
      return chunk;
    }
    if (this.finished && this.pending === null) return null;
    let buffer: Buffer | null = null;
    let used = 0;
    while (used < this.chunkBytes) {
      let piece = this.pending;
      if (piece === null) {
        const step = this.pieces.next();
        if (step.done) {
          this.finished = true;
          break;
        }
        piece = step.value;
        if (typeof piece !== 'string' && piece.length >= this.chunkBytes / 4 && piece.length <= this.chunkBytes) {
          const chunk = Buffer.from(piece.buffer, piece.byteOffset, piece.length);
          if (used === 0) return chunk;
          this.whole = chunk; // after what is already in this chunk
          break;
        }
      }
      buffer ??= this.chunkBytes === this.pool.chunkBytes ? this.pool.take() : Buffer.allocUnsafe(this.chunkBytes);
      let written: number;
      if (typeof piece === 'string') {
        written = buffer.write(piece, used, 'latin1');
      } else {
        written = Math.min(piece.length, this.chunkBytes - used);
        buffer.set(written === piece.length ? piece : piece.subarray(0, written), used);
      }
      used += written;
      this.pending = written < piece.length ? piece.slice(written) : null;
    }
    if (buffer === null || used === 0) return null;
    return used === this.chunkBytes ? buffer : buffer.subarray(0, used);
  }
}

export function sourceFromPieces(pieces: Iterable<Piece>, chunkBytes = CHUNK_BYTES): ChunkSource {
  const batcher = new PieceBatcher(pieces[Symbol.iterator](), chunkBytes);
  return { next: () => batcher.next(), close: () => undefined };
}

/** One full dump shared by the readers that joined it. */
class SharedDump {
  /** chunks[i] is undefined once released. */
  private readonly chunks: (Buffer | undefined)[] = [];
  private readonly cursors = new Set<{ index: number }>();
  private readonly batcher: PieceBatcher;
  /** Whether new readers may still join (and so need the chunks from the start). */
  private joinable = true;
  /** Bytes rendered while joinable, all kept for readers that may still join. */
  private keptBytes = 0;
  /** Writes handed out and not yet completed, per chunk. */
  private readonly writing = new Map<Buffer, number>();
  /** Chunks no reader can ask for any more that still have writes in flight. */
  private readonly droppedWhileWriting = new Set<Buffer>();

  constructor(
    readonly key: object,
    readonly second: number,
    pieces: Iterable<Piece>,
    private readonly onEmpty: (dump: SharedDump) => void,
    chunkBytes: number,
    private readonly maxKeptBytes: number,
    private readonly pool: ChunkPool,
  ) {
    this.batcher = new PieceBatcher(pieces[Symbol.iterator](), chunkBytes, pool);
  }

  get isJoinable(): boolean {
    return this.joinable;
  }

  join(): ChunkSource {
    const cursor = { index: 0 };
    this.cursors.add(cursor);
    let closed = false;
    return {
      next: () => {
        if (closed) return null;
        if (cursor.index === this.chunks.length) {
          const chunk = this.batcher.next();
          if (chunk === null) return null;
          this.chunks.push(chunk);
          // Bound memory: past this much, late-comers render a dump of their own instead.
          if (this.joinable && (this.keptBytes += chunk.length) > this.maxKeptBytes) this.joinable = false;
        }
        const chunk = this.chunks[cursor.index];
        cursor.index += 1;
        // Counted before it can be dropped below: its bytes are in use until the write is done.
        if (chunk !== undefined) this.writing.set(chunk, (this.writing.get(chunk) ?? 0) + 1);
        if (!this.joinable) this.releaseBehindSlowest();
        return chunk ?? null;
      },
      close: () => {
        if (closed) return;
        closed = true;
        this.cursors.delete(cursor);
        if (this.cursors.size === 0) {
          this.joinable = false;
          for (const chunk of this.chunks) if (chunk !== undefined) this.drop(chunk);
          this.chunks.length = 0;
          this.onEmpty(this);
        } else if (!this.joinable) {
          this.releaseBehindSlowest();
        }
      },
      written: (chunk) => {
        const left = (this.writing.get(chunk) ?? 0) - 1;
        if (left > 0) {
          this.writing.set(chunk, left);
          return;
        }
        this.writing.delete(chunk);
        if (this.droppedWhileWriting.delete(chunk)) this.pool.give(chunk);
      },
    };
  }

  /** No reader can ask for `chunk` any more: back to the pool once its writes are done. */
  private drop(chunk: Buffer): void {
    if (this.writing.has(chunk)) this.droppedWhileWriting.add(chunk);
    else this.pool.give(chunk);
  }

  /** No one else will join: chunks every reader has passed can go. */
  seal(): void {
    if (!this.joinable) return;
    this.joinable = false;
    this.releaseBehindSlowest();
  }

  private releaseBehindSlowest(): void {
    let slowest = this.chunks.length;
    for (const c of this.cursors) if (c.index < slowest) slowest = c.index;
    for (let i = slowest - 1; i >= 0 && this.chunks[i] !== undefined; i--) {
      this.drop(this.chunks[i]!);
      this.chunks[i] = undefined;
    }
  }
}

/**
 * Hands out readers of the full dump: a reader joins the current shared dump if it was
 * started in the same second for the same key (the TreeView), else a new one is started.
 */
export class SharedDumpCache {
  private current: SharedDump | null = null;
  /** Epoch seconds: a dump is shared by readers that start within the same second. */
  private readonly second: () => number;

  constructor(
    private readonly chunkBytes = CHUNK_BYTES,
    clock: Clock = systemClock,
    /** How much of a dump is kept for clients that may still join it. */
    private readonly maxKeptBytes = 64 * 1024 * 1024,
    private readonly pool: ChunkPool = dumpChunkPool,
  ) {
    this.second = () => epochSeconds(clock);
  }

  /** `render` is called only when a new dump has to be started. */
  acquire(key: object, second: number, render: () => Iterable<Piece>): ChunkSource {
    const cur = this.current;
    if (cur !== null && cur.isJoinable && cur.key === key && cur.second === second) {
      return this.guard(cur, cur.join());
    }
    cur?.seal();
    const dump = new SharedDump(key, second, render(), (d) => {
      if (this.current === d) this.current = null;
    }, this.chunkBytes, this.maxKeptBytes, this.pool);
    this.current = dump;
    return this.guard(dump, dump.join());
  }

  /** Seals a dump once its second is over, so its readers stop pinning early chunks. */
  private guard(dump: SharedDump, source: ChunkSource): ChunkSource {
    return {
      next: () => {
        if (dump.isJoinable && this.second() !== dump.second) {
          dump.seal();
          if (this.current === dump) this.current = null;
        }
        return source.next();
      },
      close: () => source.close(),
      written: (chunk) => source.written?.(chunk),
    };
  }
}
