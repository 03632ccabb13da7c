/**
 * Dump chunks used again once written. A full dump is rendered into 1 MiB buffers; left to
 * the collector, each dump's buffers are freed only when V8 gets round to their wrappers,
 * so the next dump writes into fresh pages, and on this machine a fresh page costs a fault
 * of ~20 µs: an S2 dump (33 MB) spent ~150 ms of its ~190 ms faulting, against ~14 ms of
 * rendering into pages already touched (BENCHMARKS.md, issue 9). A chunk whose writes have
 * all completed and that no reader can still ask for comes back here, so a dump rotates a
 * few chunks instead of touching its whole size.
 *
 * A buffer is given back only by its one owner (shared-dump-cache's SharedDump, after the last
 * write callback), and a buffer already free is never added twice: a chunk in use is never
 * handed out again.
 */
/**
 * Size of a socket write of a dump. Ten clients reading 334 MB over loopback cost the writing
 * thread 0.98–1.14 s of CPU in 256 KiB writes, 0.84 s in 1 MiB writes (bench/loopback-floor).
 * A chunk is below bin/gmetad's 2 MiB mmap threshold, so it comes from glibc's arenas.
 */
export const CHUNK_BYTES = 1024 * 1024;

/** Free chunks kept: enough for a dump's writes in flight to several clients. */
const MAX_FREE_CHUNKS = 8;
/** Free chunks are let go after this long without a dump, so an idle daemon holds none. */
const IDLE_RELEASE_MS = 10_000;

export class ChunkPool {
  private readonly free: ArrayBuffer[] = [];
  private readonly freeSet = new WeakSet<ArrayBuffer>();
  private idleTimer: NodeJS.Timeout | null = null;
  /** Chunks handed out from the free list (tests read it). */
  reused = 0;

  constructor(readonly chunkBytes = CHUNK_BYTES, private readonly maxFree = MAX_FREE_CHUNKS, private readonly idleReleaseMs = IDLE_RELEASE_MS) {}

  /** A buffer of `chunkBytes` whose ArrayBuffer is its own (not node's shared slab). */
  take(): Buffer {
    const buffer = this.free.pop();
    if (buffer === undefined) return Buffer.allocUnsafeSlow(this.chunkBytes);
    this.freeSet.delete(buffer);
    this.reused += 1;
    return Buffer.from(buffer);
  }

  /** The caller guarantees nothing reads or writes any part of `bytes.buffer` any more. */
  give(bytes: Uint8Array): void {
    const buffer = bytes.buffer;
    if (!(buffer instanceof ArrayBuffer) || buffer.byteLength !== this.chunkBytes || this.freeSet.has(buffer)) return;
    if (this.free.length >= this.maxFree) return;
    this.free.push(buffer);
    this.freeSet.add(buffer);
    this.armIdleRelease();
  }

  get freeChunks(): number {
    return this.free.length;
  }

  /** Lets every free chunk go (to the collector). */
  release(): void {
    for (const buffer of this.free) this.freeSet.delete(buffer);
    this.free.length = 0;
  }

  private armIdleRelease(): void {
    if (this.idleTimer === null) {
      this.idleTimer = setTimeout(() => this.release(), this.idleReleaseMs);
      this.idleTimer.unref();
    } else {
      this.idleTimer.refresh();
    }
  }
}

/** The port thread's pool: image-render takes from it, SharedDump gives back to it. */
export const dumpChunkPool = new ChunkPool();
