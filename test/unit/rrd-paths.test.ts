import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { asciiLower, RrdPaths, safePathElement, toPathBytes } from '../../src/plugins/rrd/rrd-paths';

test('ordinary names are kept exactly as the C gmetad writes them', () => {
  for (const name of ['AlphaCluster', 'mixed.case-host', 'My Cluster 1', 'load_one', '-dash', 'a..b', '...', '__SummaryInfo__', 'caf\u00e9']) {
    assert.equal(safePathElement(name), name);
  }
});

test('hostile names become one safe element', () => {
  assert.equal(safePathElement('a/b'), 'a_b');
  assert.equal(safePathElement('../../etc'), '.._.._etc');
  assert.equal(safePathElement('..'), '__');
  assert.equal(safePathElement('.'), '_');
  assert.equal(safePathElement(''), '_');
  assert.equal(safePathElement('/'), '_');
  assert.equal(safePathElement('a\u0000b'), 'a_b');
  assert.equal(safePathElement('line\nbreak\r\t\u007f'), 'line_break___');
  // Never produced by the wire decoder, but must not be truncated by latin1 encoding.
  assert.equal(safePathElement('\u20ac'), '\u00e2\u0082\u00ac');
});

test('host directories are lowercased (ASCII only) unless case sensitive', () => {
  const insensitive = new RrdPaths({ rootDir: '/var/lib/ganglia/rrds', caseSensitiveHostnames: false });
  assert.equal(insensitive.hostFile('AlphaCluster', 'FakeHost2', 'load_one').file,
    '/var/lib/ganglia/rrds/AlphaCluster/fakehost2/load_one.rrd');
  assert.equal(insensitive.hostDir('Alpha', 'Mixed.Case-HOST\u00c9'), '/var/lib/ganglia/rrds/Alpha/mixed.case-host\u00c9');
  const sensitive = new RrdPaths({ rootDir: '/var/lib/ganglia/rrds/', caseSensitiveHostnames: true });
  assert.deepEqual(sensitive.hostFile('AlphaCluster', 'FakeHost2', 'Load_One'), {
    dir: '/var/lib/ganglia/rrds/AlphaCluster/FakeHost2',
    file: '/var/lib/ganglia/rrds/AlphaCluster/FakeHost2/Load_One.rrd',
  });
  assert.equal(asciiLower('ABC\u00c9z'), 'abc\u00c9z');
});

test('summary and root summary layout', () => {
  const paths = new RrdPaths({ rootDir: '/r', caseSensitiveHostnames: false });
  assert.equal(paths.summaryFile('AlphaCluster', 'load_one').file, '/r/AlphaCluster/__SummaryInfo__/load_one.rrd');
  assert.equal(paths.summaryFile('TopGrid', 'cpu_num').file, '/r/TopGrid/__SummaryInfo__/cpu_num.rrd');
  assert.equal(paths.rootSummaryFile('load_one').file, '/r/__SummaryInfo__/load_one.rrd');
  const atRoot = new RrdPaths({ rootDir: '/', caseSensitiveHostnames: true });
  assert.equal(atRoot.rootSummaryFile('x').file, '/__SummaryInfo__/x.rrd');
  assert.equal(atRoot.hostFile('c', 'h', 'm').file, '/c/h/m.rrd');
});

test('no network name can leave the root directory', () => {
  const root = '/srv/rrds';
  const paths = new RrdPaths({ rootDir: root, caseSensitiveHostnames: true });
  const hostile = ['..', '.', '../..', '/etc', 'a/../../b', '\u0000', '..\u0000', ' /..', '~', '-rf', '%2e%2e'];
  for (const cluster of hostile) {
    for (const host of hostile) {
      for (const metric of hostile) {
        const { dir, file } = paths.hostFile(cluster, host, metric);
        const normal = path.posix.normalize(file);
        assert.equal(normal, file, `not normalised: ${JSON.stringify(file)}`);
        assert.ok(file.startsWith(`${root}/`), file);
        assert.equal(path.posix.relative(root, file).split('/').length, 3, file);
        assert.equal(path.posix.dirname(file), dir);
        assert.ok(!/[\u0000-\u001f]/.test(file));
      }
      const summary = paths.summaryFile(cluster, host).file;
      assert.equal(path.posix.normalize(summary), summary);
      assert.ok(summary.startsWith(`${root}/`));
    }
  }
});

test('relative roots are made absolute; bytes round-trip through latin1', () => {
  const paths = new RrdPaths({ rootDir: 'some/rel', caseSensitiveHostnames: true });
  assert.equal(paths.root, path.resolve('some/rel'));
  const utf8Root = new RrdPaths({ rootDir: '/tmp/r\u00e9', caseSensitiveHostnames: true });
  const file = utf8Root.hostFile('c', 'h\u00e9', 'm').file;
  // The root was UTF-8 in the config; the host name bytes are kept as received.
  assert.deepEqual([...toPathBytes(file)], [...Buffer.from('/tmp/r\u00e9', 'utf8'), ...Buffer.from('/c/h\u00e9/m.rrd', 'latin1')]);
});
