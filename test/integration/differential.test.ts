/**
 * Differential test: the real C gmetad 3.7.2 and our daemon, same gmetad.conf (apart
 * from ports), fed by the same two real gmonds, must give the same answers on the XML
 * port and on the interactive port.
 *
 * Sources: AlphaCluster-like gmond (+ a spoofed host), a failover source whose first
 * address is closed, and a source with no live address at all.
 *
 * The two daemons poll at different moments, so values that move between polls are
 * masked (TN, LOCALTIME, REPORTED, VAL of non-constant metrics, SUM of summaries); the
 * set of elements, every other attribute (in order), HOSTS UP/DOWN and METRICS NUM must
 * match exactly. Each comparison is retried for a few seconds because one daemon may
 * have seen a newer gmond state than the other.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { freePort } from '../helpers/net';
import { injectSpoofedHost, startGmond, type GmondHandle } from '../helpers/gmond';
import { startCGmetad, type GmetadHandle, type GmetadOptions } from '../helpers/c-gmetad';
import { startOurGmetad } from '../helpers/our-gmetad';
import { ProcessRegistry, waitFor } from '../helpers/processes';
import { rawRequest } from '../helpers/net';
import { attr, findAll, lineDiff, normalizeXml, parseGangliaXml, splitHttp, type NormalizeOptions } from '../helpers/xml-normalize';

const ALPHA = 'DiffAlpha';
const BETA = 'DiffBeta';
const BETA_HOST = 'betahost';
const SPOOF_HOST = 'spoofed-node';
const GRID = 'DiffGrid';

/** Masks for values that legitimately differ between two independent polls. */
const VOLATILE: NormalizeOptions = {
  maskAttributes: ['TN', 'LOCALTIME'],
  maskWhen: ({ element }, key) =>
    (element.name === 'HOST' && key === 'REPORTED') ||
    // Metrics with SLOPE="zero" (cpu_num, os_name, heartbeat...) are constant: compare them.
    (element.name === 'METRIC' && key === 'VAL' && attr(element, 'SLOPE') !== 'zero') ||
    (element.name === 'METRICS' && key === 'SUM'),
  // Intended difference: 3.7.2 never deletes a summary entry, a metric no longer
  // reported stays as SUM="0" NUM="0" forever; ours drops it. Ignore such entries.
  dropWhen: ({ element }) => element.name === 'METRICS' && attr(element, 'NUM') === '0',
};
// Other intended differences, not exercised by these inputs: ours escapes XML special
// characters (3.7.2 prints them raw), prints UNITS="" for a METRIC without UNITS (3.7.2
// prints garbage), and keeps nested grids' METRICS in a parent grid (3.7.2 loses them).

interface Reply {
  readonly raw: string;
  readonly ended: string;
}

async function ask(port: number, request: string | null): Promise<Reply> {
  const reply = await rawRequest(port, request);
  return { raw: reply.data.toString('latin1'), ended: reply.ended };
}

/** Comparable form of a reply: how it ended, the HTTP header verbatim, the body normalised. */
function comparable(reply: Reply): string {
  const { header, body } = splitHttp(reply.raw);
  const normalized = body.length === 0 ? '(empty)\n' : normalizeXml(body, VOLATILE);
  return `ended: ${reply.ended}\nheader: ${JSON.stringify(header)}\n${normalized}`;
}

/** Key paths of a JSON value (values themselves ignored), sorted. */
function keyPaths(value: unknown, prefix = ''): string[] {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return [prefix];
  return Object.entries(value as Record<string, unknown>)
    .flatMap(([k, v]) => keyPaths(v, prefix ? `${prefix}.${k}` : k))
    .sort();
}

