/**
 * What a user sees: the demo's gmond (scripts/demo-gmond.conf, ports moved to free ones) ->
 * our gmetad writing RRDs -> the real gweb -> headless Chromium (Debian's chromium, driven by
 * playwright-core). Screenshots of the main (grid), cluster and host pages, and for every
 * graph on them: the browser loaded a PNG, gweb's data for it (graph.php json) has numbers in
 * every series, and the image shows the series' colours where a graph of the same period
 * before any data existed (the control) shows only axes, grid and legend.
 *
 * The pages ask for a custom range from the gmetad's start to now, so the few seconds of data
 * a test can wait for fill the whole width of each graph. Set GMETAD_TS_SCREENSHOT_DIR to keep
 * the screenshots.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { DEMO_CLUSTER, startDemoGmond } from '../helpers/gmond';
import { startOurGmetad } from '../helpers/our-gmetad';
import { gwebMissing, httpGet, startGweb, type GwebHandle } from '../helpers/gweb';
import { freePort } from '../helpers/net';
import { canConnect, ProcessRegistry, waitFor } from '../helpers/processes';
import { attr, findAll, parseGangliaXml } from '../helpers/xml-normalize';

const CHROMIUM = '/usr/bin/chromium';
/** dist/test/integration -> dist/scripts/gweb.js, what scripts/demo.sh runs. */
const GWEB_LAUNCHER = path.resolve(__dirname, '..', '..', 'scripts', 'gweb.js');
const CHROMIUM_FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const GRID = 'Demo';
/** Polls every 2 s; graphs are drawn once every series has this many points. */
const STEP_SECONDS = 2;
const MIN_POINTS = 8;
/** Metrics that gweb's standard reports draw: the demo gmond must collect each one. */
const REPORT_METRICS = [
  'load_one', 'cpu_num', 'proc_run', // load_report
  'cpu_user', 'cpu_nice', 'cpu_system', 'cpu_wio', 'cpu_idle', // cpu_report
  'mem_total', 'mem_free', 'mem_cached', 'mem_buffers', 'mem_shared', 'swap_total', 'swap_free', // mem_report
  'bytes_in', 'bytes_out', // network_report
  'pkts_in', 'pkts_out', // packet_report
];
/** Pixels of the series' colours a graph with data must show beyond its no-data control. */
const MIN_DATA_PIXELS = 150;

interface Series {
  readonly metric_name: string;
  readonly color: string;
  readonly datapoints: Array<[number | string, number]>;
}

interface GraphImage {
  readonly src: string;
  readonly complete: boolean;
  readonly width: number;
  readonly height: number;
}

/** Runs in the page: counts the pixels of each image whose colour is one of `colors`. */
const COUNT_COLOURED_PIXELS = `async ({ images, colors }) => {
  const wanted = colors.map((hex) => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)));
  const load = (src) => new Promise((resolve, reject) => {
    const img = new Image();
    img.onload = () => resolve(img);
    img.onerror = () => reject(new Error('cannot load ' + src));
    img.src = src;
  });
  const counts = [];
  for (const src of images) {
    const img = await load(src);
    const canvas = document.createElement('canvas');
    canvas.width = img.naturalWidth;
    canvas.height = img.naturalHeight;
    const ctx = canvas.getContext('2d');
    ctx.drawImage(img, 0, 0);
    const data = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
    let n = 0;
    for (let p = 0; p < data.length; p += 4) {
      for (const [r, g, b] of wanted) {
        if (Math.abs(data[p] - r) <= 2 && Math.abs(data[p + 1] - g) <= 2 && Math.abs(data[p + 2] - b) <= 2) { n++; break; }
      }
    }
    counts.push(n);
  }
  return counts;
}`;

function numeric(series: Series): number[] {
  return series.datapoints.map(([v]) => v).filter((v): v is number => typeof v === 'number');
}

