/**
 * man-db renders man/gmetad-ts.8 without a groff warning, and the rendered page shows every
 * option of the parser (test/unit/man-page.test.ts compares the roff source in detail).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { MAN_PAGE, parserOptions } from '../helpers/cli-options';

describe('man -l man/gmetad-ts.8', () => {
  it('renders without warnings and shows every option', () => {
    const result = spawnSync('man', ['--warnings', '-l', MAN_PAGE], {
      encoding: 'utf8',
      env: { ...process.env, MANWIDTH: '80', MANPAGER: 'cat', PAGER: 'cat', LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8' },
    });
    assert.equal(result.error, undefined, `man runs (Debian package man-db): ${result.error?.message}`);
    assert.equal(result.status, 0, `man exit status; stderr: ${result.stderr}`);
    assert.equal(result.stderr, '', 'no groff or man warnings');
    const text = result.stdout;
    assert.match(text, /^GMETAD-TS\(8\)\s+System Administration\s+GMETAD-TS\(8\)$/m);
    for (const heading of ['NAME', 'SYNOPSIS', 'DESCRIPTION', 'OPTIONS', 'SIGNALS', 'FILES', 'EXIT STATUS', 'SEE ALSO']) {
      assert.match(text, new RegExp(`^${heading}$`, 'm'), `section ${heading}`);
    }
    for (const option of parserOptions()) {
      const head = new RegExp(`^ {7}-${option.short}, --${option.long}${option.takesArgument ? ' \\w+' : ''}$`, 'm');
      assert.match(text, head, `rendered OPTIONS entry for --${option.long}`);
    }
  });
});
