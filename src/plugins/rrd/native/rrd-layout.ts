/**
 * The on-disk header of an RRD file as rrdtool 1.7 writes it on x86_64 (rrd_format.h:
 * LP64, little endian, natural alignment), read and checked field by field. Anything this
 * module does not fully understand is reported as unsupported with the reason, so the
 * caller hands the file to rrdtool instead.
 *
 *   stat_head_t  128  cookie "RRD\0", version "0003\0" (+7 pad), float_cookie, ds_cnt,
 *                     rra_cnt, pdp_step, par[10]
 *   ds_def_t     120  ds_nam[20], dst[20], par[10]: mrhb (ulong), min, max (double)
 *   rra_def_t    120  cf_nam[20] (+4 pad), row_cnt, pdp_cnt, par[10]: xff (double)
 *   live_head_t   16  last_up (time_t), last_up_usec (long)
 *   pdp_prep_t   112  last_ds[30] (+2 pad), scratch[10]: unkn_sec_cnt (ulong), val
 *   cdp_prep_t    80  scratch[10]: val, unkn_pdp_cnt (ulong), ..., primary [8], secondary [9]
 *   rra_ptr_t      8  cur_row
 *   rows              rra 0 rows x ds_cnt doubles, rra 1, ...
 */

export const STAT_HEAD_SIZE = 128;
export const DS_DEF_SIZE = 120;
export const RRA_DEF_SIZE = 120;
export const LIVE_HEAD_SIZE = 16;
export const PDP_PREP_SIZE = 112;
export const CDP_PREP_SIZE = 80;
export const RRA_PTR_SIZE = 8;
export const VALUE_SIZE = 8;
export const LAST_DS_LEN = 30;

/** Byte offsets inside the structures. */
export const DS_MRHB = 40;
export const DS_MIN = 48;
export const DS_MAX = 56;
export const RRA_ROW_CNT = 24;
export const RRA_PDP_CNT = 32;
export const RRA_XFF = 40;
export const PDP_UNKN_SEC = 32;
export const PDP_VAL = 40;
export const CDP_VAL = 0;
export const CDP_UNKN_PDP = 8;
export const CDP_PRIMARY = 64;
export const CDP_SECONDARY = 72;

/** FLOAT_COOKIE 8.642135E130 as stored on x86_64. */
const FLOAT_COOKIE = 8.642135e130;
const SUPPORTED_VERSIONS = new Set(['0003', '0004', '0005']);
/** Bounds that keep every counter an exact JavaScript number and every file a sane size. */
const MAX_DS = 256;
const MAX_RRA = 256;
const MAX_COUNT = 2 ** 31;
const MAX_SAFE = Number.MAX_SAFE_INTEGER;

export type DsType = 'GAUGE' | 'COUNTER' | 'DERIVE' | 'ABSOLUTE';
export type Cf = 'AVERAGE' | 'MIN' | 'MAX' | 'LAST';

export interface DsDef {
  readonly name: string;
  readonly type: DsType;
  /** Minimal heartbeat, seconds. */
  readonly heartbeat: number;
  readonly min: number;
  readonly max: number;
}

export interface RraDef {
  readonly cf: Cf;
  readonly rowCount: number;
  readonly pdpCount: number;
  readonly xff: number;
  /** File offset of the RRA's first row. */
  readonly start: number;
}

/** The static (never updated) part of a file, shared by every file with the same bytes. */
export interface RrdLayout {
  readonly version: string;
  readonly step: number;
  readonly ds: readonly DsDef[];
  readonly rras: readonly RraDef[];
  /** stat_head + ds_def + rra_def: what an update never changes. */
  readonly staticBytes: Buffer;
  /** The same bytes as 32-bit words (the static part's length is a multiple of 8). */
  readonly staticWords: Uint32Array;
  /** Offset of live_head (= staticBytes.length); the live part ends at headerLength. */
  readonly liveOffset: number;
  readonly pdpOffset: number;
  readonly cdpOffset: number;
  readonly ptrOffset: number;
  readonly headerLength: number;
  readonly fileLength: number;
}

export type LayoutResult = { readonly layout: RrdLayout } | { readonly unsupported: string };

