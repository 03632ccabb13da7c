/**
 * The floor under concurrent full dumps on this machine: N clients (in a child process, as
 * far from the server as the benchmark's) each read SIZE bytes over loopback, written from
 * one shared list of ready 256 KiB buffers, so nothing is rendered. Prints the wall time
 * and the CPU of the writing and the reading side.
 *   node dist/bench/loopback-floor.js [clients=10] [bytes=334000000]
 */
import { fork } from 'node:child_process';
import * as net from 'node:net';
import { CHUNK_BYTES } from '../src/server/chunked-output';

const clients = Number(process.argv[2] ?? 10);
const size = Number(process.argv[3] ?? 334e6);
const CHUNK = Number(process.argv[4] ?? CHUNK_BYTES);
const READ_BYTES = 256 * 1024;

function runClients(port: number): void {
  const start = performance.now();
  let left = clients;
  for (let i = 0; i < clients; i++) {
    const socket = net.connect({ port, host: '127.0.0.1', onread: { buffer: Buffer.allocUnsafe(READ_BYTES), callback: () => true } });
    socket.on('end', () => {
      socket.destroy();
      if (--left > 0) return;
      const cpu = process.cpuUsage();
      process.send?.({ ms: performance.now() - start, cpuS: (cpu.user + cpu.system) / 1e6 });
    });
  }
}

function runServer(): void {
  const chunks: Buffer[] = [];
  for (let at = 0; at < size; at += CHUNK) chunks.push(Buffer.alloc(Math.min(CHUNK, size - at), 0x41));
  const server = net.createServer(async (socket) => {
    for (const chunk of chunks) {
      if (!socket.write(chunk)) await new Promise((resolve) => socket.once('drain', resolve));
    }
    socket.end();
  });
  server.listen(0, '127.0.0.1', () => {
    const cpu0 = process.cpuUsage();
    const port = (server.address() as net.AddressInfo).port;
    const child = fork(__filename, [String(clients), String(size), String(CHUNK), 'clients', String(port)]);
    child.on('message', (m: { ms: number; cpuS: number }) => {
      const cpu = process.cpuUsage(cpu0);
      process.stdout.write(`${clients} x ${(size / 1e6).toFixed(0)} MB over loopback in ${CHUNK / 1024} KiB writes: all done in ${(m.ms / 1000).toFixed(2)} s; `
        + `writer CPU ${((cpu.user + cpu.system) / 1e6).toFixed(2)} s, readers CPU ${m.cpuS.toFixed(2)} s\n`);
      child.kill();
      server.close();
    });
  });
}

if (process.argv[5] === 'clients') runClients(Number(process.argv[6]));
else runServer();
