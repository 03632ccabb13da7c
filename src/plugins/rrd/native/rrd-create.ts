/**
 * `rrdtool create` in-process: the bytes rrdtool 1.7 writes for a file of GAUGE, COUNTER,
 * DERIVE and ABSOLUTE data sources and AVERAGE, MIN, MAX and LAST archives (rrd_create.c:
 * version 0003, zeroed structures, DNAN for unknowns, rrd_init_data's prep values), on the
 * architecture rrd-layout reads. The one thing rrdtool picks at random, each archive's
 * starting row (rrd_select_initial_row), is picked at random here too.
 *
 * Anything else (other CFs, Holt-Winters, time-unit steps such as `1d`, options) is
 * reported as unsupported, and the caller runs `rrdtool create` for it.
 *
 * The file is written under a temporary name and linked to its own name, so a crash never
 * leaves a partial file and an existing file is never overwritten (`--no-overwrite`).
 */
import * as fs from 'node:fs';
import {
  CDP_PREP_SIZE, CDP_UNKN_PDP, DS_DEF_SIZE, DS_MAX, DS_MIN, DS_MRHB, LIVE_HEAD_SIZE, PDP_PREP_SIZE, PDP_UNKN_SEC, PDP_VAL,
  RRA_DEF_SIZE, RRA_PDP_CNT, RRA_PTR_SIZE, RRA_ROW_CNT, RRA_XFF, STAT_HEAD_SIZE, VALUE_SIZE, headerLengthFor,
  type Cf, type DsDef, type DsType, type RraDef,
} from './rrd-layout';
import { rrdStrtodbl } from './rrd-numbers';

/** A data source as `DS:` declares it (min/max NaN for `U`): the layout's own definition. */
export type CreateDsDef = DsDef;

/** An archive as `RRA:` declares it; where its rows start is the layout's business. */
export type CreateRraDef = Omit<RraDef, 'start'>;

export interface CreateDefinition {
  readonly step: number;
  /** live_head.last_up: the `--start` time. */
  readonly start: number;
  readonly ds: readonly CreateDsDef[];
  readonly rras: readonly CreateRraDef[];
}

export type CreateParse = { readonly definition: CreateDefinition } | { readonly unsupported: string };

/** rrdtool's DNAN (0.0/0.0 on x86_64: the sign bit set). */
const DNAN_BYTES = Buffer.from([0, 0, 0, 0, 0, 0, 0xf8, 0xff]);
const FLOAT_COOKIE = 8.642135e130;
const DS_NAME = /^[a-zA-Z0-9_-]{1,19}$/;
const DIGITS = /^[0-9]+$/;
const PLAIN_NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const DS_TYPES = new Set<DsType>(['GAUGE', 'COUNTER', 'DERIVE', 'ABSOLUTE']);
const CFS = new Set<Cf>(['AVERAGE', 'MIN', 'MAX', 'LAST']);
/** Keeps every count exact and every file a sane size (rrd-layout refuses larger ones). */
const MAX_COUNT = 2 ** 31 - 1;
const MAX_FILE_BYTES = 2 ** 31;

function count(text: string): number | null {
  if (!DIGITS.test(text)) return null;
  const n = Number(text);
  return n >= 1 && n <= MAX_COUNT ? n : null;
}

function limit(text: string): number | null {
  if (text === 'U') return Number.NaN;
  // rrdtool's own strtod (its last digit can differ from JavaScript's Number()).
  return PLAIN_NUMBER.test(text) ? rrdStrtodbl(text) : null;
}

/**
 * Reads `--step N --start T DS:... RRA:...` (the arguments after `rrdtool create FILE`,
 * `--no-overwrite` allowed). Only the plain forms are accepted; anything else is unsupported.
 */