describe('C gmetad vs our gmetad on the same gmonds', () => {
  const registry = new ProcessRegistry();
  after(() => registry.cleanup());
  let alpha: GmondHandle;
  let beta: GmondHandle;
  let cGmetad: GmetadHandle;
  let ours: GmetadHandle;
  let alphaHost: string;

  before(() =>
    registry.explain(async () => {
      [alpha, beta] = await Promise.all([
        startGmond(registry, { cluster: ALPHA, owner: 'Diff Owner', latlong: 'N32 W117', url: 'http://diff.example/' }),
        startGmond(registry, { cluster: BETA, hostname: BETA_HOST }),
      ]);
      await injectSpoofedHost(alpha, '10.9.9.9', SPOOF_HOST, [
        { name: 'diff_temp', value: '42.5', type: 'float', units: 'Celsius', slope: 'both', group: 'diff' },
        { name: 'diff_count', value: '7', type: 'uint32', units: 'things', slope: 'zero' },
        { name: 'diff_str', value: 'hello world', type: 'string', slope: 'zero' },
      ]);
      await waitFor(async () => (await alpha.dump()).includes('<METRIC NAME="diff_str"'), {
        description: 'the spoofed host to reach gmond',
      });
      alphaHost = attr(findAll(parseGangliaXml(await alpha.dump()), 'HOST').find((h) => attr(h, 'NAME') !== SPOOF_HOST)!, 'NAME')!;

      // Closed ports: freePort() just released them and nothing listens there.
      const [deadA, deadB, deadC] = [await freePort(), await freePort(), await freePort()];
      const conf = (): GmetadOptions => ({
        gridname: GRID,
        dataSources: [
          { name: ALPHA, step: 2, addresses: [`127.0.0.1:${alpha.tcpPort}`] },
          { name: 'beta-failover', step: 2, addresses: [`127.0.0.1:${deadA}`, `127.0.0.1:${beta.tcpPort}`] },
          { name: 'DeadCluster', step: 2, addresses: [`127.0.0.1:${deadB}`, `127.0.0.1:${deadC}`] },
        ],
        expectNames: [ALPHA, BETA],
      });
      [cGmetad, ours] = await Promise.all([startCGmetad(registry, conf()), startOurGmetad(registry, conf())]);
    }),
  );

  /** Retries until both daemons agree on `request` (null = XML port), then asserts. */
  async function assertSameReply(request: string | null): Promise<void> {
    const get = async (d: GmetadHandle) =>
      comparable(await ask(request === null ? d.xmlPort : d.interactivePort, request));
    let last: [string, string] = ['', ''];
    try {
      await waitFor(
        async () => {
          last = await Promise.all([get(cGmetad), get(ours)]);
          return last[0] === last[1] || undefined;
        },
        { timeoutMs: 8_000, intervalMs: 500, description: `matching replies to ${JSON.stringify(request)}` },
      );
    } catch {
      // Show the real difference (the last pair) rather than the timeout.
      const what = request === null ? 'the XML port' : JSON.stringify(request);
      assert.fail(`reply to ${what} differs (- C gmetad, + ours):\n${lineDiff(last[0], last[1])}`);
    }
  }

  it('XML port dumps match', () => registry.explain(() => assertSameReply(null)));

  const requests: Array<[string, () => string]> = [
    ['gweb main view', () => '/?filter=summary\n'],
    ['gweb full dump', () => '/\n'],
    ['gweb cluster view', () => `/${ALPHA}\n`],
    ['gweb cluster view, hosts hidden', () => `/${ALPHA}?filter=summary\n`],
    ['gweb host view', () => `/${ALPHA}/${alphaHost}\n`],
    ['failover cluster', () => `/${BETA}\n`],
    ['override_hostname host', () => `/${BETA}/${BETA_HOST}\n`],
    ['spoofed host', () => `/${ALPHA}/${SPOOF_HOST}\n`],
    ['one metric', () => `/${ALPHA}/${alphaHost}/load_one\n`],
    ['one string metric', () => `/${ALPHA}/${SPOOF_HOST}/diff_str\n`],
    ['host summary', () => `/${ALPHA}/${alphaHost}?filter=summary\n`],
    ['HTTP cluster', () => `GET /${ALPHA} HTTP/1.0\r\n\r\n`],
    ['HTTP/1.1 root summary with headers', () => 'GET /?filter=summary HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'],
    ['HTTP wildcard host', () => `GET /*/${alphaHost} HTTP/1.0\r\n\r\n`],
    ['HTTP wildcard metric', () => `GET /${ALPHA}/*/load_one HTTP/1.0\r\n\r\n`],
    ['HTTP not found -> empty GRID', () => 'GET /nosuch HTTP/1.0\r\n\r\n'],
    ['not found -> full dump', () => '/nosuch\n'],
    ['unknown host -> whole cluster', () => `/${ALPHA}/nosuchhost\n`],
    ['dead source is not a path', () => '/DeadCluster\n'],
    ['data_source name is not a path', () => '/beta-failover\n'],
    ['case-sensitive lookup', () => `/${ALPHA}/${alphaHost.toUpperCase()}\n`],
    ['unknown filter ignored', () => `/${ALPHA}?filter=bogus\n`],
    ['malformed: no slash', () => 'garbage\n'],
    ['malformed: forbidden character', () => '/a;b\n'],
    ['malformed: GET without version', () => `GET /${ALPHA}\r\n`],
  ];
  for (const [label, request] of requests) {
    it(`interactive: ${label}`, () => registry.explain(() => assertSameReply(request())));
  }

  for (const request of ['/status\n', 'GET /status HTTP/1.0\r\n\r\n']) {
    it(`${JSON.stringify(request)}: same header and JSON keys`, () =>
      registry.explain(async () => {
        const [c, o] = await Promise.all([ask(cGmetad.interactivePort, request), ask(ours.interactivePort, request)]);
        const [cParts, oParts] = [splitHttp(c.raw), splitHttp(o.raw)];
        assert.equal(oParts.header, cParts.header);
        const [cJson, oJson] = [JSON.parse(cParts.body), JSON.parse(oParts.body)] as Array<Record<string, unknown>>;
        // Intended extension: ours may add top-level keys after the 3.7.2 ones (per-source
        // state etc.); everything 3.7.2 has must be there with the same nesting.
        const cTop = new Set(Object.keys(cJson!));
        assert.deepEqual(Object.keys(oJson!).filter((k) => cTop.has(k)), Object.keys(cJson!), 'top-level key order');
        const oPaths = keyPaths(oJson).filter((p) => cTop.has(p.split('.')[0]!));
        assert.deepEqual(oPaths, keyPaths(cJson));
        assert.equal(oJson!.gridname, cJson!.gridname);
        assert.equal(oJson!.host, cJson!.host);
        assert.equal(oJson!.version, cJson!.version);
        assert.ok(oParts.body.endsWith('\r\n'), 'body ends with CRLF like the C one');
      }));
  }

  it('/status?callback=cb: same JSONP wrapping', () =>
    registry.explain(async () => {
      const [c, o] = await Promise.all([
        ask(cGmetad.interactivePort, '/status?callback=cb\n'),
        ask(ours.interactivePort, '/status?callback=cb\n'),
      ]);
      const wrap = (body: string) => body.replace(/\{[\s\S]*\}/, '{...}');
      assert.equal(wrap(splitHttp(o.raw).body), wrap(splitHttp(c.raw).body));
    }));
});
