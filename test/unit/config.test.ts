/** gmetad.conf loading, validation, defaults, warnings, describeConfig round trip. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  ConfigError,
  DEFAULTS,
  defaultConfig,
  describeConfig,
  loadConfig,
  parseConfig,
  type ConfigWarning,
  type GmetadConfig,
} from '../../src/config';
import { DEFAULT_SOURCE_LIMITS } from '../../src/config/limits';

const ROOT = path.join(__dirname, '..', '..', '..');
const CONF = path.join(ROOT, 'test', 'fixtures', 'conf');
const FILE = '/etc/ganglia/gmetad.conf';
const NO_ENV = {};

function parse(text: string): { config: GmetadConfig; warnings: ConfigWarning[] } {
  return parseConfig(text, FILE, { env: NO_ENV });
}

/** Asserts a ConfigError at `line` on `directive` whose message is exactly `message`. */
function assertInvalid(text: string, line: number, directive: string | null, message: string): void {
  assert.throws(() => parse(text), (error: unknown) => {
    assert.ok(error instanceof ConfigError, `expected ConfigError, got ${String(error)}`);
    assert.equal(error.code, 'GMETAD_CONFIG_INVALID');
    assert.equal(error.file, FILE);
    assert.equal(error.line, line);
    assert.equal(error.directive, directive);
    assert.equal(error.message, message);
    return true;
  });
}

/** The config without `origin` fields (line numbers change when a config is re-printed). */
function withoutOrigins(config: GmetadConfig): unknown {
  return JSON.parse(JSON.stringify(config, (key, value: unknown) => (key === 'origin' ? undefined : value)));
}

function assertRoundTrip(config: GmetadConfig): void {
  const again = parseConfig(describeConfig(config), config.file, { env: NO_ENV });
  assert.deepEqual(again.warnings, []);
  assert.deepEqual(withoutOrigins(again.config), withoutOrigins(config));
}

test('an empty file gives the C gmetad 3.7.2 compiled defaults', () => {
  const { config, warnings } = parse('# nothing\n\n');
  assert.deepEqual(warnings, []);
  assert.deepEqual(config, defaultConfig(FILE));
  assert.deepEqual({ ...config, file: DEFAULTS.file }, DEFAULTS);
  assert.equal(config.file, FILE);
  assert.deepEqual(config.dataSources, []);
  assert.equal(config.gridname, 'unspecified');
  assert.equal(config.authority, null);
  assert.deepEqual(config.trustedHosts, []);
  assert.equal(config.allTrusted, false);
  assert.equal(config.debugLevel, 0);
  assert.equal(config.xmlPort, 8651);
  assert.equal(config.interactivePort, 8652);
  assert.equal(config.serverThreads, 4);
  assert.equal(config.umask, null);
  assert.equal(config.rrdRootdir, '/var/lib/ganglia/rrds');
  assert.equal(config.rrdcachedAddress, null);
  assert.equal(config.setuid, true);
  assert.equal(config.setuidUsername, 'nobody');
  assert.equal(config.scalable, true);
  assert.equal(config.writeRrds, true);
  assert.deepEqual(config.rras, ['RRA:AVERAGE:0.5:1:5856', 'RRA:AVERAGE:0.5:4:20160', 'RRA:AVERAGE:0.5:40:52704']);
  assert.equal(config.caseSensitiveHostnames, true);
  assert.deepEqual(config.carbon, { server: null, port: 2003, protocol: 'tcp', timeoutMs: 500, graphitePrefix: null, graphitePath: null });
  assert.deepEqual(config.memcached, { parameters: null, includeClusterInKey: false });
  assert.deepEqual(config.riemann, { server: null, port: 5555, protocol: 'udp', attributes: null });
  assert.deepEqual(config.unsummarizedMetrics, []);
  assert.equal(config.unsummarizedSflowVmMetrics, false);
  assert.deepEqual(config.summarizedMetrics, []);
  assert.equal(config.pluginsDir, null);
  assert.deepEqual(config.pluginSections, []);
});

