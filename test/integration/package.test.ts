/**
 * Installed like a user installs it: `npm pack` of a clean copy of the sources (no dist/:
 * the prepack script builds), `npm install -g --prefix` of the tarball, then the installed
 * `gmetad` from the PATH, its man page, and its systemd unit: `systemd-analyze verify`, and
 * the unit's own command lines run the way systemd runs them (ExecStartPre, ExecStart,
 * ExecReload with $MAINPID, then KillSignal to the main process) against real gmonds.
 * systemd is not PID 1 here, so the unit cannot be started by systemctl itself.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { packageVersion, SHUTDOWN_DEADLINE_MS } from '../../src/cli/main';
import { startGmond, type GmondHandle } from '../helpers/gmond';
import { freePort, rawRequest } from '../helpers/net';
import { ProcessRegistry, waitFor, waitForPort } from '../helpers/processes';

const REPO = path.resolve(__dirname, '..', '..', '..');
const UNIT_FILE = path.join('contrib', 'systemd', 'gmetad-ts.service');
/** The paths the unit names, replaced by the test's install prefix and config file. */
const UNIT_BINARY = '/usr/bin/gmetad-ts';
const UNIT_CONF = '/etc/ganglia/gmetad.conf';
/** Left out of the copy that is packed: what a fresh clone does not have. */
const NOT_IN_A_CLONE = new Set(['node_modules', 'dist', '.git']);

function run(command: string, args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): SpawnSyncReturns<string> {
  const result = spawnSync(command, [...args], {
    cwd: options.cwd,
    env: options.env ?? process.env,
    encoding: 'utf8',
    timeout: options.timeoutMs ?? 60_000,
    maxBuffer: 16 * 1024 * 1024,
  });
  if (result.error) throw new Error(`${command} ${args.join(' ')}: ${result.error.message}`);
  return result;
}

