/**
 * DirWatch: tells cheaply whether a directory's entries may have changed (a file deleted,
 * renamed over, created; the directory itself deleted or replaced) since a file in it was
 * last written, with one stat of the directory per write round instead of one per file.
 *
 * Unlink, rename and create change a directory's mtime and ctime (and, on tmpfs, its size);
 * writing into a file does not. Each tracked file remembers the directory's check number at
 * its last write; a write whose file has not seen a newer check stats the directory again, so
 * between two writes of one file there is always a stat of its directory, and in a round that
 * writes every file once (a poll) the directory is stat'ed about once.
 *
 * Limit: a change made in the same file-system clock tick (a few ms) as the change before it,
 * with our stat in between, leaves the signature as it was; the next change shows it.
 */
import * as fs from 'node:fs';

export interface WatchedDir {
  /** fs path of the directory. */
  readonly path: string | Buffer;
  /** Number of checks done (a file that saw check n needs check n+1 before its next write). */
  seq: number;
  /** Check number at which the directory was last seen changed or missing. */
  changedAt: number;
  ino: number;
  mtimeMs: number;
  ctimeMs: number;
  size: number;
}

export function watchedDir(path: string | Buffer): WatchedDir {
  return { path, seq: 0, changedAt: 0, ino: -1, mtimeMs: 0, ctimeMs: 0, size: 0 };
}

/**
 * Whether the directory may have changed since a file that saw check `seenSeq` was written:
 * stats the directory when that file has not seen a newer check. The caller stores
 * `dir.seq` as the file's new seenSeq after the write.
 */
export function dirChangedSince(dir: WatchedDir, seenSeq: number): boolean {
  if (seenSeq === dir.seq) {
    dir.seq += 1;
    let st: fs.Stats | undefined;
    try {
      st = fs.statSync(dir.path, { throwIfNoEntry: false });
    } catch {
      st = undefined; // ENOTDIR, EACCES...: treated as gone; the write that follows reports it
    }
    if (st === undefined) {
      dir.ino = -1;
      dir.changedAt = dir.seq;
    } else if (st.ino !== dir.ino || st.mtimeMs !== dir.mtimeMs || st.ctimeMs !== dir.ctimeMs || st.size !== dir.size) {
      dir.ino = st.ino;
      dir.mtimeMs = st.mtimeMs;
      dir.ctimeMs = st.ctimeMs;
      dir.size = st.size;
      dir.changedAt = dir.seq;
    }
  }
  return dir.changedAt > seenSeq;
}
