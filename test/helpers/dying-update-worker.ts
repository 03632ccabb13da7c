/**
 * A fault the real update worker cannot be made to produce: a worker that ends (exit code 3)
 * on the first batch it receives, without answering. For the update thread's recovery test.
 */
import { parentPort } from 'node:worker_threads';

parentPort?.on('message', () => process.exit(3));
