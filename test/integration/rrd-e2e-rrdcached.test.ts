/**
 * End to end with a real rrdcached: our daemon creates the files locally and sends the
 * updates to rrdcached (which holds them until flushed), survives rrdcached going away,
 * and delivers later updates once it is back.
 *
 * The address comes from gmetad.conf (`rrdcached_address host:port`, the only form the
 * C gmetad 3.7.2 understands) or from the RRDCACHED_ADDRESS environment variable, which
 * also takes `unix:/path`.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import {
  awaitGmetadReady, resolveGmetadOptions, writeGmetadConfig, type GmetadHandle, type GmetadOptions,
} from '../helpers/c-gmetad';
import { freePort } from '../helpers/net';
import { OUR_GMETAD_MAIN, ourGmetadBuilt } from '../helpers/our-gmetad';
import { registryFor, waitFor, type ManagedProcess, type ProcessRegistry } from '../helpers/processes';
import {
  MIXED_CLUSTER, knownRows, lastUpdate, nowSeconds, startLiveFakeGmond, waitForFiles, waitForRows,
} from './rrd-e2e-fixtures';

const run = promisify(execFile);

const HOST_FILE = 'MixedCluster/FakeHost2/anchor_temp.rrd';
const SUMMARY_FILE = 'MixedCluster/__SummaryInfo__/anchor_temp.rrd';

/** True once something accepts connections at the rrdcached address. */
function rrdcachedAnswers(address: string): Promise<boolean> {
  return new Promise((resolve) => {
    const target = address.startsWith('unix:')
      ? { path: address.slice('unix:'.length) }
      : { host: address.slice(0, address.lastIndexOf(':')), port: Number(address.slice(address.lastIndexOf(':') + 1)) };
    const socket = net.connect(target);
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** The timestamps of the updates rrdcached holds for `file` (its PENDING command). */
function pendingTimestamps(address: string, file: string): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const target = address.startsWith('unix:')
      ? { path: address.slice('unix:'.length) }
      : { host: address.slice(0, address.lastIndexOf(':')), port: Number(address.slice(address.lastIndexOf(':') + 1)) };
    const socket = net.connect(target, () => socket.write(`PENDING ${file}\n`));
    let text = '';
    socket.setEncoding('latin1');
    socket.setTimeout(5000, () => socket.destroy(new Error('rrdcached PENDING timed out')));
    socket.on('data', (chunk: string) => {
      text += chunk;
      const lines = text.split('\n');
      const count = Number.parseInt(lines[0], 10);
      // "N message" then N lines "timestamp:values"; a negative N is an error (nothing pending).
      if (lines.length < 2 || (count > 0 && lines.length < count + 2)) return;
      socket.end();
      resolve(count > 0 ? lines.slice(1, count + 1).map((l) => Number.parseFloat(l)) : []);
    });
    socket.on('error', reject);
  });
}

/** rrdcached in the foreground, confined to `base` (-B), listening on `address`. */
async function startRrdcached(registry: ProcessRegistry, base: string, address: string, pidFile: string): Promise<ManagedProcess> {
  const child = await registry.spawn('rrdcached', 'rrdcached', ['-g', '-F', '-B', '-b', base, '-p', pidFile, '-l', address]);
  await waitFor(() => rrdcachedAnswers(address), {
    timeoutMs: 10_000, intervalMs: 50, description: `rrdcached on ${address}`, process: child,
  });
  return child;
}

/** Our daemon, like startOurGmetad, with extra environment variables. */
async function startOurGmetadWithEnv(
  registry: ProcessRegistry, opts: GmetadOptions, env: NodeJS.ProcessEnv,
): Promise<GmetadHandle> {
  assert.ok(ourGmetadBuilt(), `our daemon is not built: ${OUR_GMETAD_MAIN} is missing`);
  const resolved = await resolveGmetadOptions(registry, opts, 'our-gmetad');
  const confPath = writeGmetadConfig(registry, resolved, 'our-gmetad');
  const child = await registry.spawn(`our gmetad ${opts.gridname}`, process.execPath, [OUR_GMETAD_MAIN, '-f', '-c', confPath], {
    env: { ...process.env, ...env },
  });
  return awaitGmetadReady(child, resolved, confPath);
}