/** Reads a C unsigned long as a number; -1 when it does not fit in 53 bits. */
export function readUlong(buf: Buffer, offset: number): number {
  const lo = buf.readUInt32LE(offset);
  const hi = buf.readUInt32LE(offset + 4);
  if (hi >= 0x200000) return -1;
  return hi * 0x100000000 + lo;
}

function cString(buf: Buffer, offset: number, size: number): string | null {
  const end = buf.indexOf(0, offset);
  if (end < 0 || end >= offset + size) return null;
  return buf.toString('latin1', offset, end);
}

/** Size of the static part announced by a stat_head (first 128 bytes), or null. */
export function staticLength(head: Buffer): number | null {
  if (head.length < STAT_HEAD_SIZE) return null;
  const dsCount = readUlong(head, 24);
  const rraCount = readUlong(head, 32);
  if (dsCount < 1 || dsCount > MAX_DS || rraCount < 1 || rraCount > MAX_RRA) return null;
  return STAT_HEAD_SIZE + dsCount * DS_DEF_SIZE + rraCount * RRA_DEF_SIZE;
}

/** Header length (static + live parts) for the counts in a stat_head. */
export function headerLengthFor(dsCount: number, rraCount: number): number {
  return STAT_HEAD_SIZE + dsCount * DS_DEF_SIZE + rraCount * RRA_DEF_SIZE + LIVE_HEAD_SIZE
    + dsCount * PDP_PREP_SIZE + dsCount * rraCount * CDP_PREP_SIZE + rraCount * RRA_PTR_SIZE;
}

/**
 * Parses and checks the static part of a header. `head` holds at least the whole header
 * (see headerLengthFor); `fileSize` is the file's size from fstat.
 */
export function parseLayout(head: Buffer, fileSize: number): LayoutResult {
  if (head.length < STAT_HEAD_SIZE) return { unsupported: 'shorter than an RRD header' };
  if (head.readUInt32LE(0) !== 0x00445252 /* "RRD\0" */) return { unsupported: 'not an RRD file (cookie)' };
  const version = cString(head, 4, 5);
  if (version === null || !SUPPORTED_VERSIONS.has(version)) {
    return { unsupported: `RRD version ${JSON.stringify(head.toString('latin1', 4, 9))} (supported: 0003-0005)` };
  }
  if (head.readDoubleLE(16) !== FLOAT_COOKIE) return { unsupported: 'float cookie differs: created on another architecture' };
  const dsCount = readUlong(head, 24);
  const rraCount = readUlong(head, 32);
  const step = readUlong(head, 40);
  if (dsCount < 1 || dsCount > MAX_DS) return { unsupported: `ds_cnt ${dsCount} out of range` };
  if (rraCount < 1 || rraCount > MAX_RRA) return { unsupported: `rra_cnt ${rraCount} out of range` };
  if (step < 1 || step > MAX_COUNT) return { unsupported: `pdp_step ${step} out of range` };
  const headerLength = headerLengthFor(dsCount, rraCount);
  if (head.length < headerLength) return { unsupported: 'header truncated' };

  const ds: DsDef[] = [];
  for (let i = 0; i < dsCount; i++) {
    const at = STAT_HEAD_SIZE + i * DS_DEF_SIZE;
    const name = cString(head, at, 20);
    const type = cString(head, at + 20, 20);
    if (name === null || type === null) return { unsupported: `DS ${i}: name or type not terminated` };
    if (type !== 'GAUGE' && type !== 'COUNTER' && type !== 'DERIVE' && type !== 'ABSOLUTE') {
      return { unsupported: `DS ${name}: type ${type} not supported` };
    }
    const heartbeat = readUlong(head, at + DS_MRHB);
    if (heartbeat < 0) return { unsupported: `DS ${name}: heartbeat out of range` };
    ds.push({ name, type, heartbeat, min: head.readDoubleLE(at + DS_MIN), max: head.readDoubleLE(at + DS_MAX) });
  }

  const rras: RraDef[] = [];
  const liveOffset = STAT_HEAD_SIZE + dsCount * DS_DEF_SIZE + rraCount * RRA_DEF_SIZE;
  let rowStart = headerLength;
  for (let j = 0; j < rraCount; j++) {
    const at = STAT_HEAD_SIZE + dsCount * DS_DEF_SIZE + j * RRA_DEF_SIZE;
    const cf = cString(head, at, 20);
    if (cf === null) return { unsupported: `RRA ${j}: CF not terminated` };
    if (cf !== 'AVERAGE' && cf !== 'MIN' && cf !== 'MAX' && cf !== 'LAST') {
      return { unsupported: `RRA ${j}: consolidation function ${cf} not supported` };
    }
    const rowCount = readUlong(head, at + RRA_ROW_CNT);
    const pdpCount = readUlong(head, at + RRA_PDP_CNT);
    const xff = head.readDoubleLE(at + RRA_XFF);
    if (rowCount < 1 || rowCount > MAX_COUNT) return { unsupported: `RRA ${j}: row_cnt ${rowCount} out of range` };
    if (pdpCount < 1 || pdpCount > MAX_COUNT) return { unsupported: `RRA ${j}: pdp_cnt ${pdpCount} out of range` };
    // rrdtool create/tune keep 0 <= xff < 1; outside it, its unsigned arithmetic would wrap.
    if (!(xff >= 0 && xff < 1)) return { unsupported: `RRA ${j}: xff ${xff} out of range` };
    rras.push({ cf, rowCount, pdpCount, xff, start: rowStart });
    rowStart += rowCount * dsCount * VALUE_SIZE;
  }
  if (rowStart > MAX_SAFE) return { unsupported: 'file too large' };
  if (fileSize !== rowStart) return { unsupported: `file size ${fileSize} is not the ${rowStart} bytes its header describes` };

  const pdpOffset = liveOffset + LIVE_HEAD_SIZE;
  const cdpOffset = pdpOffset + dsCount * PDP_PREP_SIZE;
  const ptrOffset = cdpOffset + dsCount * rraCount * CDP_PREP_SIZE;
  const staticBytes = Buffer.from(new ArrayBuffer(liveOffset));
  head.copy(staticBytes, 0, 0, liveOffset);
  return {
    layout: {
      version,
      step,
      ds,
      rras,
      staticBytes,
      staticWords: new Uint32Array(staticBytes.buffer, staticBytes.byteOffset, liveOffset >> 2),
      liveOffset,
      pdpOffset,
      cdpOffset,
      ptrOffset,
      headerLength,
      fileLength: rowStart,
    },
  };
}

