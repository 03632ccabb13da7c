/**
 * rrdtool 1.7.2's update (rrd_update.c: process_arg and what it calls) for GAUGE, COUNTER,
 * DERIVE and ABSOLUTE data sources and AVERAGE, MIN, MAX and LAST archives, ported step
 * for step on an in-memory copy of a file's header. It changes the header in place and
 * lists the rows to write; it does no I/O. The arithmetic is the C code's, in the same
 * order, so the doubles come out bit for bit; every NaN is stored as rrdtool's DNAN.
 */
import {
  CDP_PREP_SIZE, CDP_PRIMARY, CDP_SECONDARY, CDP_UNKN_PDP, CDP_VAL, LAST_DS_LEN, PDP_PREP_SIZE,
  PDP_UNKN_SEC, PDP_VAL, RRA_PTR_SIZE, VALUE_SIZE, type RrdLayout,
} from './rrd-layout';
import { DNAN_HIGH_WORD, rrdDiff, rrdStrtodbl } from './rrd-numbers';

/** Why an update was not applied; `message` is rrdtool's wording where rrdtool has one. */
export type RrdUpdateErrorKind =
  /** Timestamp not after the file's last update (rrdtool: "illegal attempt to update"). */
  | 'stale'
  /** A value or timestamp rrdtool would not parse, or the wrong number of values. */
  | 'invalid'
  /** The file does not exist (any more): the caller may create it. */
  | 'missing'
  /** Another I/O error (permissions, full file system, ...). */
  | 'io';

export class RrdUpdateError extends Error {
  constructor(readonly kind: RrdUpdateErrorKind, message: string, readonly code?: string) {
    super(message);
    this.name = 'RrdUpdateError';
  }
}

/** A run of rows of archive `rra` to write: `length` bytes of RowWrites.bytes from `offset`, at file offset `position`. */
export interface RowWrite {
  readonly rra: number;
  readonly position: number;
  readonly offset: number;
  readonly length: number;
}

/**
 * The rows an update writes, in order, their bytes in one buffer reused from call to call
 * (clear() before each: no buffer per row, values copied as 32-bit words so every NaN keeps
 * its bits).
 */
export class RowWrites {
  readonly list: RowWrite[] = [];
  bytes: Buffer = Buffer.alloc(0);
  private u32 = new Uint32Array(0);
  private used = 0;

  constructor(capacity = 4096) {
    this.grow(capacity);
  }

  clear(): void {
    this.list.length = 0;
    this.used = 0;
  }

  /** The bytes of one write (a view, valid until the next clear()). */
  bytesOf(write: Pick<RowWrite, 'offset' | 'length'>): Buffer {
    return this.bytes.subarray(write.offset, write.offset + write.length);
  }

  /** Appends a run of `count` rows of `dsCount` values; returns the word index of its first value. */
  reserve(count: number, dsCount: number, rra: number, position: number): number {
    const length = count * dsCount * VALUE_SIZE;
    if (this.used + length > this.bytes.length) this.grow(this.used + length);
    const offset = this.used;
    this.used += length;
    this.list.push({ rra, position, offset, length });
    return offset >> 2;
  }

  /** Copies the 8 bytes of a header value (32-bit words) to word `to`. */
  copyValue(from: Uint32Array, fromWord: number, to: number): void {
    this.u32[to] = from[fromWord];
    this.u32[to + 1] = from[fromWord + 1];
  }

  private grow(length: number): void {
    const size = Math.ceil(Math.max(length, this.bytes.length * 2, 64) / 8) * 8;
    const bytes = Buffer.from(new ArrayBuffer(size));
    this.bytes.copy(bytes, 0, 0, this.used);
    this.bytes = bytes;
    this.u32 = new Uint32Array(bytes.buffer, 0, size >> 2);
  }
}

/** A header buffer with aligned views (the buffer must start at an 8-byte aligned offset). */
export class HeaderView {
  readonly f64: Float64Array;
  readonly u32: Uint32Array;

  constructor(readonly buf: Buffer) {
    if (buf.byteOffset % 8 !== 0) throw new RangeError('header buffer must be 8-byte aligned');
    this.f64 = new Float64Array(buf.buffer, buf.byteOffset, buf.length >> 3);
    this.u32 = new Uint32Array(buf.buffer, buf.byteOffset, buf.length >> 2);
  }

  double(offset: number): number {
    return this.f64[offset >> 3];
  }