/** Waits until the daemon has polled MixedCluster at LOCALTIME >= `at`; returns that LOCALTIME. */
async function waitForPoll(gmetad: GmetadHandle, at: number): Promise<number> {
  return waitFor(async () => {
    const localtime = Number(/<CLUSTER NAME="MixedCluster" LOCALTIME="(\d+)"/.exec(await gmetad.dump())?.[1] ?? 0);
    return localtime >= at ? localtime : false;
  }, { timeoutMs: 15_000, description: `a poll at or after ${at}`, process: gmetad.process });
}

/**
 * Proves the values go through rrdcached: the file on disk lags behind what was polled
 * until `rrdtool flushcached` makes rrdcached write it. Returns the flushed last_update.
 */
async function assertHeldUntilFlushed(
  gmetad: GmetadHandle, address: string, base: string, file: string,
): Promise<number> {
  // Three polls after one that is surely in the file (it exists): at least 3 values held.
  const polled = await waitForPoll(gmetad, (await waitForPoll(gmetad, 0)) + 3);
  const onDisk = await lastUpdate(file);
  assert.ok(onDisk < polled, `${file}: on disk ${onDisk}, polled ${polled}: rrdcached holds the values`);
  // The poll's UPDATE may still be on its way to rrdcached: flush until it has landed.
  return waitFor(async () => {
    await flushCached(address, base, file);
    const flushed = await lastUpdate(file);
    return flushed >= polled ? flushed : false;
  }, { timeoutMs: 5_000, intervalMs: 100, description: `${file} flushed up to ${polled}`, process: gmetad.process });
}

/**
 * `rrdtool flushcached`: rrdcached writes what it holds for `file`. rrdtool refuses
 * absolute paths with a TCP daemon ("a remote daemon"), so those get the path relative to
 * rrdcached's base dir (run from there); our daemon's own absolute UPDATE paths are fine.
 */
async function flushCached(address: string, base: string, file: string): Promise<void> {
  const remote = !address.startsWith('unix:');
  await run('rrdtool', ['flushcached', '--daemon', address, remote ? path.relative(base, file) : file], {
    cwd: base, env: { ...process.env, LC_ALL: 'C' },
  });
}

/** A temp dir with rrdcached's base dir and the RRD root inside it. */
async function layout(registry: ProcessRegistry, label: string): Promise<{ top: string; base: string; root: string }> {
  const top = registry.tempDir(label);
  const base = path.join(top, 'base');
  const root = path.join(base, 'rrds');
  await fs.mkdir(root, { recursive: true });
  return { top, base, root };
}