export function parseCreateArguments(args: readonly string[]): CreateParse {
  let step = 300;
  let start: number | null = null;
  const ds: CreateDsDef[] = [];
  const rras: CreateRraDef[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--no-overwrite' || arg === '-O') continue;
    if (arg === '--step' || arg === '-s' || arg === '--start' || arg === '-b') {
      const value = args[++i];
      if (value === undefined || !DIGITS.test(value)) return { unsupported: `${arg} ${value ?? ''}: not a plain number of seconds` };
      if (arg === '--step' || arg === '-s') {
        const n = count(value);
        if (n === null) return { unsupported: `step ${value} out of range` };
        step = n;
      } else {
        const n = Number(value);
        // rrdtool refuses a start before 1980 ("did you really mean month ...").
        if (n < 315_532_800 || n >= 2 ** 53) return { unsupported: `start ${value} out of range` };
        start = n;
      }
      continue;
    }
    const parts = arg.split(':');
    if (parts[0] === 'DS') {
      if (parts.length !== 6) return { unsupported: `${arg}: not DS:name:type:heartbeat:min:max` };
      const [, name, type, hb, min, max] = parts as [string, string, string, string, string, string];
      if (!DS_NAME.test(name)) return { unsupported: `${arg}: DS name` };
      if (ds.some((d) => d.name === name)) return { unsupported: `${arg}: duplicate DS name` };
      if (!DS_TYPES.has(type as DsType)) return { unsupported: `${arg}: DS type ${type}` };
      const heartbeat = count(hb);
      const lo = limit(min);
      const hi = limit(max);
      if (heartbeat === null || lo === null || hi === null) return { unsupported: `${arg}: heartbeat, min or max` };
      // rrdtool: "min must be less than max in DS definition".
      if (!Number.isNaN(lo) && !Number.isNaN(hi) && lo >= hi) return { unsupported: `${arg}: min >= max` };
      ds.push({ name, type: type as DsType, heartbeat, min: lo, max: hi });
      continue;
    }
    if (parts[0] === 'RRA') {
      if (parts.length !== 5) return { unsupported: `${arg}: not RRA:CF:xff:steps:rows` };
      const [, cf, xffText, steps, rows] = parts as [string, string, string, string, string];
      if (!CFS.has(cf as Cf)) return { unsupported: `${arg}: consolidation function ${cf}` };
      const xff = PLAIN_NUMBER.test(xffText) ? rrdStrtodbl(xffText) : null;
      if (xff === null || !(xff >= 0 && xff < 1)) return { unsupported: `${arg}: xff` };
      const pdpCount = count(steps);
      const rowCount = count(rows);
      if (pdpCount === null || rowCount === null) return { unsupported: `${arg}: steps or rows` };
      rras.push({ cf: cf as Cf, xff, pdpCount, rowCount });
      continue;
    }
    return { unsupported: `argument ${arg}` };
  }
  if (start === null) return { unsupported: 'no --start (rrdtool would use the clock)' };
  if (ds.length === 0 || rras.length === 0) return { unsupported: 'no DS or no RRA' };
  const rows = rras.reduce((n, r) => n + r.rowCount, 0);
  if (headerLengthFor(ds.length, rras.length) + rows * ds.length * VALUE_SIZE > MAX_FILE_BYTES) return { unsupported: 'file too large' };
  return { definition: { step, start, ds, rras } };
}

/** Picks a starting row in [0, rows) (rrdtool: random). */
export type RowPicker = (rows: number) => number;

const randomRow: RowPicker = (rows) => Math.floor(Math.random() * rows);

function writeLimit(buf: Buffer, value: number, at: number): void {
  if (Number.isNaN(value)) DNAN_BYTES.copy(buf, at);
  else buf.writeDoubleLE(value, at);
}

function writeUlong(buf: Buffer, value: number, at: number): void {
  buf.writeUInt32LE(value % 0x100000000, at);
  buf.writeUInt32LE(Math.floor(value / 0x100000000), at + 4);
}