test('a realistic full gmetad.conf sets every directive', () => {
  const file = path.join(CONF, 'full.conf');
  const warnings: ConfigWarning[] = [];
  const config = loadConfig(file, { env: NO_ENV, onWarning: (w) => warnings.push(w) });
  assert.deepEqual(warnings, []);
  assert.equal(config.file, file);
  assert.deepEqual(config.dataSources, [
    {
      name: 'my cluster', step: 10, origin: `${file}:17`, limits: DEFAULT_SOURCE_LIMITS,
      addresses: [{ host: 'localhost', port: 8649 }, { host: 'my.machine.edu', port: 8649 }, { host: '1.2.3.5', port: 8655 }],
    },
    {
      name: 'my grid', step: 50, origin: `${file}:18`, limits: DEFAULT_SOURCE_LIMITS,
      addresses: [{ host: '1.3.4.7', port: 8655 }, { host: 'grid.org', port: 8651 }, { host: 'grid-backup.org', port: 8651 }],
    },
    {
      name: 'another source', step: 15, origin: `${file}:19`, limits: DEFAULT_SOURCE_LIMITS,
      addresses: [{ host: '1.3.4.7', port: 8655 }, { host: '1.3.4.8', port: 8649 }],
    },
    {
      name: 'v6 cluster', step: 15, origin: `${file}:20`, limits: DEFAULT_SOURCE_LIMITS,
      addresses: [{ host: '2001:db8::1', port: 8649 }, { host: '::1', port: 8649 }, { host: 'fe80::1', port: 8649 }],
    },
    {
      name: 'unquoted_name', step: 30, origin: `${file}:21`, limits: DEFAULT_SOURCE_LIMITS,
      addresses: [{ host: 'gmond-a', port: 8649 }, { host: 'gmond-b', port: 8650 }],
    },
  ]);
  assert.deepEqual(config.rras, [
    'RRA:AVERAGE:0.5:1:244', 'RRA:AVERAGE:0.5:24:244', 'RRA:AVERAGE:0.5:168:244', 'RRA:AVERAGE:0.5:672:244', 'RRA:AVERAGE:0.5:5760:374',
  ]);
  assert.equal(config.scalable, false);
  assert.equal(config.gridname, 'Production Grid');
  assert.equal(config.authority, 'http://mycluster.org/newprefix/');
  assert.deepEqual(config.trustedHosts, ['127.0.0.1', '169.229.50.165', 'my.gmetad.org', '::1']);
  assert.equal(config.allTrusted, true);
  assert.equal(config.setuid, false);
  assert.equal(config.setuidUsername, 'ganglia');
  assert.equal(config.umask, 0o022);
  assert.equal(config.debugLevel, 1);
  assert.equal(config.xmlPort, 18651);
  assert.equal(config.interactivePort, 18652);
  assert.equal(config.serverThreads, 10);
  assert.equal(config.rrdRootdir, '/var/lib/ganglia/rrds with space');
  assert.equal(config.rrdcachedAddress, '127.0.0.1:42217');
  assert.equal(config.writeRrds, true);
  assert.deepEqual(config.unsummarizedMetrics, ['diskstat', 'CPU', 'vm_']);
  assert.equal(config.unsummarizedSflowVmMetrics, true);
  assert.deepEqual(config.summarizedMetrics, ['load_one', 'cpu idle']);
  assert.equal(config.caseSensitiveHostnames, false);
  assert.deepEqual(config.carbon, {
    server: 'my.graphite.box', port: 2004, protocol: 'udp', timeoutMs: 750,
    graphitePrefix: 'datacenter1.gmetad', graphitePath: 'datacenter1.gmetad.%s.%h.%m',
  });
  assert.deepEqual(config.memcached, {
    parameters: '--SERVER=127.0.0.1 --POOL-MIN=10 --POOL-MAX=32', includeClusterInKey: true,
  });
  assert.deepEqual(config.riemann, {
    server: 'my.riemann.box', port: 5556, protocol: 'tcp', attributes: 'customer=Acme Corp,environment=PROD',
  });
  assertRoundTrip(config);
});

