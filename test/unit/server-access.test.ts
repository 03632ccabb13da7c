import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createAccessPolicy } from '../../src/server/access';
import type { StructuredLogger } from '../../src/util/logging';

const warnings: string[] = [];
const logger: StructuredLogger = { debug: () => undefined, info: () => undefined, warn: (fields: object | string, m?: string) => { warnings.push(m ?? String(fields)); }, error: () => undefined };

test('loopback is always trusted, others only when listed', async () => {
  const p = createAccessPolicy({ trustedHosts: [], allTrusted: false, logger });
  await p.refresh();
  for (const a of ['127.0.0.1', '::1', '::ffff:127.0.0.1']) assert.equal(p.isTrusted(a), true, a);
  // As the C gmetad: 127.0.0.1 only, not the rest of 127/8.
  for (const a of ['127.1.2.3', '127.0.0.2', '::ffff:127.0.1.1']) assert.equal(p.isTrusted(a), false, a);
  for (const a of ['10.0.0.1', '::2', '::ffff:10.0.0.1', '', 'not-an-ip']) assert.equal(p.isTrusted(a), false, a);
});

test('all_trusted lets everyone in', () => {
  const p = createAccessPolicy({ trustedHosts: [], allTrusted: true, logger });
  assert.equal(p.isTrusted('203.0.113.9'), true);
});

test('trusted_hosts: literals (IPv4, IPv6, mapped), and names resolved to every address', async () => {
  const lookups: string[] = [];
  const p = createAccessPolicy({
    trustedHosts: ['192.0.2.1', '2001:db8::1', 'web.example', 'nowhere.invalid'],
    allTrusted: false,
    logger,
    lookup: async (name) => {
      lookups.push(name);
      if (name === 'web.example') return [{ address: '198.51.100.7', family: 4 }, { address: '2001:db8:0:0::7', family: 6 }];
      throw new Error('ENOTFOUND');
    },
  });
  // literals count before the first refresh
  assert.equal(p.isTrusted('192.0.2.1'), true);
  assert.equal(p.isTrusted('198.51.100.7'), false);
  await p.refresh();
  assert.deepEqual(lookups.sort(), ['nowhere.invalid', 'web.example']);
  assert.equal(p.isTrusted('192.0.2.1'), true);
  assert.equal(p.isTrusted('::ffff:192.0.2.1'), true);
  assert.equal(p.isTrusted('2001:0db8:0000::0001'), true);
  assert.equal(p.isTrusted('198.51.100.7'), true);
  assert.equal(p.isTrusted('::ffff:198.51.100.7'), true);
  assert.equal(p.isTrusted('2001:db8::7'), true);
  assert.equal(p.isTrusted('198.51.100.8'), false);
  assert.ok(warnings.some((w) => w.includes('nowhere.invalid')));
});

test('real resolver: localhost names resolve', async () => {
  const p = createAccessPolicy({ trustedHosts: ['localhost'], allTrusted: false, logger });
  await p.refresh();
  assert.equal(p.isTrusted('127.0.0.1'), true);
});