/** The whole file, as `rrdtool create` writes it (archive start rows from `pickRow`). */
export function createImage(def: CreateDefinition, pickRow: RowPicker = randomRow): Buffer {
  const dsCount = def.ds.length;
  const rraCount = def.rras.length;
  const headerLength = headerLengthFor(dsCount, rraCount);
  const rows = def.rras.reduce((n, r) => n + r.rowCount, 0);
  const buf = Buffer.alloc(headerLength + rows * dsCount * VALUE_SIZE);
  // stat_head
  buf.write('RRD', 0, 'latin1');
  buf.write('0003', 4, 'latin1');
  buf.writeDoubleLE(FLOAT_COOKIE, 16);
  writeUlong(buf, dsCount, 24);
  writeUlong(buf, rraCount, 32);
  writeUlong(buf, def.step, 40);
  // ds_def
  for (let i = 0; i < dsCount; i++) {
    const d = def.ds[i]!;
    const at = STAT_HEAD_SIZE + i * DS_DEF_SIZE;
    buf.write(d.name, at, 'latin1');
    buf.write(d.type, at + 20, 'latin1');
    writeUlong(buf, d.heartbeat, at + DS_MRHB);
    writeLimit(buf, d.min, at + DS_MIN);
    writeLimit(buf, d.max, at + DS_MAX);
  }
  // rra_def
  const rraAt = STAT_HEAD_SIZE + dsCount * DS_DEF_SIZE;
  for (let j = 0; j < rraCount; j++) {
    const r = def.rras[j]!;
    const at = rraAt + j * RRA_DEF_SIZE;
    buf.write(r.cf, at, 'latin1');
    writeUlong(buf, r.rowCount, at + RRA_ROW_CNT);
    writeUlong(buf, r.pdpCount, at + RRA_PDP_CNT);
    buf.writeDoubleLE(r.xff, at + RRA_XFF);
  }
  // live_head: last_up, last_up_usec 0
  const liveAt = rraAt + rraCount * RRA_DEF_SIZE;
  writeUlong(buf, def.start, liveAt);
  // pdp_prep: last_ds "U", value DNAN, unknown seconds last_up % step
  const pdpAt = liveAt + LIVE_HEAD_SIZE;
  const unknownSeconds = def.start % def.step;
  for (let i = 0; i < dsCount; i++) {
    const at = pdpAt + i * PDP_PREP_SIZE;
    buf.write('U', at, 'latin1');
    writeUlong(buf, unknownSeconds, at + PDP_UNKN_SEC);
    DNAN_BYTES.copy(buf, at + PDP_VAL);
  }
  // cdp_prep (init_cdp): value DNAN, unknown PDPs since the archive's last boundary
  const cdpAt = pdpAt + dsCount * PDP_PREP_SIZE;
  for (let j = 0; j < rraCount; j++) {
    const r = def.rras[j]!;
    const unknownPdps = Math.floor(((def.start - unknownSeconds) % (def.step * r.pdpCount)) / def.step);
    for (let i = 0; i < dsCount; i++) {
      const at = cdpAt + (j * dsCount + i) * CDP_PREP_SIZE;
      DNAN_BYTES.copy(buf, at);
      writeUlong(buf, unknownPdps, at + CDP_UNKN_PDP);
    }
  }
  // rra_ptr
  const ptrAt = cdpAt + dsCount * rraCount * CDP_PREP_SIZE;
  for (let j = 0; j < rraCount; j++) {
    const rowCount = def.rras[j]!.rowCount;
    const row = pickRow(rowCount);
    writeUlong(buf, Number.isInteger(row) && row >= 0 && row < rowCount ? row : 0, ptrAt + j * RRA_PTR_SIZE);
  }
  // rows: all unknown
  for (let at = headerLength; at < buf.length; at += VALUE_SIZE) DNAN_BYTES.copy(buf, at);
  return buf;
}

let temporaryCounter = 0;

/**
 * Writes `image` as `file` unless `file` exists: to a temporary name in the same directory,
 * then linked to `file` (fails with EEXIST when it exists) and the temporary name removed.
 * 'exists' when the file was already there. `mode` is the file's mode (0666 & ~umask, as
 * rrdtool's open(2) gives it); null: 0666 less the process umask.
 */
export async function writeNewRrdFile(file: string | Buffer, image: Buffer, mode: number | null = null): Promise<'created' | 'exists'> {
  const suffix = `.${process.pid}.${(temporaryCounter = (temporaryCounter + 1) % 1e9)}.tmp`;
  const temporary = typeof file === 'string' ? `${file}${suffix}` : Buffer.concat([file, Buffer.from(suffix, 'latin1')]);
  const handle = await fs.promises.open(temporary, 'wx', mode ?? 0o666);
  try {
    try {
      // open(2) applies the process umask; a configured one is applied exactly.
      if (mode !== null) await handle.chmod(mode);
      await handle.writeFile(image);
    } finally {
      await handle.close();
    }
    try {
      await fs.promises.link(temporary, file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return 'exists';
      throw err;
    }
    return 'created';
  } finally {
    await fs.promises.unlink(temporary).catch(() => undefined);
  }
}

/**
 * writeNewRrdFile with synchronous calls: for a caller that runs creates in its own bounded
 * slices (a few tens of microseconds per small file on tmpfs, against ~100 µs of main-thread
 * time for five promise round trips).
 */
export function writeNewRrdFileSync(file: string | Buffer, image: Buffer, mode: number | null = null): 'created' | 'exists' {
  const suffix = `.${process.pid}.${(temporaryCounter = (temporaryCounter + 1) % 1e9)}.tmp`;
  const temporary = typeof file === 'string' ? `${file}${suffix}` : Buffer.concat([file, Buffer.from(suffix, 'latin1')]);
  const fd = fs.openSync(temporary, 'wx', mode ?? 0o666);
  try {
    try {
      if (mode !== null) fs.fchmodSync(fd, mode);
      let written = 0;
      while (written < image.length) written += fs.writeSync(fd, image, written, image.length - written);
    } finally {
      fs.closeSync(fd);
    }
    try {
      fs.linkSync(temporary, file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return 'exists';
      throw err;
    }
    return 'created';
  } finally {
    try {
      fs.unlinkSync(temporary);
    } catch {
      // Already gone; nothing to clean.
    }
  }
}