test('the configs the real gmetad 3.7.2 ran with in the anchor capture load unchanged', () => {
  const anchor = loadConfig(path.join(CONF, 'anchor-gmetad.conf'), { env: NO_ENV });
  assert.deepEqual(
    anchor.dataSources.map((ds) => [ds.name, ds.step, ds.addresses.map((a) => `${a.host}:${a.port}`)]),
    [
      ['AlphaCluster', 15, ['127.0.0.1:18649']],
      ['beta-failover', 10, ['127.0.0.1:18690', '127.0.0.1:18648']],
      ['DeadCluster', 15, ['127.0.0.1:18691', '127.0.0.1:18692']],
      ['GammaCluster', 15, ['127.0.0.1:18647']],
    ],
  );
  assert.equal(anchor.gridname, 'AnchorGrid');
  assert.equal(anchor.authority, null);
  assert.equal(anchor.caseSensitiveHostnames, false);
  assert.equal(anchor.rrdRootdir, '/tmp/anchor-rrds');
  assert.equal(anchor.debugLevel, 1);
  const top = loadConfig(path.join(CONF, 'anchor-top.conf'), { env: NO_ENV });
  assert.equal(top.authority, 'http://top.example/ganglia/');
  assert.deepEqual([top.xmlPort, top.interactivePort], [18661, 18662]);
});

test('gmetad-python sections and plugins_dir are kept raw', () => {
  const file = path.join(CONF, 'python.conf');
  const { config, warnings } = parseConfig(fs.readFileSync(file, 'latin1'), file, { env: NO_ENV });
  assert.deepEqual(warnings, []);
  assert.equal(config.pluginsDir, '/usr/lib/ganglia/python_modules/gmetad');
  assert.deepEqual(config.pluginSections, [
    {
      name: 'rrd', origin: `${file}:5`, directives: [
        { key: 'rrd_rootdir', values: ['/some/other/place'], origin: `${file}:11` },
        { key: 'RRAs', values: ['RRA:AVERAGE:0.5:1:244', 'RRA:AVERAGE:0.5:24:244'], origin: `${file}:12` },
      ],
    },
    {
      name: 'rrdsummary', origin: `${file}:16`, directives: [
        { key: 'enabled', values: ['yes'], origin: `${file}:18` },
        { key: 'label', values: ['{not a brace}', '}'], origin: `${file}:19` },
      ],
    },
    { name: 'alert', origin: `${file}:22`, directives: [{ key: 'threshold', values: ['5'], origin: `${file}:22` }] },
  ]);
  // Directives inside a section belong to the plugin, not to gmetad itself.
  assert.equal(config.rrdRootdir, DEFAULTS.rrdRootdir);
  assertRoundTrip(config);
});