  setDouble(offset: number, value: number): void {
    if (value !== value) {
      this.u32[offset >> 2] = 0;
      this.u32[(offset >> 2) + 1] = DNAN_HIGH_WORD;
    } else {
      this.f64[offset >> 3] = value;
    }
  }

  /** An unsigned long known (checked by checkLive) to fit in 53 bits. */
  ulong(offset: number): number {
    return this.u32[(offset >> 2) + 1] * 0x100000000 + this.u32[offset >> 2];
  }

  /** Stores a double into an unsigned long as C does (truncation; the values are >= 0). */
  setUlong(offset: number, value: number): void {
    const n = Math.trunc(value);
    this.u32[offset >> 2] = n % 0x100000000;
    this.u32[(offset >> 2) + 1] = Math.floor(n / 0x100000000);
  }
}

/** Per-update working arrays, reused across calls. */
let pdpNew = new Float64Array(8);
let pdpTemp = new Float64Array(8);
let openPdpNew = new Float64Array(8);
let parsed = new Float64Array(8);
let rraStepCount = new Float64Array(8);

function ensureScratch(dsCount: number, rraCount: number): void {
  if (pdpNew.length < dsCount) {
    pdpNew = new Float64Array(dsCount);
    pdpTemp = new Float64Array(dsCount);
    openPdpNew = new Float64Array(dsCount);
    parsed = new Float64Array(dsCount);
  }
  if (rraStepCount.length < rraCount) rraStepCount = new Float64Array(rraCount);
}

function isDigitString(text: string, allowMinus: boolean): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (i === 0 && allowMinus && c === 45) continue;
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/** The file's last update time (live_head.last_up), whole seconds. */
export function lastUpdate(layout: RrdLayout, view: HeaderView): number {
  return view.ulong(layout.liveOffset);
}

/**
 * Applies one update at `time` (whole seconds since the epoch) with one rrdtool value text
 * per DS ("U" or anything starting with 'U' is unknown). Throws RrdUpdateError, leaving the
 * header untouched, where rrdtool refuses the update; else changes the header and appends
 * the rows to write, in order, to `rows`.
 */
