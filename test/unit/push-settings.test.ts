import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import type { PluginSection } from '../../src/config/types';
import { parseHttpUrl, readPushSettings } from '../../src/plugins/push/push-settings';
import { SectionSettings } from '../../src/plugins/settings';

function section(directives: [string, ...string[]][]): SectionSettings {
  const sections: PluginSection[] = [{
    name: 'remote_write', origin: '/etc/gmetad.conf:20',
    directives: directives.map(([key, ...values], i) => ({ key, values, origin: `/etc/gmetad.conf:${21 + i}` })),
  }];
  return new SectionSettings(sections, 'remote_write', '/etc/gmetad.conf');
}

const DEFAULTS = { batchSize: 2000, maxQueuedValues: 500_000 };

function read(directives: [string, ...string[]][]) {
  const settings = section(directives);
  const url = parseHttpUrl(settings, 'url', settings.string('url'), 'http://x');
  return readPushSettings(settings, url, DEFAULTS);
}

test('defaults, durations and sizes', () => {
  const s = read([['url', 'http://vm:8428/api/v1/write']]);
  assert.deepEqual({ ...s, url: s.url.href }, {
    url: 'http://vm:8428/api/v1/write', headers: {}, timeoutMs: 10_000, batchSize: 2000, maxQueuedValues: 500_000, flushTimeoutMs: 10_000,
  });
  const t = read([['url', 'https://x/'], ['timeout', '500ms'], ['flush_timeout', '1m'], ['batch_size', '10'], ['max_queued_values', '99']]);
  assert.deepEqual([t.timeoutMs, t.flushTimeoutMs, t.batchSize, t.maxQueuedValues], [500, 60_000, 10, 99]);
});

test('authentication: URL credentials, username/password, bearer token or file; extra headers', () => {
  const fromUrl = read([['url', 'http://u%40x:p%20w@vm/api/v1/write']]);
  assert.equal(fromUrl.url.href, 'http://vm/api/v1/write', 'credentials taken out of the URL');
  assert.equal(fromUrl.headers.Authorization, `Basic ${Buffer.from('u@x:p w').toString('base64')}`);
  assert.equal(read([['url', 'http://vm/'], ['bearer_token', 'abc']]).headers.Authorization, 'Bearer abc');
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'gmetad-ts-token-')), 'token');
  fs.writeFileSync(file, 'from-file\n');
  assert.equal(read([['url', 'http://vm/'], ['bearer_token_file', file]]).headers.Authorization, 'Bearer from-file');
  fs.rmSync(path.dirname(file), { recursive: true });
  assert.deepEqual(read([['url', 'http://vm/'], ['header', 'X-Scope-OrgID', 'team'], ['header', 'X-Other', '1']]).headers,
    { 'X-Scope-OrgID': 'team', 'X-Other': '1' });
});

test('bad settings name their file and line', () => {
  const fails = (directives: [string, ...string[]][], message: string) =>
    assert.throws(() => read(directives), (err: Error) => err.message === message, message);
  fails([['url', 'ftp://x/']], '/etc/gmetad.conf:21: remote_write { url }: expected an http:// or https:// URL, got "ftp://x/"');
  fails([], '/etc/gmetad.conf:20: remote_write: "url" is required (for example "http://x")');
  fails([['url', 'http://x/'], ['username', 'u'], ['bearer_token', 't']],
    '/etc/gmetad.conf:23: remote_write { bearer_token }: set basic auth (username/password) or a bearer token, not both');
  fails([['url', 'http://x/'], ['password', 'p']], '/etc/gmetad.conf:22: remote_write { password }: needs a username');
  fails([['url', 'http://x/'], ['header', 'Bad Header', 'v']],
    '/etc/gmetad.conf:22: remote_write { header }: expected a header name and a value: header "X-Scope-OrgID" "tenant-1"');
  fails([['url', 'http://x/'], ['bearer_token_file', '/nonexistent/token']],
    '/etc/gmetad.conf:22: remote_write { bearer_token_file }: cannot read /nonexistent/token: ENOENT');
});