test('directive names are case-insensitive; booleans take on/off, yes/no, 1/0', () => {
  const { config } = parse([
    'GRIDNAME "g"',
    'Setuid OFF',
    'SCALABLE off',
    'write_rrds off',
    'unsummarized_sflow_vm_metrics Yes',
    'rras "RRA:MAX:0.5:1:10"',
    'case_sensitive_hostnames no',
    'all_trusted 1',
  ].join('\n'));
  assert.equal(config.gridname, 'g');
  assert.equal(config.setuid, false);
  assert.equal(config.scalable, false);
  assert.equal(config.writeRrds, false);
  assert.equal(config.unsummarizedSflowVmMetrics, true);
  assert.deepEqual(config.rras, ['RRA:MAX:0.5:1:10']);
  assert.equal(config.caseSensitiveHostnames, false);
  assert.equal(config.allTrusted, true);
  assert.equal(parse('setuid 1').config.setuid, true);
  assert.equal(parse('setuid no').config.setuid, false);
  // Integer directives read like sscanf("%li"): hex and 0-octal too; any non-zero integer is "on".
  assert.equal(parse('debug_level 0x10').config.debugLevel, 16);
  assert.equal(parse('server_threads 010').config.serverThreads, 8);
  assert.equal(parse('case_sensitive_hostnames 2').config.caseSensitiveHostnames, true);
  // carbon_timeout 0 means the C default of 500 ms.
  assert.equal(parse('carbon_timeout 0').config.carbon.timeoutMs, 500);
  assert.equal(parse('umask 0077').config.umask, 0o077);
  // The owner's bits are never masked, as in the C gmetad.
  assert.equal(parse('umask 0777').config.umask, 0o077);
  assert.equal(parse('rrdcached_address [::1]:42217').config.rrdcachedAddress, '[::1]:42217');
  // gmetad-ts: the port thread's nice value, -10 unless set; 0 leaves it as started.
  assert.equal(parse('').config.portThreadNice, -10);
  assert.equal(parse('port_thread_nice -5').config.portThreadNice, -5);
  assert.equal(parse('port_thread_nice 0').config.portThreadNice, 0);
  assert.equal(parse('rrdcached_address 127.0.0.1').config.rrdcachedAddress, '127.0.0.1', 'default port 42217');
  assert.equal(parse('rrdcached_address unix:/run/rrdcached.sock').config.rrdcachedAddress, 'unix:/run/rrdcached.sock');
  assert.equal(parse('rrdcached_address /run/rrdcached.sock').config.rrdcachedAddress, '/run/rrdcached.sock');
});

test('data_source: default interval and port, IPv4, names, bracketed and bare IPv6', () => {
  const { config } = parse([
    'data_source "a" localhost',
    'data_source "b" 60 10.1.2.3:8651 [::1]:9000 [fe80::1] 2001:db8::2 host-1.example.org:1',
  ].join('\n'));
  assert.deepEqual(config.dataSources, [
    { name: 'a', step: 15, addresses: [{ host: 'localhost', port: 8649 }], origin: `${FILE}:1`, limits: DEFAULT_SOURCE_LIMITS },
    {
      name: 'b', step: 60, origin: `${FILE}:2`, limits: DEFAULT_SOURCE_LIMITS, addresses: [
        { host: '10.1.2.3', port: 8651 },
        { host: '::1', port: 9000 },
        { host: 'fe80::1', port: 8649 },
        { host: '2001:db8::2', port: 8649 },
        { host: 'host-1.example.org', port: 1 },
      ],
    },
  ]);
});

test('data_source errors name the file, the line and the source', () => {
  const at12 = (line: string): string => `${'\n'.repeat(11)}${line}`;
  assertInvalid(at12('data_source "x" host:99999'), 12, 'data_source', `${FILE}:12: data_source "x": invalid port "99999"`);
  assertInvalid(at12('data_source "x" host:0'), 12, 'data_source', `${FILE}:12: data_source "x": invalid port "0"`);
  assertInvalid(at12('data_source "x" host:abc'), 12, 'data_source', `${FILE}:12: data_source "x": invalid port "abc"`);
  assertInvalid(at12('data_source "x" [::1]:'), 12, 'data_source', `${FILE}:12: data_source "x": invalid port ""`);
  assertInvalid(at12('data_source "x" 0 host'), 12, 'data_source',
    `${FILE}:12: data_source "x": invalid polling interval "0" (expected a positive number of seconds)`);
  assertInvalid(at12('data_source "x" -5 host'), 12, 'data_source',
    `${FILE}:12: data_source "x": invalid polling interval "-5" (expected a positive number of seconds)`);
  assertInvalid(at12('data_source "x" 20'), 12, 'data_source', `${FILE}:12: data_source "x": no address given (expected host[:port] ...)`);
  assertInvalid(at12('data_source "x"'), 12, 'data_source', `${FILE}:12: data_source "x": no address given (expected host[:port] ...)`);
  assertInvalid(at12('data_source'), 12, 'data_source', `${FILE}:12: data_source: missing data source name`);
  assertInvalid(at12('data_source "" host'), 12, 'data_source', `${FILE}:12: data_source: empty data source name`);
  assertInvalid(at12('data_source "x" bad_host!'), 12, 'data_source', `${FILE}:12: data_source "x": invalid host name "bad_host!"`);
  assertInvalid(at12('data_source "x" 999.1.1.1'), 12, 'data_source', `${FILE}:12: data_source "x": invalid host name "999.1.1.1"`);
  assertInvalid(at12('data_source "x" 1:2:3'), 12, 'data_source',
    `${FILE}:12: data_source "x": invalid address "1:2:3" (write IPv6 with a port as [address]:port)`);
  assertInvalid(at12('data_source "x" [::g]:1'), 12, 'data_source', `${FILE}:12: data_source "x": invalid IPv6 address "::g"`);
  assertInvalid(at12('data_source "x" [::1'), 12, 'data_source', `${FILE}:12: data_source "x": invalid address "[::1": missing "]"`);
  assertInvalid('data_source "dup" a\n\ndata_source "dup" b', 3, 'data_source',
    `${FILE}:3: data_source "dup": duplicate data source name (already defined at ${FILE}:1)`);
});

