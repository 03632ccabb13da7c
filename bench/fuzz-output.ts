/**
 * The output property test, for minutes instead of the suite's few hundred documents:
 * random and mutated source documents -> parser -> store -> XML port and interactive port
 * (real sockets) -> every reply parsed strictly by sax and, when python3 is present, by
 * expat (the parser the C gmetad and gweb's PHP use). Stops at the first malformed reply
 * and prints the seed and document number to replay it.
 *
 *   node dist/bench/fuzz-output.js [--seconds 300] [--seed N]
 */
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import { Fuzz, seededRandom } from '../test/helpers/hostile-docs';
import { type DumpCheck, startOutputFuzzer } from '../test/helpers/output-fuzz';
import { intOption } from './options';

/** expat in a python3 child: documents framed by their length, answers "ok" or the error. */
const EXPAT_CHECKER = `
import sys, xml.parsers.expat
inp, out = sys.stdin.buffer, sys.stdout
while True:
    head = inp.readline()
    if not head: break
    data = inp.read(int(head))
    p = xml.parsers.expat.ParserCreate()
    try:
        p.Parse(data, True); out.write("ok\\n")
    except xml.parsers.expat.ExpatError as e:
        out.write("%s\\n" % e)
    out.flush()
`;

function startExpat(): { check: DumpCheck; stop: () => void } | null {
  const child = spawn('python3', ['-c', EXPAT_CHECKER], { stdio: ['pipe', 'pipe', 'inherit'] });
  let failed = false;
  child.on('error', () => { failed = true; });
  let buffered = '';
  const waiting: ((line: string) => void)[] = [];
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (text: string) => {
    buffered += text;
    for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      waiting.shift()?.(line);
    }
  });
  return {
    check: async (bytes, what) => {
      if (failed) return;
      const answer = await new Promise<string>((resolve) => {
        waiting.push(resolve);
        child.stdin.write(`${bytes.length}\n`);
        child.stdin.write(bytes);
      });
      if (answer !== 'ok') throw new Error(`${what}: expat: ${answer}`);
    },
    stop: () => { child.stdin.end(); child.kill(); },
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { seconds: { type: 'string', default: '300' }, seed: { type: 'string' } } });
  const seconds = intOption('seconds', values.seconds, 1);
  const seed = values.seed !== undefined ? intOption('seed', values.seed, 0) : Math.floor(Math.random() * 2 ** 31);
  const expat = startExpat();
  const fuzzer = await startOutputFuzzer(expat?.check);
  const f = new Fuzz(seededRandom(seed));
  const until = Date.now() + seconds * 1000;
  let i = 0;
  let code = 0;
  try {
    for (; Date.now() < until; i++) {
      await fuzzer.runOne(f);
      if (i % 1000 === 999) process.stdout.write(`${JSON.stringify(fuzzer.counts)}\n`);
    }
    process.stdout.write(`seed ${seed}: ${seconds} s, every reply well-formed (sax strict${expat ? ' + expat' : ''}): ${JSON.stringify(fuzzer.counts)}\n`);
  } catch (err) {
    process.stdout.write(`FAILED at seed ${seed}, document ${i}: ${(err as Error).message}\n`);
    code = 1;
  } finally {
    await fuzzer.close();
    expat?.stop();
  }
  process.exit(code);
}

void main();
