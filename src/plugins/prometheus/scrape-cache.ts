/**
 * One rendering of the exposition serves every scrape of the same tree in the same second:
 * two Prometheus servers (an HA pair) scraping together cost one render. The text is kept as
 * the chunks the renderer produced, and gzipped once (off the event loop, in zlib's
 * thread pool) the first time a client asks for gzip. It is let go shortly after (the text of
 * 100k series is ~10 MB): between scrapes the daemon holds no copy of it.
 */
import { promisify } from 'node:util';
import * as zlib from 'node:zlib';
import type { RenderCounts } from './exposition';

const gzip = promisify(zlib.gzip);

export interface RenderedScrape {
  readonly chunks: readonly Buffer[];
  readonly bytes: number;
  readonly counts: RenderCounts;
  readonly renderMs: number;
}

interface Entry {
  readonly key: string;
  readonly rendered: Promise<RenderedScrape>;
  gzipped: Promise<Buffer> | null;
}

export class ScrapeCache {
  private entry: Entry | null = null;
  private releaseTimer: NodeJS.Timeout | null = null;

  /** `releaseAfterMs`: how long a rendering is kept once made (scrapes that arrive together share it). */
  constructor(private readonly releaseAfterMs = 2000) {}

  /** The rendering for `key` (tree version + second), made by `render` if not cached. */
  get(key: string, render: () => Promise<RenderedScrape>): Promise<RenderedScrape> {
    if (this.entry?.key !== key) {
      const rendered = render();
      const entry: Entry = { key, rendered, gzipped: null };
      this.entry = entry;
      const forget = () => { if (this.entry === entry) this.entry = null; };
      // A failed render is not kept; a good one is let go after releaseAfterMs.
      rendered.then(() => {
        if (this.releaseTimer) clearTimeout(this.releaseTimer);
        this.releaseTimer = setTimeout(forget, this.releaseAfterMs);
        this.releaseTimer.unref();
      }, forget);
    }
    return this.entry.rendered;
  }

  gzipped(key: string, scrape: RenderedScrape): Promise<Buffer> {
    const entry = this.entry?.key === key ? this.entry : null;
    if (entry?.gzipped) return entry.gzipped;
    const result = gzip(Buffer.concat(scrape.chunks as Buffer[], scrape.bytes), { level: 1 });
    if (entry) entry.gzipped = result;
    return result;
  }
}