export function applyUpdate(layout: RrdLayout, view: HeaderView, time: number, values: readonly string[], rows: RowWrites): void {
  const ds = layout.ds;
  const dsCount = ds.length;
  const step = layout.step;
  const live = layout.liveOffset;
  ensureScratch(dsCount, layout.rras.length);

  if (values.length !== dsCount) {
    throw new RrdUpdateError('invalid', `expected ${dsCount} data source readings (got ${values.length}) from ${time}:${values.join(':')}`);
  }
  const lastUp = view.ulong(live);
  const lastUpUsec = view.ulong(live + 8);
  // get_time_from_reading(): whole-second timestamps have usec 0.
  if (time < lastUp || (time === lastUp && 0 <= lastUpUsec)) {
    throw new RrdUpdateError('stale', `illegal attempt to update using time ${time} when last update time is ${lastUp} (minimum one second step)`);
  }
  let interval = (time - lastUp) + (0 - lastUpUsec) / 1e6;

  // Everything rrdtool could refuse is checked before anything changes (rrdtool, which
  // writes through mmap, may already have changed earlier DSs' last_ds when it refuses).
  for (let i = 0; i < dsCount; i++) {
    const value = values[i];
    if (value.indexOf('\0') >= 0 || value.indexOf(':') >= 0) {
      throw new RrdUpdateError('invalid', `value ${JSON.stringify(value)} cannot be passed to rrdtool`);
    }
    parsed[i] = NaN;
    if (value.charCodeAt(0) === 85 /* U */ || ds[i].heartbeat < interval) continue;
    const type = ds[i].type;
    if (type === 'COUNTER' || type === 'DERIVE') {
      if (!isDigitString(value, type === 'DERIVE')) {
        throw new RrdUpdateError('invalid', `not a simple ${type === 'DERIVE' ? 'signed' : 'unsigned'} integer: '${value}'`);
      }
    } else {
      const number = rrdStrtodbl(value);
      if (number === null) throw new RrdUpdateError('invalid', `Cannot convert '${value}' to float`);
      parsed[i] = number;
    }
  }

  // update_pdp_prep()
  for (let i = 0; i < dsCount; i++) {
    const def = ds[i];
    const at = layout.pdpOffset + i * PDP_PREP_SIZE;
    const value = values[i];
    const lastDsUnknown = def.heartbeat < interval || view.buf[at] === 85 /* U */;
    let result = NaN;
    if (value.charCodeAt(0) !== 85 && def.heartbeat >= interval) {
      let rate = NaN;
      switch (def.type) {
        case 'COUNTER':
        case 'DERIVE':
          if (!lastDsUnknown) {
            const end = view.buf.indexOf(0, at);
            result = rrdDiff(value, view.buf.toString('latin1', at, end));
            if (def.type === 'COUNTER') {
              if (result < 0) result += 4294967295.0;
              if (result < 0) result += 18446744069414584320.0;
            }
            rate = result / interval;
          }
          break;
        case 'ABSOLUTE':
          result = parsed[i];
          rate = result / interval;
          break;
        case 'GAUGE':
          result = parsed[i] * interval;
          rate = parsed[i];
          break;
      }
      if (rate === rate && ((def.max === def.max && rate > def.max) || (def.min === def.min && rate < def.min))) {
        result = NaN;
      }
    }
    pdpNew[i] = result;
    // strncpy(last_ds, value, LAST_DS_LEN - 1), NUL padded, last byte NUL; each character's
    // low byte, as Buffer.write(..., 'latin1') stores it (a loop: no binding call per value).
    const buf = view.buf;
    const length = value.length < LAST_DS_LEN - 1 ? value.length : LAST_DS_LEN - 1;
    let c = 0;
    for (; c < length; c++) buf[at + c] = value.charCodeAt(c);
    for (; c < LAST_DS_LEN; c++) buf[at + c] = 0;
  }

  // calculate_elapsed_steps()
  const procPdpAge = lastUp % step;
  const procPdpSt = lastUp - procPdpAge;
  const occuPdpAge = time % step;
  const occuPdpSt = time - occuPdpAge;
  let preInt: number;
  let postInt: number;
  if (occuPdpSt > procPdpSt) {
    preInt = occuPdpSt - lastUp;
    preInt -= lastUpUsec / 1e6;
    postInt = occuPdpAge;
  } else {
    preInt = interval;
    postInt = 0;
  }
  let procPdpCount = procPdpSt / step;
  let elapsed = (occuPdpSt - procPdpSt) / step;

  if (elapsed === 0) {
    simpleUpdate(layout, view, interval);
  } else {
    if (elapsed > 1) {
      // The "JKammler" split: the PDP left open by the last update is closed first.
      const secOpenPdp = Math.trunc(preInt) % step;
      if (secOpenPdp > 0) {
        for (let i = 0; i < dsCount; i++) {
          if (pdpNew[i] === pdpNew[i] && interval > 0) {
            openPdpNew[i] = pdpNew[i] * secOpenPdp / interval;
            pdpNew[i] -= openPdpNew[i];
          } else {
            openPdpNew[i] = NaN;
          }
        }
        processAllPdpSt(layout, view, secOpenPdp, secOpenPdp, 0, 1, openPdpNew);
        updateAllCdpPrep(layout, view, 1, procPdpCount);
        writeToRras(layout, view, rows);
        interval -= secOpenPdp;
        preInt -= secOpenPdp;
        elapsed--;
        procPdpCount++;
      }
    }
    processAllPdpSt(layout, view, interval, preInt, postInt, elapsed, pdpNew);
    updateAllCdpPrep(layout, view, elapsed, procPdpCount);
    writeToRras(layout, view, rows);
  }
  view.setUlong(live, time);
  view.setUlong(live + 8, 0);
}

function simpleUpdate(layout: RrdLayout, view: HeaderView, interval: number): void {
  for (let i = 0; i < layout.ds.length; i++) {
    const at = layout.pdpOffset + i * PDP_PREP_SIZE;
    if (pdpNew[i] !== pdpNew[i]) {
      view.setUlong(at + PDP_UNKN_SEC, view.ulong(at + PDP_UNKN_SEC) + Math.floor(interval));
    } else {
      const val = view.double(at + PDP_VAL);
      view.setDouble(at + PDP_VAL, val !== val ? pdpNew[i] : val + pdpNew[i]);
    }
  }
}