test('invalid values of other directives name the file, the line and the directive', () => {
  const cases: [string, string, string][] = [
    ['gridname', 'gridname', 'missing value'],
    ['gridname ""', 'gridname', 'empty value'],
    ['xml_port 70000', 'xml_port', 'invalid value "70000" (expected a port number 1..65535)'],
    ['interactive_port http', 'interactive_port', 'invalid value "http" (expected a port number 1..65535)'],
    ['carbon_port 0', 'carbon_port', 'invalid value "0" (expected a port number 1..65535)'],
    ['riemann_port -1', 'riemann_port', 'invalid value "-1" (expected a port number 1..65535)'],
    ['server_threads 0', 'server_threads', 'invalid value "0" (expected a number of threads 1..1024)'],
    ['port_thread_nice 5', 'port_thread_nice', 'invalid value "5" (expected a nice value -20..0)'],
    ['port_thread_nice -21', 'port_thread_nice', 'invalid value "-21" (expected a nice value -20..0)'],
    ['debug_level lots', 'debug_level', 'invalid value "lots" (expected a level >= 0)'],
    ['carbon_timeout 1.5', 'carbon_timeout', 'invalid value "1.5" (expected milliseconds >= 0)'],
    ['umask 089', 'umask', 'invalid umask "089" (expected octal digits, e.g. 022)'],
    ['setuid true', 'setuid', 'invalid value "true" (expected on/off, yes/no or 1/0)'],
    ['scalable maybe', 'scalable', 'invalid value "maybe" (expected on/off, yes/no or 1/0)'],
    ['case_sensitive_hostnames x', 'case_sensitive_hostnames', 'invalid value "x" (expected on/off, yes/no or 1/0)'],
    ['carbon_protocol http', 'carbon_protocol', 'invalid protocol "http" (expected tcp or udp)'],
    ['riemann_protocol sctp', 'riemann_protocol', 'invalid protocol "sctp" (expected tcp or udp)'],
    ['rrdcached_address 127.0.0.1:99999', 'rrdcached_address', 'invalid port "99999"'],
    ['RRAs', 'RRAs', 'missing value (expected one or more "RRA:CF:xff:steps:rows")'],
    ['RRAs "AVERAGE:0.5:1:10"', 'RRAs', 'invalid RRA "AVERAGE:0.5:1:10" (expected RRA:CF:xff:steps:rows)'],
    ['trusted_hosts ok.example bad/host', 'trusted_hosts', 'invalid host "bad/host" (expected a host name or an IP address)'],
    ['unsummarized_metrics a ""', 'unsummarized_metrics', 'empty value in list'],
    ['Include /etc/ganglia/conf.d/*.conf', 'Include', 'not supported by gmetad-ts; put the settings in this file'],
  ];
  for (const [line, directive, reason] of cases) {
    assertInvalid(`# first line\n${line}`, 2, directive, `${FILE}:2: ${directive}: ${reason}`);
  }
  assertInvalid('xml_port 9000\ninteractive_port 9000', 2, 'interactive_port',
    `${FILE}:2: interactive_port: xml_port and interactive_port are both 9000`);
  assertInvalid('xml_port 8652', 1, 'xml_port', `${FILE}:1: xml_port: xml_port and interactive_port are both 8652`);
});

