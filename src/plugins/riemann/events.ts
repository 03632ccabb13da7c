/**
 * Riemann events as the C gmetad 3.7.2 builds them (create_riemann_event in
 * gmetad/export_helpers.c, called from startElement_HOST and startElement_METRIC in
 * gmetad/process_xml.c), for the clusters this gmetad polls itself:
 *
 * - per host (up or down): service "heartbeat", metric_sint64 = REPORTED, description
 *   "seconds", ttl = 4 x the host's TMAX;
 * - per metric of a host that is up (strings included; DMAX-expired ones skipped):
 *   service = METRIC NAME; int8..uint32: metric_sint64 = VAL as strtol reads it; float,
 *   double: metric_d = VAL as strtod reads it; string, timestamp: state = VAL;
 *   description = UNITS; ttl = the metric's TMAX;
 * - every event: host = HOST NAME, time = the CLUSTER's LOCALTIME (unset when 0), tags =
 *   the host's TAGS split at "," (empty items dropped; "unspecified" when the host has no
 *   TAGS, as in C), attributes grid=<gridname>, cluster=<CLUSTER NAME>, ip=<IP>,
 *   location=<LOCATION>, then riemann_attributes.
 *
 * Over TCP the C gmetad sends one Msg per host (its heartbeat and its metrics). Unlike it,
 * attribute values are kept whole: it re-splits its own "grid=..,cluster=..,location=.."
 * string at "," and "=", so a LOCATION such as "1,2,3" or an empty IP crashes it.
 *
 * Each Event is encoded with protobufjs from the official riemann.proto and framed as a Msg
 * field (tag 6), so a Msg of several events is the concatenation of their frames: TCP sends
 * a host's frames behind a 4-byte length, UDP packs frames into datagrams. What all events of
 * a host share (host, time, tags, attributes) is encoded once per host and prepended to each
 * event's own fields: concatenated encodings of a message parse as their merge (protobuf's
 * wire-format rule), which saves re-encoding six attributes per metric.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as protobuf from 'protobufjs';
import type { RiemannAttribute } from '../../config/riemann-attributes';
import type { Cluster, Host, Metric } from '../../store/model';

export const RIEMANN_PROTO = path.join(__dirname, 'proto', 'riemann.proto');

let root: protobuf.Root | null = null;

/** The parsed riemann.proto (Event, Msg, Attribute), loaded once. */
export function riemannTypes(): { Event: protobuf.Type; Msg: protobuf.Type } {
  if (!root) {
    root = new protobuf.Root();
    protobuf.parse(fs.readFileSync(RIEMANN_PROTO, 'utf8'), root, { keepCase: true });
    root.resolveAll();
  }
  return { Event: root.lookupType('Event'), Msg: root.lookupType('Msg') };
}

const INT_TYPES = new Set(['int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32']);
const FLOAT_TYPES = new Set(['float', 'double']);

/** C strtol(s, NULL, 10): leading whitespace, optional sign, digits; 0 if none. */
export function strtol(text: string): number {
  const m = /^[\s]*([+-]?\d+)/.exec(text);
  return m ? Number(m[1]) : 0;
}

/** C strtod(s, NULL): the longest leading decimal number (or inf/nan); 0 if none. */
export function strtod(text: string): number {
  const t = text.trimStart();
  const special = /^([+-]?)(inf(inity)?|nan)/i.exec(t);
  if (special) return /^nan/i.test(special[2]) ? NaN : (special[1] === '-' ? -Infinity : Infinity);
  const m = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?/.exec(t);
  return m ? Number(m[0]) : 0;
}

export interface RiemannEventOptions {
  readonly gridname: string;
  readonly attributes: readonly RiemannAttribute[];
}

/** What an Event carries, as protobufjs takes it. */
export interface EventFields {
  host: string;
  service: string;
  description: string;
  ttl: number;
  tags: string[];
  attributes: RiemannAttribute[];
  time?: number;
  state?: string;
  metric_sint64?: number;
  metric_d?: number;
}

/** What every event of a host carries. */
export function sharedFields(cluster: Cluster, host: Host, options: RiemannEventOptions): Pick<EventFields, 'host' | 'tags' | 'attributes' | 'time'> {
  return {
    host: host.name,
    tags: host.tags.split(',').filter((t) => t !== ''),
    attributes: [
      { key: 'grid', value: options.gridname },
      { key: 'cluster', value: cluster.name },
      { key: 'ip', value: host.ip },
      { key: 'location', value: host.location },
      ...options.attributes,
    ],
    ...(cluster.localtime > 0 ? { time: cluster.localtime } : {}),
  };
}

/** Each event's own fields: the heartbeat first, then the metrics of an up host in arrival order. */
export function ownFields(host: Host): Omit<EventFields, 'host' | 'tags' | 'attributes' | 'time'>[] {
  // The C gmetad prints REPORTED with %d before strtol reads it back: a signed 32-bit value.
  const events: Omit<EventFields, 'host' | 'tags' | 'attributes' | 'time'>[] = [
    { service: 'heartbeat', description: 'seconds', ttl: host.tmax * 4, metric_sint64: host.reported | 0 },
  ];
  if (!host.up) return events;
  for (const metric of host.metrics.values()) events.push(metricFields(metric));
  return events;
}

/** The events of one host, whole (for tests and readers; the plugin encodes the two parts apart). */
export function hostEvents(cluster: Cluster, host: Host, options: RiemannEventOptions): EventFields[] {
  const shared = sharedFields(cluster, host, options);
  return ownFields(host).map((own) => ({ ...shared, ...own }) as EventFields);
}

function metricFields(metric: Metric): Omit<EventFields, 'host' | 'tags' | 'attributes' | 'time'> {
  const event: Omit<EventFields, 'host' | 'tags' | 'attributes' | 'time'> = { service: metric.name, description: metric.units, ttl: metric.tmax };
  if (INT_TYPES.has(metric.type)) event.metric_sint64 = strtol(metric.val);
  else if (FLOAT_TYPES.has(metric.type)) event.metric_d = strtod(metric.val);
  else event.state = metric.val;
  return event;
}

/** The frames (Msg field 6) of all events of one host. */
export function hostEventFrames(cluster: Cluster, host: Host, options: RiemannEventOptions, Event: protobuf.Type): Buffer[] {
  const shared = Event.encode(sharedFields(cluster, host, options)).finish();
  return ownFields(host).map((own) => {
    const body = Event.encode(own).finish();
    const writer = protobuf.Writer.create();
    writer.uint32((6 << 3) | 2).uint32(shared.length + body.length);
    const head = writer.finish();
    return Buffer.concat([head, shared, body], head.length + shared.length + body.length);
  });
}

/** The frame (Msg field 6) of one whole event. */
export function eventFrame(event: EventFields, Event: protobuf.Type): Buffer {
  const body = Event.encode(event).finish();
  const writer = protobuf.Writer.create();
  writer.uint32((6 << 3) | 2).bytes(body);
  return Buffer.from(writer.finish());
}

/** A TCP message: 4-byte big-endian length, then the Msg. */
export function tcpFrame(msg: Buffer): Buffer {
  const out = Buffer.allocUnsafe(4 + msg.length);
  out.writeUInt32BE(msg.length, 0);
  msg.copy(out, 4);
  return out;
}