/** process_all_pdp_st() / process_pdp_st(): closes the PDP(s), leaving their rates in pdpTemp. */
function processAllPdpSt(
  layout: RrdLayout, view: HeaderView, interval: number, preInt: number, postInt: number, elapsed: number, news: Float64Array,
): void {
  const step = layout.step;
  const diffPdpSt = elapsed * step;
  for (let i = 0; i < layout.ds.length; i++) {
    const at = layout.pdpOffset + i * PDP_PREP_SIZE;
    const heartbeat = layout.ds[i].heartbeat;
    const pdp = news[i];
    let preUnknown = 0.0;
    let val = view.double(at + PDP_VAL);
    if (pdp !== pdp) {
      preUnknown = preInt;
    } else {
      if (val !== val) val = 0;
      val += pdp / interval * preInt;
    }
    const unknownSeconds = view.ulong(at + PDP_UNKN_SEC);
    if (interval > heartbeat || step / 2.0 < unknownSeconds) {
      pdpTemp[i] = NaN;
    } else {
      pdpTemp[i] = val / ((diffPdpSt - unknownSeconds) - preUnknown);
    }
    if (pdp !== pdp) {
      view.setUlong(at + PDP_UNKN_SEC, Math.floor(postInt));
      view.setDouble(at + PDP_VAL, NaN);
    } else {
      view.setUlong(at + PDP_UNKN_SEC, 0);
      view.setDouble(at + PDP_VAL, pdp / interval * postInt);
    }
  }
}

/** update_all_cdp_prep() with update_cdp_prep() and update_aberrant_cdps() for plain CFs. */
function updateAllCdpPrep(layout: RrdLayout, view: HeaderView, elapsed: number, procPdpCount: number): void {
  const dsCount = layout.ds.length;
  const rras = layout.rras;
  for (let j = 0; j < rras.length; j++) {
    const rra = rras[j];
    const pdpCount = rra.pdpCount;
    const startPdpOffset = pdpCount - (procPdpCount % pdpCount);
    rraStepCount[j] = startPdpOffset <= elapsed
      ? Math.min(Math.floor((elapsed - startPdpOffset) / pdpCount) + 1, rra.rowCount)
      : 0;
    for (let i = 0; i < dsCount; i++) {
      const at = layout.cdpOffset + (j * dsCount + i) * CDP_PREP_SIZE;
      if (pdpCount > 1) {
        updateCdp(view, at, rra.cf, pdpTemp[i], rraStepCount[j], elapsed, startPdpOffset, pdpCount, rra.xff);
      } else {
        // One PDP per row: reset_cdp() (elapsed > 2) or update_aberrant_cdps() (1 or 2)
        // store the PDP as primary value, and as secondary value when >= 2 PDPs passed.
        view.setDouble(at + CDP_PRIMARY, pdpTemp[i]);
        if (elapsed >= 2) view.setDouble(at + CDP_SECONDARY, pdpTemp[i]);
      }
    }
  }
}

/** update_cdp() with initialize_cdp_val(), initialize_carry_over() and calculate_cdp_val(). */
function updateCdp(
  view: HeaderView, at: number, cf: string, temp: number, stepCount: number, elapsed: number,
  startPdpOffset: number, pdpCount: number, xff: number,
): void {
  const tempUnknown = temp !== temp;
  if (stepCount) {
    let unknown = view.ulong(at + CDP_UNKN_PDP);
    if (tempUnknown) {
      unknown += startPdpOffset;
      view.setDouble(at + CDP_SECONDARY, NaN);
    } else {
      view.setDouble(at + CDP_SECONDARY, temp);
    }
    const val = view.double(at + CDP_VAL);
    if (unknown > pdpCount * xff) {
      view.setDouble(at + CDP_PRIMARY, NaN);
    } else {
      let primary: number;
      switch (cf) {
        case 'AVERAGE': {
          const cum = val !== val ? 0.0 : val;
          const cur = tempUnknown ? 0.0 : temp;
          primary = (cum + cur * startPdpOffset) / (pdpCount - unknown);
          break;
        }
        case 'MAX': {
          const cum = val !== val ? -Infinity : val;
          const cur = tempUnknown ? -Infinity : temp;
          primary = cur > cum ? cur : cum;
          break;
        }
        case 'MIN': {
          const cum = val !== val ? Infinity : val;
          const cur = tempUnknown ? Infinity : temp;
          primary = cur < cum ? cur : cum;
          break;
        }
        default:
          primary = temp;
      }
      view.setDouble(at + CDP_PRIMARY, primary);
    }
    const intoCdp = (elapsed - startPdpOffset) % pdpCount;
    let carry: number;
    if (intoCdp === 0 || tempUnknown) {
      carry = cf === 'MAX' ? -Infinity : cf === 'MIN' ? Infinity : cf === 'AVERAGE' ? 0 : NaN;
    } else {
      carry = cf === 'AVERAGE' ? temp * intoCdp : temp;
    }
    view.setDouble(at + CDP_VAL, carry);
    view.setUlong(at + CDP_UNKN_PDP, tempUnknown ? intoCdp : 0);
  } else if (tempUnknown) {
    view.setUlong(at + CDP_UNKN_PDP, view.ulong(at + CDP_UNKN_PDP) + elapsed);
  } else {
    const val = view.double(at + CDP_VAL);
    let next: number;
    if (val !== val) {
      next = cf === 'AVERAGE' ? temp * elapsed : temp;
    } else if (cf === 'AVERAGE') {
      next = val + temp * elapsed;
    } else if (cf === 'MIN') {
      next = temp < val ? temp : val;
    } else if (cf === 'MAX') {
      next = temp > val ? temp : val;
    } else {
      next = temp;
    }
    view.setDouble(at + CDP_VAL, next);
  }
}

