/**
 * What gmetad-ts takes before it holds any data: the daemon, started as the benchmark starts
 * it (bin/gmetad), with one data_source whose port refuses connections. Its first poll starts
 * the parse worker, which then has nothing to keep, so the resident memory read afterwards is
 * node, the daemon's modules and one idle worker thread: the floor under the RSS target.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pickFreePorts, renderConfig, startDaemon, tsGmetadCommand, waitListening } from './daemons';
import { sampleProcess, sampleThreads } from './proc-stats';
import { PARSE_THREAD_NAME } from '../src/readers/parse-protocol';

export interface RuntimeFloor {
  /** Mean over the samples, KiB. */
  readonly rssKiB: number;
  readonly rssAnonKiB: number;
  /** Whether a parse worker thread (PARSE_THREAD_NAME) was running when the samples were taken. */
  readonly workerStarted: boolean;
  /** The daemon's pid (stopped when the measurement returns). */
  readonly pid: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Starts the empty daemon in `workDir`, samples it for `sampleMs` after `settleMs`, and stops it (by pid). */
export async function measureRuntimeFloor(mainJs: string, workDir: string, nodeFlags: readonly string[] = [], settleMs = 4000, sampleMs = 4000): Promise<RuntimeFloor> {
  fs.mkdirSync(path.join(workDir, 'rrds'), { recursive: true });
  // The third port is never listened on: the source refuses.
  const [xmlPort, interactivePort, refusedPort] = await pickFreePorts(3);
  const conf = path.join(workDir, 'gmetad.conf');
  fs.writeFileSync(conf, renderConfig({
    side: 'ts', gridName: 'FloorGrid', sourceName: 'Refused', step: 15, gmondPort: refusedPort!,
    xmlPort: xmlPort!, interactivePort: interactivePort!, workDir,
  }));
  const daemon = startDaemon('ts', tsGmetadCommand(conf, mainJs, undefined, nodeFlags), path.join(workDir, 'daemon.log'));
  try {
    await waitListening(daemon, [xmlPort!, interactivePort!]);
    await sleep(settleMs);
    const rss: number[] = [];
    const anon: number[] = [];
    for (let at = 0; at < sampleMs; at += 500) {
      const sample = sampleProcess(daemon.pid);
      if (!sample) throw new Error(`the empty daemon (pid ${daemon.pid}) exited; see ${daemon.logFile}`);
      rss.push(sample.rssKiB);
      anon.push(sample.rssAnonKiB);
      await sleep(500);
    }
    const workerStarted = [...sampleThreads(daemon.pid).values()].some((t) => t.comm === PARSE_THREAD_NAME);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    return { rssKiB: mean(rss), rssAnonKiB: mean(anon), workerStarted, pid: daemon.pid };
  } finally {
    await daemon.stop();
  }
}