describe('our daemon writing through a real rrdcached', { concurrency: true }, () => {
  it('rrdcached_address host:port: values held by rrdcached until flushed; it stops and comes back', async (t) => {
    const registry = registryFor(t);
    await registry.explain(async () => {
      const { top, base, root } = await layout(registry, 'rrd-e2e-cached-tcp');
      const address = `127.0.0.1:${await freePort()}`;
      const first = await startRrdcached(registry, base, address, path.join(top, 'rrdcached-1.pid'));
      const fake = await startLiveFakeGmond([MIXED_CLUSTER]);
      t.after(() => fake.close());
      const started = nowSeconds();
      const gmetad = await startOurGmetadWithEnv(registry, {
        gridname: 'CachedGrid',
        dataSources: [{ name: 'fake-ds', step: 1, addresses: [fake.address] }],
        rrdRootdir: root,
        writeRrds: true,
        extra: [`rrdcached_address ${address}`],
        expectNames: ['MixedCluster'],
      }, { RRDCACHED_ADDRESS: '' });
      const daemon = gmetad.process;
      const hostFile = path.join(root, HOST_FILE);
      const summaryFile = path.join(root, SUMMARY_FILE);
      /** Flushes `file` out of rrdcached, then reads it. */
      const cachedLastUpdate = async (file: string) => {
        await flushCached(address, base, file);
        return lastUpdate(file);
      };
      const cachedRows = async (file: string, start: number) => {
        await flushCached(address, base, file);
        return knownRows(file, start, await lastUpdate(file));
      };
      await waitForFiles(root, [HOST_FILE, SUMMARY_FILE, '__SummaryInfo__/anchor_temp.rrd'], daemon);

      // The updates sit in rrdcached: the file on disk lags until FLUSH.
      const flushed = await assertHeldUntilFlushed(gmetad, address, base, hostFile);
      const rows = await knownRows(hostFile, started, flushed);
      assert.ok(rows.length >= 3, `${rows.length} rows`);
      for (const [ts, values] of rows) assert.deepEqual(values, [42.5], `host value at ${ts}`);
      const summaryRows = await cachedRows(summaryFile, started);
      assert.ok(summaryRows.length >= 3, `${summaryRows.length} summary rows`);
      for (const [ts, values] of summaryRows) assert.deepEqual(values, [83, 2], `summary at ${ts}`);

      // rrdcached goes away (-F: it writes what it holds on the way out); the daemon polls on.
      const beforeStop = await waitForPoll(gmetad, flushed + 1);
      // That poll's UPDATE has reached rrdcached (it is pending there) before rrdcached stops.
      await waitFor(async () => (await pendingTimestamps(address, hostFile)).some((ts) => ts >= beforeStop),
        { description: `rrdcached holding the update at ${beforeStop}`, process: daemon });
      assert.deepEqual(await first.stop(), { code: 0, signal: null });
      assert.ok((await lastUpdate(hostFile)) >= beforeStop, 'rrdcached wrote its values at shutdown');
      await waitForPoll(gmetad, nowSeconds() + 2);
      assert.equal(daemon.exitStatus(), null, 'the daemon keeps running without rrdcached');

      // Back on the same address: later updates arrive.
      await startRrdcached(registry, base, address, path.join(top, 'rrdcached-2.pid'));
      const backAt = nowSeconds();
      await waitFor(async () => (await cachedLastUpdate(hostFile)) >= backAt + 2,
        { timeoutMs: 20_000, description: 'updates after rrdcached restarted', process: daemon });
      const after = await cachedRows(hostFile, backAt);
      assert.ok(after.length >= 2, `${after.length} rows after the restart`);
      for (const [ts, values] of after) assert.deepEqual(values, [42.5], `host value at ${ts} after restart`);
      const summaryAfter = await cachedRows(summaryFile, backAt);
      assert.ok(summaryAfter.length >= 2);
      for (const [ts, values] of summaryAfter) assert.deepEqual(values, [83, 2], `summary at ${ts} after restart`);

      // /status: the rrdcached client's counters (the C gmetad has none).
      if (process.env.GMETAD_TS_UNDER_TEST !== 'c') {
        const statusText = await gmetad.ask('/status\n');
        const rrd = (JSON.parse(statusText.slice(statusText.indexOf('{'))) as { plugins: Record<string, Record<string, number>> }).plugins.rrd!;
        assert.equal(rrd.backend, 'rrdcached');
        assert.ok(rrd.values! > 0 && rrd.created! > 0, JSON.stringify(rrd));
        assert.ok(rrd.rrdcached_acknowledged! > 0, JSON.stringify(rrd));
        assert.ok(rrd.rrdcached_reconnects! >= 1, `reconnects ${rrd.rrdcached_reconnects}`);
        assert.equal(rrd.rrdcached_connected, 1);
        assert.ok(rrd.lagSeconds! >= 0, `lagSeconds ${rrd.lagSeconds}`);
      }
    });
  });

  it('RRDCACHED_ADDRESS=unix:/path in the environment', async (t) => {
    const registry = registryFor(t);
    await registry.explain(async () => {
      const { top, base, root } = await layout(registry, 'rrd-e2e-cached-unix');
      const address = `unix:${path.join(top, 'rrdcached.sock')}`;
      await startRrdcached(registry, base, address, path.join(top, 'rrdcached.pid'));
      const fake = await startLiveFakeGmond([MIXED_CLUSTER]);
      t.after(() => fake.close());
      const started = nowSeconds();
      const gmetad = await startOurGmetadWithEnv(registry, {
        gridname: 'CachedGrid',
        dataSources: [{ name: 'fake-ds', step: 1, addresses: [fake.address] }],
        rrdRootdir: root,
        writeRrds: true,
        expectNames: ['MixedCluster'],
      }, { RRDCACHED_ADDRESS: address });
      const hostFile = path.join(root, HOST_FILE);
      await waitForFiles(root, [HOST_FILE, SUMMARY_FILE], gmetad.process);
      const flushed = await assertHeldUntilFlushed(gmetad, address, base, hostFile);
      const rows = await knownRows(hostFile, started, flushed);
      assert.ok(rows.length >= 3, `${rows.length} rows`);
      for (const [ts, values] of rows) assert.deepEqual(values, [42.5], `host value at ${ts}`);
      for (const [ts, values] of await waitForRows(path.join(root, SUMMARY_FILE), started, 3, gmetad.process, address)) {
        assert.deepEqual(values, [83, 2], `summary at ${ts}`);
      }
    });
  });
});