test('unknown directives and doubtful values are warnings, not errors', () => {
  const { config, warnings } = parse([
    'gridname "A"',
    'no_such_directive 1 2',
    'gridname My Grid',
    'scalable no',
    'all_trusted off',
    'trusted_hosts',
    'memcached_include_host_metrics 1',
  ].join('\n'));
  assert.equal(config.gridname, 'My');
  assert.equal(config.scalable, false);
  assert.equal(config.allTrusted, false);
  assert.deepEqual(warnings, [
    { file: FILE, line: 2, directive: 'no_such_directive', message: `${FILE}:2: no_such_directive: unknown directive, ignored` },
    { file: FILE, line: 3, directive: 'gridname', message: `${FILE}:3: gridname: overrides the value set at line 1` },
    {
      file: FILE, line: 3, directive: 'gridname',
      message: `${FILE}:3: gridname: extra values ignored: "Grid" (quote a value that contains spaces)`,
    },
    {
      file: FILE, line: 4, directive: 'scalable',
      message: `${FILE}:4: scalable: "no" taken as off; the C gmetad 3.7.2 only recognised exactly "off" here and stayed on`,
    },
    { file: FILE, line: 6, directive: 'trusted_hosts', message: `${FILE}:6: trusted_hosts: no values given; ignored` },
    {
      file: FILE, line: 7, directive: 'memcached_include_host_metrics',
      message: `${FILE}:7: memcached_include_host_metrics: unknown directive, ignored`,
    },
    {
      file: FILE, line: 5, directive: 'all_trusted',
      message: `${FILE}:5: all_trusted: off: the XML and interactive ports answer 127.0.0.1 and ::1 only (no trusted_hosts); `
        + 'the C gmetad 3.7.2 trusts every host when all_trusted is present, whatever its value, so every other host '
        + 'that could read them there gets nothing here (use "all_trusted on" to keep that)',
    },
  ]);
  assert.match(parse('all_trusted 0\ntrusted_hosts gw.example.org 10.0.0.9').warnings[0].message,
    /:1: all_trusted: off: the XML and interactive ports answer 127\.0\.0\.1, ::1 and trusted_hosts gw\.example\.org 10\.0\.0\.9 only; /);
  assert.deepEqual(parse('all_trusted on').warnings, []);
  // An open quote runs as in C, with a warning (a real-world file: graphite_path ""datacenter1...").
  const openQuote = parse('carbon_server 127.0.0.1\ngraphite_path ""datacenter1.gmetad.%s.%h.%m"');
  assert.equal(openQuote.config.carbon.graphitePath, 'datacenter1.gmetad.%s.%h.%m');
  assert.match(openQuote.warnings[0].message, /^\/etc\/ganglia\/gmetad\.conf:2: graphite_path: unterminated double-quoted string/);
  // Repeatable directives accumulate silently.
  const lists = parse('trusted_hosts a\ntrusted_hosts b c\nunsummarized_metrics x\nunsummarized_metrics y\nsummarized_metrics p\nsummarized_metrics q');
  assert.deepEqual(lists.warnings, []);
  assert.deepEqual(lists.config.trustedHosts, ['a', 'b', 'c']);
  assert.deepEqual(lists.config.unsummarizedMetrics, ['x', 'y']);
  assert.deepEqual(lists.config.summarizedMetrics, ['p', 'q']);
  // RRAs replaces the earlier list.
  assert.deepEqual(parse('RRAs "RRA:MIN:0.5:1:1"\nRRAs "RRA:MAX:0.5:1:2"').config.rras, ['RRA:MAX:0.5:1:2']);
});

