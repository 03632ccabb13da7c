/**
 * String and EXTRA_DATA interning for the snapshot builder.
 *
 * A poll of 1000 hosts x 100 metrics repeats the same few hundred metric names, types,
 * units, slopes and EXTRA_DATA lists on every host. Sharing one copy of each keeps a
 * Metric object down to mostly shared references. Interning also detaches values from
 * the parser's chunk strings: V8 represents a slice of 13 chars or more as a view on its
 * parent, so keeping such a slice would keep a whole 64 KB chunk alive.
 *
 * Entries live for two generations (polls): a string seen in this poll or the previous
 * one is shared, older ones are forgotten, so the table cannot grow without bound.
 */
import type { ExtraData, ExtraElement } from '../store/model';

/** Shorter slices are copied by V8 anyway (SlicedString::kMinLength is 13). */
const MIN_SLICED_LENGTH = 13;

const EMPTY_EXTRA: ExtraData = Object.freeze([]) as ExtraData;

/** Returns a string equal to `s` that does not reference a larger parent string. */
export function detach(s: string): string {
  if (s.length < MIN_SLICED_LENGTH) return s;
  for (let i = 0; i < s.length; i++) {
    // Chars above 0xFF (from &#NNN; references) do not survive a latin1 round trip.
    if (s.charCodeAt(i) > 0xff) return JSON.parse(JSON.stringify(s)) as string;
  }
  return Buffer.from(s, 'latin1').toString('latin1');
}

export class Interner {
  private strings = new Map<string, string>();
  private previousStrings = new Map<string, string>();
  /** Last EXTRA_DATA list seen per metric name. */
  private extras = new Map<string, ExtraData>();
  private previousExtras = new Map<string, ExtraData>();

  /** Starts a new generation: what was not used since the previous call is dropped. */
  nextGeneration(): void {
    this.previousStrings = this.strings;
    this.strings = new Map();
    this.previousExtras = this.extras;
    this.extras = new Map();
  }

  string(s: string): string {
    const hit = this.strings.get(s);
    if (hit !== undefined) return hit;
    const kept = this.previousStrings.get(s) ?? detach(s);
    this.strings.set(kept, kept);
    return kept;
  }

  /**
   * The EXTRA_DATA list made of names[i]/vals[i] for i < count, shared with the previous
   * identical list seen for the same metric name. The inputs may be raw parser slices:
   * they are compared by content and interned only when a new list has to be made.
   */
  extra(metricName: string, names: readonly string[], vals: readonly string[], count: number): ExtraData {
    if (count === 0) return EMPTY_EXTRA;
    const recent = this.extras.get(metricName);
    if (recent !== undefined && sameList(recent, names, vals, count)) return recent;
    const older = this.previousExtras.get(metricName);
    if (older !== undefined && sameList(older, names, vals, count)) {
      this.extras.set(metricName, older);
      return older;
    }
    const model = recent ?? older;
    const list: ExtraElement[] = new Array<ExtraElement>(count);
    for (let i = 0; i < count; i++) {
      // Reuse element objects of the last list where they match (GROUP/DESC/TITLE
      // usually do even when a per-host SPOOF_HOST differs).
      const same = model !== undefined && i < model.length && model[i].name === names[i] && model[i].val === vals[i];
      list[i] = same ? model[i] : { name: this.string(names[i]), val: this.string(vals[i]) };
    }
    Object.freeze(list);
    this.extras.set(metricName, list);
    return list;
  }
}

function sameList(list: ExtraData, names: readonly string[], vals: readonly string[], count: number): boolean {
  if (list.length !== count) return false;
  for (let i = 0; i < count; i++) {
    if (list[i].name !== names[i] || list[i].val !== vals[i]) return false;
  }
  return true;
}