/**
 * Checks the live part (written by every update) of a header whose static part matches
 * `layout`; null when it is in range, else why not. `u32` is the same header as 32-bit
 * words (`head` starts 8-byte aligned).
 */
export function checkLive(layout: RrdLayout, head: Buffer, u32: Uint32Array): string | null {
  const live = layout.liveOffset >> 2;
  // last_up is signed: its high word below 2^21 keeps it >= 0 and within 53 bits.
  if (u32[live + 1] >= 0x200000) return 'last update time out of range';
  if (u32[live + 3] !== 0 || u32[live + 2] > 999_999) return 'last_up_usec out of range';
  const dsCount = layout.ds.length;
  for (let i = 0; i < dsCount; i++) {
    const at = layout.pdpOffset + i * PDP_PREP_SIZE;
    let terminated = false;
    for (let c = 0; c < LAST_DS_LEN; c++) {
      if (head[at + c] === 0) {
        terminated = true;
        break;
      }
    }
    if (!terminated) return `DS ${layout.ds[i].name}: last_ds not terminated`;
    if (u32[((at + PDP_UNKN_SEC) >> 2) + 1] >= 0x200000) return `DS ${layout.ds[i].name}: unknown seconds out of range`;
  }
  for (let j = 0; j < layout.rras.length; j++) {
    const ptr = (layout.ptrOffset + j * RRA_PTR_SIZE) >> 2;
    const hi = u32[ptr + 1];
    if (hi >= 0x200000 || hi * 0x100000000 + u32[ptr] >= layout.rras[j].rowCount) return `RRA ${j}: cur_row out of range`;
    for (let i = 0; i < dsCount; i++) {
      if (u32[((layout.cdpOffset + (j * dsCount + i) * CDP_PREP_SIZE + CDP_UNKN_PDP) >> 2) + 1] >= 0x200000) {
        return `RRA ${j}: unknown PDP count out of range`;
      }
    }
  }
  return null;
}
