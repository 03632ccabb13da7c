/**
 * The floor under concurrent full dumps on this machine: N clients (in a child process, as
 * far from the server as the benchmark's) each read SIZE bytes over loopback, written from
 * one shared list of ready buffers of the daemon's chunk size, so nothing is rendered.
 * bench/run.ts measures it in its own run beside the daemons' dumps; run alone it prints the
 * wall time and the CPU of the writing and the reading side:
 *   node dist/bench/loopback-floor.js [clients=10] [bytes=334000000] [chunk bytes]
 */
import { fork } from 'node:child_process';
import * as net from 'node:net';
import { CHUNK_BYTES } from '../src/server/shared-dump-cache';

const READ_BYTES = 256 * 1024;
const CHILD_MARK = '--loopback-floor-clients';

export interface LoopbackFloor {
  /** From the clients' first connect to the last one's end of stream. */
  readonly wallMs: number;
  /** This process's CPU meanwhile (the writing side, and whatever else this process does). */
  readonly writerCpuS: number;
  /** The client process's CPU. */
  readonly readersCpuS: number;
}

/** Writes `bytes` to each of `clients` loopback clients at once; resolves when all have read it. */
export async function loopbackFloor(clients: number, bytes: number, chunkBytes = CHUNK_BYTES): Promise<LoopbackFloor> {
  const chunks: Buffer[] = [];
  for (let at = 0; at < bytes; at += chunkBytes) chunks.push(Buffer.alloc(Math.min(chunkBytes, bytes - at), 0x41));
  const server = net.createServer(async (socket) => {
    socket.on('error', () => socket.destroy());
    for (const chunk of chunks) {
      if (socket.destroyed) return;
      if (!socket.write(chunk)) await new Promise((resolve) => socket.once('drain', resolve));
    }
    socket.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  const cpu0 = process.cpuUsage();
  const child = fork(__filename, [CHILD_MARK, String(port), String(clients)], { stdio: 'inherit' });
  try {
    const answer = await new Promise<ClientsReport>((resolve, reject) => {
      child.once('message', (m) => resolve(m as ClientsReport));
      child.once('exit', (code, signal) => reject(new Error(`loopback clients exited (${signal ?? code}) before reading everything`)));
    });
    const short = answer.bytesRead.filter((n) => n !== bytes);
    if (answer.bytesRead.length !== clients || short.length > 0) {
      throw new Error(`loopback clients read ${answer.bytesRead.join(', ')} bytes, expected ${clients} x ${bytes}`);
    }
    const cpu = process.cpuUsage(cpu0);
    return { wallMs: answer.ms, writerCpuS: (cpu.user + cpu.system) / 1e6, readersCpuS: answer.cpuS };
  } finally {
    child.kill();
    await new Promise((resolve) => server.close(resolve));
  }
}

interface ClientsReport {
  readonly ms: number;
  readonly cpuS: number;
  /** What each client read before the end of stream. */
  readonly bytesRead: number[];
}

/** The client side, in the forked process: read to the end on every connection, then report. */
function runClients(port: number, clients: number): void {
  const start = performance.now();
  const bytesRead: number[] = [];
  let left = clients;
  for (let i = 0; i < clients; i++) {
    let read = 0;
    const socket = net.connect({
      port,
      host: '127.0.0.1',
      onread: { buffer: Buffer.allocUnsafe(READ_BYTES), callback: (n) => { read += n; return true; } },
    });
    socket.on('end', () => {
      socket.destroy();
      bytesRead.push(read);
      if (--left > 0) return;
      const cpu = process.cpuUsage();
      const report: ClientsReport = { ms: performance.now() - start, cpuS: (cpu.user + cpu.system) / 1e6, bytesRead };
      process.send?.(report, () => process.exit(0));
    });
  }
}

if (process.argv[2] === CHILD_MARK) {
  runClients(Number(process.argv[3]), Number(process.argv[4]));
} else if (require.main === module) {
  const clients = Number(process.argv[2] ?? 10);
  const size = Number(process.argv[3] ?? 334e6);
  const chunk = Number(process.argv[4] ?? CHUNK_BYTES);
  loopbackFloor(clients, size, chunk).then((f) => {
    process.stdout.write(`${clients} x ${(size / 1e6).toFixed(0)} MB over loopback in ${chunk / 1024} KiB writes: all done in ${(f.wallMs / 1000).toFixed(2)} s; `
      + `writer CPU ${f.writerCpuS.toFixed(2)} s, readers CPU ${f.readersCpuS.toFixed(2)} s\n`);
  }, (err: unknown) => {
    process.stderr.write(`loopback-floor: ${(err as Error).message}\n`);
    process.exit(1);
  });
}