function ok(result: SpawnSyncReturns<string>, what: string): string {
  assert.equal(result.status, 0, `${what}: exit status ${result.status}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);
  return result.stdout;
}

/** A systemd unit's [Service] settings; keys that may repeat (ExecReload) keep every value. */
function serviceSettings(unit: string): Map<string, string[]> {
  const settings = new Map<string, string[]>();
  let section = '';
  for (const raw of unit.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      section = header[1]!;
      continue;
    }
    const eq = line.indexOf('=');
    if (section !== 'Service' || eq < 0) continue;
    const key = line.slice(0, eq).trim();
    settings.set(key, [...(settings.get(key) ?? []), line.slice(eq + 1).trim()]);
  }
  return settings;
}

function single(settings: Map<string, string[]>, key: string): string {
  const values = settings.get(key) ?? [];
  assert.equal(values.length, 1, `[Service] ${key}= is set once`);
  return values[0]!;
}

/** Seconds of a systemd time span such as "60", "60s", "1min 30s". */
function seconds(span: string): number {
  let total = 0;
  for (const [, n, unit] of span.matchAll(/(\d+)\s*(min|s)?/g)) total += Number(n) * (unit === 'min' ? 60 : 1);
  return total;
}

/** Files under src/ other than TypeScript and documentation, relative to the repository. */
function sourceAssets(dir: string): string[] {
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && !/\.(ts|md)$/.test(entry.name))
    .map((entry) => path.relative(REPO, path.join(entry.parentPath ?? entry.path, entry.name)));
}

describe('npm pack, npm install -g, and the installed systemd unit', { timeout: 240_000 }, () => {
  const registry = new ProcessRegistry();
  after(() => registry.cleanup());
  let files: string[] = [];
  let prefix = '';
  let installed = '';
  let userEnv: NodeJS.ProcessEnv = {};

  before(() =>
    registry.explain(async () => {
      // A copy of the sources as a clone has them, with the dev dependencies (for tsc).
      const source = registry.tempDir('pack-source');
      fs.cpSync(REPO, source, { recursive: true, filter: (from) => !NOT_IN_A_CLONE.has(path.relative(REPO, from)) });
      fs.symlinkSync(path.join(REPO, 'node_modules'), path.join(source, 'node_modules'));
      const out = registry.tempDir('pack-out');
      const packed = JSON.parse(
        ok(run('npm', ['pack', '--json', '--pack-destination', out], { cwd: source, timeoutMs: 180_000 }), 'npm pack'),
      ) as Array<{ filename: string; files: Array<{ path: string }> }>;
      files = packed[0]!.files.map((f) => f.path).sort();
      const tarball = path.join(out, packed[0]!.filename);

      // A user prefix, readable by everyone like /usr: the daemon runs as nobody from it.
      prefix = registry.tempDir('prefix');
      fs.chmodSync(prefix, 0o755);
      ok(
        run('npm', ['install', '-g', '--prefix', prefix, tarball, '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'], {
          cwd: out,
          timeoutMs: 180_000,
        }),
        'npm install -g --prefix',
      );
      installed = path.join(prefix, 'lib', 'node_modules', 'gmetad-ts');
      userEnv = { ...process.env, PATH: `${path.join(prefix, 'bin')}:${process.env.PATH ?? '/usr/bin:/bin'}` };
    }),
  );

  it('the tarball holds the built daemon, the launcher, the man page, the unit and the docs; no tests, no TypeScript sources', () => {
    for (const needed of [
      'bin/gmetad',
      'dist/src/cli/main.js',
      'dist/src/index.js',
      'dist/src/index.d.ts',
      'man/gmetad-ts.8',
      UNIT_FILE,
      'docs/migrating.md',
      'gmetad.conf.example',
      'README.md',
      'LICENSE',
      'package.json',
    ]) {
      assert.ok(files.includes(needed), `tarball has ${needed}`);
    }
    // Files the daemon reads at run time beside its modules (.proto files) come along.
    for (const asset of sourceAssets(path.join(REPO, 'src'))) {
      assert.ok(files.includes(path.join('dist', asset)), `tarball has dist/${asset}`);
    }
    const stray = files.filter((f) => f.startsWith('dist/test/') || f.startsWith('dist/bench/') || f.startsWith('src/') || f.startsWith('test/') || f.endsWith('.map'));
    assert.deepEqual(stray, []);
  });

  it('`gmetad -V` and `gmetad-ts -V` run from the PATH through the symlinks npm made', () => {
    for (const name of ['gmetad', 'gmetad-ts']) {
      const link = path.join(prefix, 'bin', name);
      assert.ok(fs.lstatSync(link).isSymbolicLink(), `${link} is npm's symlink`);
      // From an unrelated directory, by name through PATH, as a user types it.
      const out = ok(run('sh', ['-c', `${name} -V`], { cwd: '/', env: userEnv }), `${name} -V`);
      assert.equal(out.trim(), `gmetad-ts ${packageVersion()}`);
    }
    // A symlink to npm's symlink (as an admin might add in /usr/local/sbin) resolves as well.
    const dir = registry.tempDir('link');
    fs.symlinkSync(path.join(prefix, 'bin', 'gmetad'), path.join(dir, 'gmetad'));
    assert.equal(ok(run(path.join(dir, 'gmetad'), ['-V'], { cwd: '/' }), 'gmetad -V via two links').trim(), `gmetad-ts ${packageVersion()}`);
  });

  it('`gmetad -t -c gmetad.conf.example` checks the shipped example', () => {
    const result = run('sh', ['-c', 'gmetad -t -c gmetad.conf.example'], { cwd: installed, env: userEnv });
    const out = ok(result, 'gmetad -t');
    assert.match(out, /^data_source "demo" 15 localhost:8649$/m);
    assert.match(out, /^gridname "Demo"$/m);
    assert.match(result.stderr, /configuration file .*gmetad\.conf\.example test is successful/);
  });

  it('man finds gmetad-ts(8) in the prefix', () => {
    const env = { ...userEnv, MANPATH: path.join(prefix, 'share', 'man') };
    const linked = path.join(prefix, 'share', 'man', 'man8', 'gmetad-ts.8');
    assert.ok(fs.existsSync(linked), `npm linked ${linked}`);
    const where = ok(run('man', ['-w', '8', 'gmetad-ts'], { env }), 'man -w').trim();
    assert.equal(fs.realpathSync(where), fs.realpathSync(path.join(installed, 'man', 'gmetad-ts.8')));
  });

  /** The installed unit with its binary and config paths pointing into this test. */
  function unitFor(conf: string): string {
    const unit = fs.readFileSync(path.join(installed, UNIT_FILE), 'utf8');
    assert.ok(unit.includes(UNIT_BINARY) && unit.includes(UNIT_CONF), `the unit runs ${UNIT_BINARY} with ${UNIT_CONF}`);
    return unit.split(UNIT_BINARY).join(path.join(prefix, 'bin', 'gmetad-ts')).split(UNIT_CONF).join(conf);
  }

  it('systemd-analyze verify accepts the installed unit (its binary and man page resolved in the prefix)', () => {
    const dir = registry.tempDir('unit');
    const file = path.join(dir, 'gmetad-ts.service');
    fs.writeFileSync(file, unitFor(UNIT_CONF));
    const result = run('systemd-analyze', ['verify', file], { env: { ...userEnv, MANPATH: path.join(prefix, 'share', 'man') } });
    // Other units on the machine may draw warnings; none may concern ours.
    const ours = `${result.stdout}\n${result.stderr}`.split('\n').filter((line) => line.includes('gmetad-ts'));
    assert.deepEqual(ours, [], 'no complaint about gmetad-ts.service');
    assert.equal(result.status, 0, result.stderr);

    // The same check fails for a broken copy: verify does look at our file.
    fs.writeFileSync(file, unitFor(UNIT_CONF).replace('KillMode=mixed', 'KillMode=bogus').replace(/^ExecStart=\S+/m, 'ExecStart=/nonexistent/gmetad-ts'));
    const broken = run('systemd-analyze', ['verify', file], { env: { ...userEnv, MANPATH: path.join(prefix, 'share', 'man') } });
    assert.notEqual(broken.status, 0, 'a unit with a missing binary fails verify');
    assert.match(broken.stderr, /gmetad-ts\.service/);
  });

  it('the unit keeps what the Debian service does and lets the daemon flush on stop', () => {
    const settings = serviceSettings(unitFor(UNIT_CONF));
    assert.equal(single(settings, 'Type'), 'exec', 'systemd supervises the foreground process');
    const start = single(settings, 'ExecStart').split(/\s+/);
    assert.ok(start.includes('--foreground'), 'ExecStart runs in the foreground');
    assert.equal(start[start.indexOf('--conf') + 1], UNIT_CONF, "ExecStart reads Debian's gmetad.conf");
    assert.equal(settings.get('User'), undefined, 'no User=: the daemon switches to setuid_username itself after binding');
    assert.equal(single(settings, 'Restart'), 'on-failure');
    assert.equal(single(settings, 'KillSignal'), 'SIGTERM');
    assert.equal(single(settings, 'KillMode'), 'mixed', 'SIGTERM to the daemon only, not to its rrdtool children');
    const reload = settings.get('ExecReload') ?? [];
    assert.equal(reload.at(-1), '/bin/kill -HUP $MAINPID');
    assert.ok(
      seconds(single(settings, 'TimeoutStopSec')) * 1000 > SHUTDOWN_DEADLINE_MS,
      `TimeoutStopSec outlasts the daemon's own ${SHUTDOWN_DEADLINE_MS} ms shutdown deadline`,
    );
  });

  it("the unit's commands run the installed daemon as systemd would: check, start, reload by SIGHUP, stop by SIGTERM", () =>
    registry.explain(async () => {
      if (process.getuid?.() !== 0) throw new Error('this test must run as root (CI and developer machines are root)');
      const [alpha, beta]: GmondHandle[] = await Promise.all([
        startGmond(registry, { cluster: 'Unit Alpha', hostname: 'unit-a1' }),
        startGmond(registry, { cluster: 'Unit Beta', hostname: 'unit-b1' }),
      ]);
      const xmlPort = await freePort();
      const interactivePort = await freePort();
      const dir = registry.tempDir('unit-conf');
      fs.chmodSync(dir, 0o755); // the daemon re-reads it as nobody on SIGHUP
      const conf = path.join(dir, 'gmetad.conf');
      const body = (sources: GmondHandle[]) =>
        [
          ...sources.map((g) => `data_source "${g.cluster}" 2 127.0.0.1:${g.tcpPort}`),
          'gridname "UnitGrid"',
          `xml_port ${xmlPort}`,
          `interactive_port ${interactivePort}`,
          'setuid on',
          'setuid_username "nobody"',
          'write_rrds off',
        ].join('\n') + '\n';
      const settings = serviceSettings(unitFor(conf));
      const argv = (commandLine: string, mainPid?: number) =>
        commandLine.replace('$MAINPID', String(mainPid ?? '')).split(/\s+/);
      const runLine = (commandLine: string, mainPid?: number) => {
        const [command, ...args] = argv(commandLine, mainPid);
        return run(command!, args, { cwd: '/' });
      };

      // ExecStartPre refuses a broken file, naming file and line.
      fs.writeFileSync(conf, body([alpha!]) + 'xml_port none\n', { mode: 0o644 });
      const [startPre] = settings.get('ExecStartPre') ?? [];
      assert.ok(startPre, 'the unit checks the file before starting');
      const refused = runLine(startPre);
      assert.equal(refused.status, 1);
      assert.ok(refused.stderr.includes(`${conf}:8`), `error names ${conf}:8: ${refused.stderr}`);

      fs.writeFileSync(conf, body([alpha!]));
      ok(runLine(startPre), 'ExecStartPre');
      const [command, ...args] = argv(single(settings, 'ExecStart'));
      const daemon = await registry.spawn('installed gmetad-ts (ExecStart)', command!, args, { cwd: '/' });
      await waitForPort(xmlPort, '127.0.0.1', 15_000, daemon);
      const dump = async () => (await rawRequest(xmlPort, null)).data.toString('latin1');
      await waitFor(async () => (await dump()).includes('<CLUSTER NAME="Unit Alpha"'), {
        timeoutMs: 20_000,
        description: 'the installed daemon to poll the first gmond',
        process: daemon,
      });
      const uid = /^Uid:\s+(\d+)\s+(\d+)/m.exec(fs.readFileSync(`/proc/${daemon.pid}/status`, 'utf8'));
      assert.deepEqual([uid?.[1], uid?.[2]], ['65534', '65534'], 'runs as setuid_username nobody');

      // systemctl reload: every ExecReload line in order, $MAINPID being the daemon.
      fs.writeFileSync(conf, body([alpha!, beta!]));
      for (const line of settings.get('ExecReload') ?? []) ok(runLine(line, daemon.pid), `ExecReload ${line}`);
      await waitFor(
        async () => {
          const xml = await dump();
          return xml.includes('<CLUSTER NAME="Unit Alpha"') && xml.includes('<CLUSTER NAME="Unit Beta"');
        },
        { timeoutMs: 20_000, description: 'the reloaded daemon to poll both gmonds', process: daemon },
      );
      // A broken file fails the reload's check, so no SIGHUP is sent and nothing changes.
      fs.writeFileSync(conf, body([alpha!]) + 'data_source\n');
      assert.equal(runLine(settings.get('ExecReload')![0]!, daemon.pid).status, 1, 'reload check refuses a broken file');
      assert.equal(daemon.exitStatus(), null, 'still running');

      // systemctl stop: KillSignal to the main process; it must exit 0 well within TimeoutStopSec.
      process.kill(daemon.pid, single(settings, 'KillSignal') as NodeJS.Signals);
      const status = await Promise.race([
        daemon.exited,
        new Promise<null>((resolve) => setTimeout(() => resolve(null), seconds(single(settings, 'TimeoutStopSec')) * 1000).unref()),
      ]);
      assert.deepEqual(status, { code: 0, signal: null }, 'exit status 0 on SIGTERM');
      assert.match(daemon.output(), /shutting down/);
    }));
});