test('an unreadable file is a ConfigError naming the path', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gmetad-conf-'));
  try {
    const missing = path.join(dir, 'missing.conf');
    for (const target of [missing, dir]) {
      assert.throws(() => loadConfig(target), (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.equal(error.code, 'GMETAD_CONFIG_UNREADABLE');
        assert.equal(error.file, target);
        assert.equal(error.line, null);
        assert.equal(error.directive, null);
        assert.ok(error.message.startsWith(`${target}: cannot read the configuration file (`), error.message);
        return true;
      });
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('loadConfig resolves relative paths, decodes bytes as ISO-8859-1 and substitutes ${ENV}', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gmetad-conf-'));
  try {
    const file = path.join(dir, 'g.conf');
    fs.writeFileSync(file, Buffer.concat([
      Buffer.from('gridname "Caf'), Buffer.from([0xe9]), Buffer.from('"\nrrd_rootdir ${RRDS:-/x}/rrds\nbogus 1\n'),
    ]));
    const warnings: ConfigWarning[] = [];
    const config = loadConfig(path.relative(process.cwd(), file), { env: { RRDS: '/srv' }, onWarning: (w) => warnings.push(w) });
    assert.equal(config.file, file);
    assert.equal(config.gridname, 'Caf\u00e9');
    assert.equal(config.rrdRootdir, '/srv/rrds');
    assert.deepEqual(warnings.map((w) => w.message), [`${file}:3: bogus: unknown directive, ignored`]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('the config is deep-frozen, and parsing never touches DEFAULTS', () => {
  const { config } = parse('data_source "a" h1 h2\ntrusted_hosts x\nrrd {\n  k v\n}\n');
  const frozen: unknown[] = [
    config, config.dataSources, config.dataSources[0], config.dataSources[0]!.addresses, config.dataSources[0]!.addresses[0],
    config.trustedHosts, config.rras, config.carbon, config.memcached, config.riemann, config.unsummarizedMetrics,
    config.summarizedMetrics, config.pluginSections, config.pluginSections[0], config.pluginSections[0]!.directives,
    config.pluginSections[0]!.directives[0], config.pluginSections[0]!.directives[0]!.values, DEFAULTS, DEFAULTS.rras,
  ];
  for (const value of frozen) assert.ok(Object.isFrozen(value), JSON.stringify(value));
  assert.throws(() => { (config.trustedHosts as string[]).push('y'); }, TypeError);
  assert.throws(() => { (config as { gridname: string }).gridname = 'x'; }, TypeError);
  assert.deepEqual(DEFAULTS.trustedHosts, []);
  assert.deepEqual(DEFAULTS.dataSources, []);
});

test('describeConfig prints every effective value in gmetad.conf syntax and reads back equal', () => {
  assertRoundTrip(DEFAULTS);
  const tricky = parse([
    'data_source "we\\"ird # name $x {" 7 [::1]:1 h',
    'gridname "a \\\\ b \\${HOME} \'q\'"',
    'authority "http://x/ganglia/"',
    'trusted_hosts 10.0.0.1 ::1',
    'umask 0',
    'rrdcached_address 127.0.0.1:42217',
    'write_rrds off',
    'summarized_metrics "with space" plain',
    'graphite_path "%s.%h.%m"',
    'port_thread_nice -3',
    '"odd section" {',
    '  "key with space" "" "{" }',
  ].join('\n')).config;
  assert.equal(tricky.dataSources[0]!.name, 'we"ird # name $x {');
  assert.equal(tricky.gridname, "a \\ b ${HOME} 'q'");
  assert.equal(tricky.umask, 0);
  assertRoundTrip(tricky);

  const text = describeConfig(parse('data_source "demo" localhost\nxml_port 9651').config);
  const lines = text.split('\n');
  for (const expected of [
    'data_source "demo" 15 localhost:8649',
    'gridname "unspecified"',
    'xml_port 9651',
    'interactive_port 8652',
    'setuid on',
    'setuid_username "nobody"',
    'RRAs "RRA:AVERAGE:0.5:1:5856" "RRA:AVERAGE:0.5:4:20160" "RRA:AVERAGE:0.5:40:52704"',
    'case_sensitive_hostnames 1',
    'carbon_port 2003',
    'riemann_protocol udp',
  ]) {
    assert.ok(lines.includes(expected), `missing line ${expected}\n${text}`);
  }
});

test('gmetad.conf.example loads cleanly and runs as an ordinary user', () => {
  const warnings: ConfigWarning[] = [];
  const config = loadConfig(path.join(ROOT, 'gmetad.conf.example'), { env: NO_ENV, onWarning: (w) => warnings.push(w) });
  assert.deepEqual(warnings, []);
  assert.deepEqual(config.dataSources.map((ds) => [ds.name, ds.step, ds.addresses]), [['demo', 15, [{ host: 'localhost', port: 8649 }]]]);
  assert.equal(config.gridname, 'Demo');
  assert.equal(config.xmlPort, 8651);
  assert.equal(config.interactivePort, 8652);
  assert.equal(config.setuid, false);
  assert.equal(config.writeRrds, true);
  assert.equal(config.rrdRootdir, '/tmp/gmetad-ts-demo/rrds');
  assert.deepEqual(config.pluginSections.map((s) => s.name), ['rrd']);
  assertRoundTrip(config);
});

test('limits { }: defaults, for every source, per data_source; printed by -t and read back', () => {
  const text = 'data_source "a" 127.0.0.1:9\ndata_source "big" 15 10.0.0.1\n'
    + 'limits {\n  max_document_bytes 512MiB\n  max_hosts 20000\n  max_poll_seconds 90\n'
    + '  max_hosts "big" 200000\n  max_document_bytes "big" 4G\n  max_metrics "big" 300\n}\n';
  const { config, warnings } = parse(text);
  assert.deepEqual(warnings, []);
  assert.deepEqual(config.dataSources.map((ds) => ds.limits), [
    { maxDocumentBytes: 512 * 1024 ** 2, maxHosts: 20000, maxMetrics: 2000000, maxPollSeconds: 90 },
    { maxDocumentBytes: 4 * 1024 ** 3, maxHosts: 200000, maxMetrics: 300, maxPollSeconds: 90 },
  ]);
  assert.deepEqual(config.pluginSections, [], 'limits is not a plugin section');
  assertRoundTrip(config);
  assert.deepEqual(parse('data_source "a" 127.0.0.1:9').config.dataSources[0].limits,
    { maxDocumentBytes: 1073741824, maxHosts: 50000, maxMetrics: 2000000, maxPollSeconds: 60 });
  assert.match(describeConfig(parse('data_source "a" 127.0.0.1:9').config), /^limits \{\n {2}# max_document_bytes 1073741824 \(default\)$/m);
});

test('limits { }: a bad value, an unknown limit or an unknown data_source names the file and line', () => {
  const ds = 'data_source "a" 127.0.0.1:9\n';
  assertInvalid(`${ds}limits {\n  max_hosts lots\n}\n`, 3, 'limits max_hosts',
    `${FILE}:3: limits max_hosts: invalid value "lots" (expected a positive integer)`);
  assertInvalid(`${ds}limits {\n  max_document_bytes 0\n}\n`, 3, 'limits max_document_bytes',
    `${FILE}:3: limits max_document_bytes: invalid value "0" (expected a positive number of bytes, optionally with K, M or G (KiB, MiB, GiB))`);
  assertInvalid(`${ds}limits {\n  max_clusters 5\n}\n`, 3, 'limits max_clusters',
    `${FILE}:3: limits max_clusters: unknown limit (expected max_document_bytes, max_hosts, max_metrics, max_poll_seconds)`);
  assertInvalid(`${ds}limits {\n\n  max_hosts "b" 5\n}\n`, 4, 'limits', `${FILE}:4: limits: no data_source named "b"`);
});