describe('gweb in headless Chromium: grid, cluster and host pages with graphs of our data', { timeout: 120_000 }, () => {
  const registry = new ProcessRegistry();
  let context: BrowserContext | undefined;
  after(async () => {
    await context?.close().catch(() => undefined);
    await registry.cleanup();
  });
  let gweb: GwebHandle;
  let interactivePort = 0;
  let rrds = '';
  let host = '';
  let range = '';
  let shift = '';
  let shots = '';

  before(() =>
    registry.explain(async () => {
      const missing = gwebMissing();
      assert.equal(missing, null, `gweb is not installed: ${missing}`);
      assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} is missing (Debian package chromium; run scripts/setup.sh)`);
      const gmond = await startDemoGmond(registry, { readyMetric: 'swap_free' });
      const rrdRootdir = registry.tempDir('screenshot-rrds');
      const gmetad = await startOurGmetad(registry, {
        gridname: GRID,
        dataSources: [{ name: 'demo', step: STEP_SECONDS, addresses: [`127.0.0.1:${gmond.tcpPort}`] }],
        rrdRootdir,
        writeRrds: true,
        extra: ['rrd {', '  write_behind 0', '}'],
        expectNames: [DEMO_CLUSTER],
      });
      interactivePort = gmetad.interactivePort;
      rrds = rrdRootdir;
      const start = Math.floor(Date.now() / 1000);
      const tree = parseGangliaXml(await gmetad.dump());
      const metrics = new Set(findAll(tree, 'METRIC').map((m) => attr(m, 'NAME')));
      const absent = REPORT_METRICS.filter((m) => !metrics.has(m));
      assert.deepEqual(absent, [], 'scripts/demo-gmond.conf collects every metric of the standard reports');
      host = attr(findAll(tree, 'HOST')[0]!, 'NAME')!;
      gweb = await startGweb(registry, { interactivePort: gmetad.interactivePort, rrdRootdir, workers: 4 });

      // Wait until the cluster's reports have points in every series, then look at
      // [start, now]; the control period is the same one a day earlier, before any data.
      const c = encodeURIComponent(DEMO_CLUSTER);
      await waitFor(
        async () => {
          const end = Math.floor(Date.now() / 1000);
          for (const report of ['load_report', 'mem_report', 'cpu_report']) {
            const reply = await gweb.get(`graph.php?c=${c}&g=${report}&cs=${start}&ce=${end}&json=1`);
            const series = JSON.parse(reply.text) as Series[];
            if (series.length === 0 || series.some((s) => numeric(s).length < MIN_POINTS)) return false;
          }
          range = `cs=${start}&ce=${end}`;
          shift = `cs=${start - 86_400}&ce=${end - 86_400}`;
          return true;
        },
        { timeoutMs: 60_000, intervalMs: 1_000, description: `${MIN_POINTS} points in every series of the cluster reports` },
      );

      shots = process.env.GMETAD_TS_SCREENSHOT_DIR ?? registry.tempDir('screenshots');
      fs.mkdirSync(shots, { recursive: true });
      context = await chromium.launchPersistentContext(registry.tempDir('chromium-profile'), {
        executablePath: CHROMIUM,
        headless: true,
        args: CHROMIUM_FLAGS,
        viewport: { width: 1280, height: 1000 },
      });
    }),
  );

  /** Opens a gweb page, saves its screenshot, returns the graph images the browser loaded. */
  async function openPage(name: string, query: string): Promise<{ page: Page; graphs: GraphImage[] }> {
    const page = await context!.newPage();
    const reply = await page.goto(`${gweb.baseUrl}?${query}&${range}`, { waitUntil: 'networkidle' });
    assert.equal(reply?.status(), 200, `${name} page: HTTP status`);
    const file = path.join(shots, `gweb-${name}.png`);
    const png = await page.screenshot({ path: file });
    assert.deepEqual(png.subarray(1, 4).toString('latin1'), 'PNG', `${name} screenshot is a PNG`);
    assert.deepEqual([png.readUInt32BE(16), png.readUInt32BE(20)], [1280, 1000], `${name} screenshot size`);
    const images = (await page.$$eval('img', (els) =>
      els.map((el) => {
        const img = el as unknown as { getAttribute(n: string): string | null; src: string; complete: boolean; naturalWidth: number; naturalHeight: number };
        return { attr: img.getAttribute('src') ?? '', src: img.src, complete: img.complete, width: img.naturalWidth, height: img.naturalHeight };
      }),
    )) as Array<GraphImage & { attr: string }>;
    // stacked.php is broken upstream in gweb 3.7.5 (it HTML-escapes its own rrdtool command).
    const graphs = images.filter((img) => img.attr.includes('graph.php'));
    return { page, graphs };
  }

  /** The graph checks shared by every page; returns how many graphs were checked. */
  async function assertGraphsDrawn(name: string, page: Page, graphs: GraphImage[], minGraphs: number): Promise<void> {
    assert.ok(graphs.length >= minGraphs, `${name} page shows ${graphs.length} graphs (at least ${minGraphs})`);
    for (const graph of graphs) {
      assert.ok(graph.complete && graph.width >= 200 && graph.height >= 100, `${name}: the browser drew ${graph.src} (${graph.width}x${graph.height})`);
      assert.ok(graph.src.includes(range), `${name}: ${graph.src} shows the test's period`);
      const image = await httpGet(graph.src);
      assert.equal(image.headers['content-type'], 'image/png', `${graph.src} is a PNG`);
      assert.ok(image.body.length > 3_000, `${graph.src}: ${image.body.length} bytes`);

      const series = JSON.parse((await httpGet(`${graph.src}&json=1`)).text) as Series[];
      assert.ok(series.length > 0, `${graph.src}: gweb has series for it (not "No matching metrics")`);
      for (const s of series) assert.ok(numeric(s).length > 0, `${graph.src}: series ${s.metric_name.trim()} has data`);

      // A series that is 0 all along draws on the axis; the others must show their colour.
      const colors = series.filter((s) => numeric(s).some((v) => v !== 0)).map((s) => s.color);
      if (colors.length === 0) continue;
      const control = graph.src.replace(range, shift);
      const controlSeries = JSON.parse((await httpGet(`${control}&json=1`)).text) as Series[];
      assert.ok(controlSeries.every((s) => numeric(s).length === 0), `${control}: the control period has no data`);
      const [drawn, empty] = (await page.evaluate(`(${COUNT_COLOURED_PIXELS})(${JSON.stringify({ images: [graph.src, control], colors })})`)) as number[];
      assert.ok(
        drawn! - empty! >= MIN_DATA_PIXELS,
        `${graph.src}: ${drawn} pixels of ${colors.join(' ')} with data, ${empty} without (need ${MIN_DATA_PIXELS} more)`,
      );
    }
  }

  it('main page: the grid and cluster reports (load, memory, CPU, network) are drawn with data', () =>
    registry.explain(async () => {
      const { page, graphs } = await openPage('main', 'm=load_one');
      assert.match(await page.title(), new RegExp(`${GRID} Grid Report`));
      const reports = new Set(graphs.map((g) => new URL(g.src).searchParams.get('g')));
      for (const report of ['load_report', 'mem_report', 'cpu_report', 'network_report']) {
        assert.ok(reports.has(report), `main page has the ${report} graph`);
      }
      await assertGraphsDrawn('main', page, graphs, 6);
    }));

  it('cluster page: the cluster reports and the host overview are drawn with data', () =>
    registry.explain(async () => {
      const { page, graphs } = await openPage('cluster', `c=${encodeURIComponent(DEMO_CLUSTER)}&m=load_one`);
      // gweb leaves out the word "Cluster" when the name ends with it.
      assert.match(await page.title(), new RegExp(`^Ganglia:: ${DEMO_CLUSTER}( Cluster)? Report$`));
      assert.ok(graphs.some((g) => new URL(g.src).searchParams.get('h') === host), `the cluster page shows host ${host}`);
      await assertGraphsDrawn('cluster', page, graphs, 5);
    }));

  it('host page: the host reports and every metric graph are drawn with data', () =>
    registry.explain(async () => {
      const { page, graphs } = await openPage('host', `c=${encodeURIComponent(DEMO_CLUSTER)}&h=${encodeURIComponent(host)}&m=load_one`);
      assert.match(await page.title(), new RegExp(`${host} Host Report`));
      const metrics = new Set(graphs.map((g) => new URL(g.src).searchParams.get('m')));
      for (const metric of ['load_one', 'mem_buffers', 'mem_shared', 'swap_free', 'bytes_in']) {
        assert.ok(metrics.has(metric), `host page has a ${metric} graph`);
      }
      await assertGraphsDrawn('host', page, graphs, 20);
    }));

  it("the demo's gweb launcher (scripts/gweb.ts) serves the same pages and stops everything on Ctrl-C", () =>
    registry.explain(async () => {
      const port = await freePort();
      const launcher = await registry.spawn('scripts/gweb.js', process.execPath, [
        GWEB_LAUNCHER, '--interactive-port', String(interactivePort), '--rrd-rootdir', rrds, '--port', String(port),
      ]);
      const url = await waitFor(() => /(http:\/\/\S+\/ganglia\/)/.exec(launcher.output())?.[1], {
        timeoutMs: 30_000,
        description: 'scripts/gweb.js to print its URL',
        process: launcher,
      });
      assert.equal(url, `http://127.0.0.1:${port}/ganglia/`);
      const page = await httpGet(url);
      assert.equal(page.status, 200);
      assert.match(page.text, new RegExp(`<title>Ganglia:: ${GRID} Grid Report`));
      process.kill(launcher.pid, 'SIGINT');
      assert.deepEqual(await launcher.exited, { code: 0, signal: null }, 'exit status 0 on Ctrl-C');
      assert.equal(await canConnect(port), false, 'php -S and its workers are gone');
    }));

  it('PHP reported no errors while serving the pages', () => {
    const errors = gweb.log().split('\n').filter((line) => /PHP (Fatal|Parse) error|Uncaught/.test(line));
    assert.deepEqual(errors, []);
  });
});