/** write_to_rras(): advances each RRA's cur_row by its step count, the first row primary, the rest secondary. */
function writeToRras(layout: RrdLayout, view: HeaderView, rows: RowWrites): void {
  const dsCount = layout.ds.length;
  const rowBytes = dsCount * VALUE_SIZE;
  for (let j = 0; j < layout.rras.length; j++) {
    let count = rraStepCount[j];
    if (count === 0) continue;
    const rra = layout.rras[j];
    const ptrAt = layout.ptrOffset + j * RRA_PTR_SIZE;
    const cdpAt = layout.cdpOffset + j * dsCount * CDP_PREP_SIZE;
    let row = view.ulong(ptrAt);
    let first = true;
    while (count > 0) {
      row = row + 1 >= rra.rowCount ? 0 : row + 1;
      const run = Math.min(count, rra.rowCount - row);
      let to = rows.reserve(run, dsCount, j, rra.start + row * rowBytes);
      for (let r = 0; r < run; r++) {
        const slot = first ? CDP_PRIMARY : CDP_SECONDARY;
        first = false;
        for (let i = 0; i < dsCount; i++, to += 2) {
          // The 8 bytes as they are: the value is already stored as rrdtool would write it.
          rows.copyValue(view.u32, (cdpAt + i * CDP_PREP_SIZE + slot) >> 2, to);
        }
      }
      row += run - 1;
      count -= run;
    }
    view.setUlong(ptrAt, row);
  }
}

/** Rows each archive is written in one call to finalRowWrites (reused). */
let rowsPerRra = new Float64Array(8);

/**
 * The writes of `rows` that survive: each row once, with the value it ends with.
 * An archive's rows are written in ring order from its cur_row on, so when one call
 * writes more rows than the archive holds (an update across a whole archive whose
 * open PDP is closed first writes that first row twice; several updates in one call
 * can go round several times), only the last row_cnt of them are final. Writing only
 * those makes a crash before the header leave every row either as it was or as the
 * update leaves it, never a value of an intermediate step.
 */
export function finalRowWrites(layout: RrdLayout, rows: RowWrites): readonly RowWrite[] {
  const list = rows.list;
  const rras = layout.rras;
  if (rowsPerRra.length < rras.length) rowsPerRra = new Float64Array(rras.length);
  rowsPerRra.fill(0, 0, rras.length);
  const rowBytes = layout.ds.length * VALUE_SIZE;
  let overflow = false;
  for (let k = 0; k < list.length; k++) {
    const write = list[k];
    rowsPerRra[write.rra] += write.length / rowBytes;
    if (rowsPerRra[write.rra] > rras[write.rra].rowCount) overflow = true;
  }
  if (!overflow) return list;
  // From the last write back, each archive keeps row_cnt rows: the tail of the sequence.
  for (let j = 0; j < rras.length; j++) rowsPerRra[j] = rras[j].rowCount;
  const kept: RowWrite[] = [];
  for (let k = list.length - 1; k >= 0; k--) {
    const write = list[k];
    const left = rowsPerRra[write.rra];
    if (left === 0) continue;
    const count = write.length / rowBytes;
    if (count <= left) {
      kept.push(write);
      rowsPerRra[write.rra] = left - count;
    } else {
      const skip = (count - left) * rowBytes;
      kept.push({ rra: write.rra, position: write.position + skip, offset: write.offset + skip, length: write.length - skip });
      rowsPerRra[write.rra] = 0;
    }
  }
  return kept.reverse();
}
