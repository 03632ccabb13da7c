/**
 * Where RRD files live, following the C gmetad 3.7.2 layout:
 *
 *   <root>/<cluster>/<host>/<metric>.rrd            host metric (host lowercased unless
 *                                                  case_sensitive_hostnames)
 *   <root>/<cluster or grid>/__SummaryInfo__/<metric>.rrd
 *   <root>/__SummaryInfo__/<metric>.rrd             root (whole grid) summary
 *
 * Names arrive from the network, so each one is made into a single safe path element
 * (see safePathElement) and can never climb out of the root directory.
 *
 * Paths are "byte strings": one JS char per byte (chars 0..255), the way the model keeps
 * wire strings (ISO-8859-1 decoding). Encoding them back with 'latin1' (toPathBytes)
 * reproduces the bytes the C gmetad would have used for the same name; the root
 * directory, a normal (UTF-8) string from the config, is converted once.
 */
import * as path from 'node:path';

export const SUMMARY_DIR = '__SummaryInfo__';

const UNSAFE_CHARS = /[\u0000-\u001f\u007f/]/g;
const HAS_UNSAFE = /[\u0000-\u001f\u007f/]/;
const HAS_WIDE = /[^\u0000-\u00ff]/;
const ASCII_UPPER = /[A-Z]+/g;

/**
 * Makes one name (cluster, grid, host or metric) a safe single path element.
 * The mapping is deterministic and leaves ordinary names (spaces, dots, dashes, mixed
 * case, 8-bit characters) exactly as the C gmetad writes them:
 * - '/' and control characters (U+0000..U+001F, U+007F; NUL, newline, tab...) become '_';
 * - an empty name becomes '_', the name '.' becomes '_' and '..' becomes '__';
 * - characters above U+00FF (never produced by the wire decoder) are UTF-8 encoded.
 * A leading '-' is kept: the element never starts an argument (paths are absolute).
 */
export function safePathElement(name: string): string {
  let element = HAS_WIDE.test(name) ? Buffer.from(name, 'utf8').toString('latin1') : name;
  if (HAS_UNSAFE.test(element)) element = element.replace(UNSAFE_CHARS, '_');
  if (element === '' || element === '.') return '_';
  if (element === '..') return '__';
  return element;
}

/** ASCII-only lowercasing, as C tolower() in the C locale (8-bit letters unchanged). */
export function asciiLower(name: string): string {
  return name.replace(ASCII_UPPER, (s) => s.toLowerCase());
}

/** A (byte-string) path to Buffer for fs calls. */
export function toPathBytes(bytePath: string): Buffer {
  return Buffer.from(bytePath, 'latin1');
}

const ASCII_ONLY = /^[\u0000-\u007f]*$/;

/** A (byte-string) path for fs calls: the string itself when it is ASCII (no Buffer), else its bytes. */
export function fsPathOf(bytePath: string): string | Buffer {
  return ASCII_ONLY.test(bytePath) ? bytePath : toPathBytes(bytePath);
}

export interface RrdFileLocation {
  /** Directory holding the file (byte string). */
  readonly dir: string;
  /** Full path of the .rrd file (byte string). */
  readonly file: string;
}

export interface RrdPathOptions {
  readonly rootDir: string;
  readonly caseSensitiveHostnames: boolean;
}

/** Builds RRD file paths (callers keep what they need: nothing is cached here, so nothing grows). */
export class RrdPaths {
  /** Absolute root as a byte string, no trailing slash. */
  readonly root: string;
  private readonly caseSensitive: boolean;

  constructor(options: RrdPathOptions) {
    const absolute = path.resolve(options.rootDir);
    const trimmed = absolute.length > 1 ? absolute.replace(/\/+$/, '') : absolute;
    this.root = Buffer.from(trimmed, 'utf8').toString('latin1');
    this.caseSensitive = options.caseSensitiveHostnames;
  }

  /** `<root>/<cluster>/<host>/` for a host's metrics. */
  hostDir(cluster: string, host: string): string {
    return `${this.clusterDir(cluster)}/${safePathElement(this.caseSensitive ? host : asciiLower(host))}`;
  }

  /** `<root>/<cluster or grid>/__SummaryInfo__`. */
  summaryDir(clusterOrGrid: string): string {
    return `${this.clusterDir(clusterOrGrid)}/${SUMMARY_DIR}`;
  }

  /** `<root>/__SummaryInfo__`. */
  rootSummaryDir(): string {
    return `${this.root === '/' ? '' : this.root}/${SUMMARY_DIR}`;
  }

  hostFile(cluster: string, host: string, metric: string): RrdFileLocation {
    return this.inDir(this.hostDir(cluster, host), metric);
  }

  summaryFile(clusterOrGrid: string, metric: string): RrdFileLocation {
    return this.inDir(this.summaryDir(clusterOrGrid), metric);
  }

  rootSummaryFile(metric: string): RrdFileLocation {
    return this.inDir(this.rootSummaryDir(), metric);
  }

  private clusterDir(cluster: string): string {
    return `${this.root === '/' ? '' : this.root}/${safePathElement(cluster)}`;
  }

  private inDir(dir: string, metric: string): RrdFileLocation {
    return { dir, file: `${dir}/${safePathElement(metric)}.rrd` };
  }
}
