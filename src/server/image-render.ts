/**
 * The hosts of an image-backed cluster rendered by copying bytes: strings are stored
 * escaped in the image and each metric shape has its METRIC element pre-rendered around
 * VAL and TN (store/image/encode.ts), so a metric costs three fragment copies, one VAL copy
 * and the TN digits. Output is byte-identical to xml-render's hostXml for the same host.
 */
import { FRAGMENTS_PER_SHAPE, HOST_FIELDS, HostField, METRIC_FIELDS, MetricField } from '../store/image/format';
import type { ClusterRows } from '../store/image/views';
import { isExpiredAt } from '../store/lifetime';
import { dumpChunkPool } from './chunk-pool';


function latin1(s: string): Uint8Array {
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}

const HOST_NAME = latin1('<HOST NAME="');
const HOST_IP = latin1('" IP="');
const HOST_REPORTED = latin1('" REPORTED="');
const HOST_TN = latin1('" TN="');
const HOST_TMAX = latin1('" TMAX="');
const HOST_DMAX = latin1('" DMAX="');
const HOST_LOCATION = latin1('" LOCATION="');
const HOST_GMOND_STARTED = latin1('" GMOND_STARTED="');
const HOST_TAGS = latin1('" TAGS="');
const HOST_OPEN_END = latin1('">\n');
const HOST_END = latin1('</HOST>\n');
/** Digits of a u32 or of a TN (now - t0, below 2^53). */
const MAX_NUMBER_BYTES = 16;

/**
 * Writes into a buffer and hands it out once full; the next bytes go to another buffer, so a
 * piece handed out is never written again and can be sent as it is, without a copy. The
 * buffers are dump chunks (chunk-pool): a piece of a whole chunk is sent as one socket write,
 * and its buffer comes back to the pool once written.
 */
class Scratch {
  buf: Uint8Array = dumpChunkPool.take();
  at = 0;

  /** The bytes written so far; writing goes on in another buffer. */
  take(): Uint8Array {
    const piece = this.buf.subarray(0, this.at);
    this.buf = dumpChunkPool.take();
    this.at = 0;
    return piece;
  }

  /** The bytes written so far, when nothing more will be written. */
  last(): Uint8Array {
    return this.buf.subarray(0, this.at);
  }

  /** Room for `n` more bytes, if the buffer has to be emptied first returns false. */
  fits(n: number): boolean {
    return this.at + n <= this.buf.length;
  }

  grow(n: number): void {
    const next = Buffer.allocUnsafeSlow(Math.max(this.buf.length * 2, this.at + n));
    next.set(this.buf.subarray(0, this.at));
    this.buf = next;
  }

  /** A slice of a string table: copied by hand up to 64 bytes (a native copy needs a subarray, an allocation). */
  bytes(src: Uint8Array, start: number, end: number): void {
    const buf = this.buf;
    let at = this.at;
    if (end - start < 64) {
      for (let i = start; i < end; i++) buf[at++] = src[i];
    } else {
      buf.set(src.subarray(start, end), at);
      at += end - start;
    }
    this.at = at;
  }

  /**
   * A whole array (a fragment or a constant): a native copy from 16 bytes on. Copying the
   * ~35-byte METRIC fragments by hand made the S2 render 19 ms instead of 11.
   */
  constant(src: Uint8Array): void {
    const n = src.length;
    if (n >= 16) {
      this.buf.set(src, this.at);
      this.at += n;
      return;
    }
    const buf = this.buf;
    let at = this.at;
    for (let i = 0; i < n; i++) buf[at++] = src[i];
    this.at = at;
  }

  number(n: number): void {
    const buf = this.buf;
    if (n < 10) {
      buf[this.at++] = 0x30 + n;
      return;
    }
    let digits = 0;
    for (let x = n; x >= 1; x = Math.floor(x / 10)) digits++;
    let at = this.at + digits;
    this.at = at;
    for (let x = n; x >= 1; x = Math.floor(x / 10)) buf[--at] = 0x30 + (x % 10);
  }
}

/**
 * The cluster's hosts (those not past their DMAX at `now`) as XML, in pieces of up to
 * CHUNK_BYTES (more for a host that does not fit in one). A piece is never written again
 * once yielded: the caller may keep it.
 */
export function* imageHostPieces(rows: ClusterRows, now: number): Generator<Uint8Array> {
  const { reader, firstHost, hostCount } = rows;
  const hosts = reader.hosts;
  const metrics = reader.metrics;
  const polledAt = reader.polledAt;
  const strBytes = reader.image.strings.bytes;
  const strOffsets = reader.image.strings.offsets;
  const fragOffsets = reader.image.fragments.offsets;
  const fragments = reader.fragmentViews;
  const out = new Scratch();
  // TN at `now` of an item whose TN at poll time was `tn` (model: max(0, now - t0)).
  const age = now - polledAt;

  const str = (i: number): void => out.bytes(strBytes, strOffsets[i], strOffsets[i + 1]);
  const strLength = (i: number): number => strOffsets[i + 1] - strOffsets[i];

  for (let h = firstHost; h < firstHost + hostCount; h++) {
    const row = h * HOST_FIELDS;
    const hostTn = Math.max(0, age + hosts[row + HostField.Tn]);
    if (isExpiredAt(hostTn, hosts[row + HostField.Dmax])) continue;
    const startBytes = 160 + 7 * MAX_NUMBER_BYTES + strLength(hosts[row + HostField.Name])
      + strLength(hosts[row + HostField.Ip]) + strLength(hosts[row + HostField.Location]) + strLength(hosts[row + HostField.Tags]);
    if (!out.fits(startBytes)) {
      if (out.at > 0) yield out.take();
      if (!out.fits(startBytes)) out.grow(startBytes);
    }
    out.constant(HOST_NAME); str(hosts[row + HostField.Name]);
    out.constant(HOST_IP); str(hosts[row + HostField.Ip]);
    out.constant(HOST_REPORTED); out.number(hosts[row + HostField.Reported]);
    out.constant(HOST_TN); out.number(hostTn);
    out.constant(HOST_TMAX); out.number(hosts[row + HostField.Tmax]);
    out.constant(HOST_DMAX); out.number(hosts[row + HostField.Dmax]);
    out.constant(HOST_LOCATION); str(hosts[row + HostField.Location]);
    out.constant(HOST_GMOND_STARTED); out.number(hosts[row + HostField.GmondStarted]);
    out.constant(HOST_TAGS); str(hosts[row + HostField.Tags]);
    out.constant(HOST_OPEN_END);

    const first = hosts[row + HostField.FirstMetric];
    const end = first + hosts[row + HostField.MetricCount];
    for (let m = first; m < end; m++) {
      const mrow = m * METRIC_FIELDS;
      const shape = metrics[mrow + MetricField.Shape];
      const tn = Math.max(0, age + metrics[mrow + MetricField.Tn]);
      if (isExpiredAt(tn, reader.shapes[shape].dmax)) continue;
      const f = shape * FRAGMENTS_PER_SHAPE;
      const val = metrics[mrow + MetricField.Val];
      const need = fragOffsets[f + 3] - fragOffsets[f] + strLength(val) + MAX_NUMBER_BYTES;
      if (!out.fits(need)) {
        if (out.at > 0) yield out.take();
        if (!out.fits(need)) out.grow(need);
      }
      out.constant(fragments[f]);
      str(val);
      out.constant(fragments[f + 1]);
      out.number(tn);
      out.constant(fragments[f + 2]);
    }
    if (!out.fits(HOST_END.length)) yield out.take();
    out.constant(HOST_END);
  }
  if (out.at > 0) yield out.last();
}
