/**
 * Host values waiting for their write-behind update, held in flat typed arrays: one slot
 * range per file, no object per value. With 100k files and eight values each waiting, a
 * string per value kept ~800k objects alive in the old generation, and the garbage
 * collector's marking of them cost more CPU than writing the RRDs.
 *
 * Values are kept as numbers: String(Number(VAL)) is the shortest text of the same double,
 * so rrdtool (strtod) reads back exactly what it would have read from VAL.
 */
export class PendingValues {
  private times: Uint32Array;
  private values: Float64Array;
  private readonly counts: number[] = [];
  private readonly freeSlots: number[] = [];

  constructor(readonly perFile: number, initialFiles = 1024) {
    this.times = new Uint32Array(perFile * initialFiles);
    this.values = new Float64Array(perFile * initialFiles);
  }

  /** A slot range for a new file. */
  allocate(): number {
    const reused = this.freeSlots.pop();
    if (reused !== undefined) return reused;
    const slot = this.counts.length;
    this.counts.push(0);
    if ((slot + 1) * this.perFile > this.values.length) this.grow();
    return slot;
  }

  count(slot: number): number {
    return this.counts[slot];
  }

  /** Adds a value; false when the file's range is full. NaN stands for unknown ('U'). */
  push(slot: number, ts: number, value: number): boolean {
    const n = this.counts[slot];
    if (n >= this.perFile) return false;
    const at = slot * this.perFile + n;
    this.times[at] = ts;
    this.values[at] = value;
    this.counts[slot] = n + 1;
    return true;
  }

  /** The pending `ts:value` arguments of a file, oldest first; empties its range. */
  take(slot: number): string[] {
    const n = this.counts[slot];
    const base = slot * this.perFile;
    const out = new Array<string>(n);
    for (let i = 0; i < n; i++) {
      const v = this.values[base + i];
      out[i] = `${this.times[base + i]}:${Number.isNaN(v) ? 'U' : String(v)}`;
    }
    this.counts[slot] = 0;
    return out;
  }

  /** Gives a file's range back (its values are dropped). */
  free(slot: number): void {
    this.counts[slot] = 0;
    this.freeSlots.push(slot);
  }

  clear(slot: number): number {
    const n = this.counts[slot];
    this.counts[slot] = 0;
    return n;
  }

  private grow(): void {
    const times = new Uint32Array(this.times.length * 2);
    times.set(this.times);
    const values = new Float64Array(this.values.length * 2);
    values.set(this.values);
    this.times = times;
    this.values = values;
  }
}
