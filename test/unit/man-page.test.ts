/**
 * The man page (man/gmetad-ts.8) and the README's option table document exactly the options
 * the command line parser knows, with the same short names, arguments and default: adding,
 * renaming or removing an option in src/cli/main.ts without the documentation fails here.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DEFAULT_CONF, packageVersion } from '../../src/cli/main';
import { MAN_PAGE, optionTable, parserOptions, type OptionDoc } from '../helpers/cli-options';

const ROOT = path.resolve(__dirname, '..', '..', '..');

/**
 * The text of one roff line of this page: font macros (.B, .BR, .IR, ...) join their
 * arguments without spaces (quoted arguments keep theirs); font escapes and \- are removed.
 */
function deroff(line: string): string {
  const macro = /^\.(BR|RB|IR|RI|B|I)\s+(.*)$/.exec(line);
  const text = macro ? [...macro[2]!.matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2]).join('') : line;
  return text.replace(/\\f[BIRP]/g, '').replace(/\\-/g, '-');
}

/** The roff lines of one section (.SH NAME up to the next .SH). */
function section(roff: string, name: string): string[] {
  const lines = roff.split('\n');
  const start = lines.indexOf(`.SH ${name}`);
  assert.ok(start >= 0, `the man page has a ${name} section`);
  const end = lines.findIndex((line, i) => i > start && line.startsWith('.SH '));
  return lines.slice(start + 1, end < 0 ? undefined : end);
}

/** The option heads of the OPTIONS section: the line after each .TP, e.g. "-c, --conf file". */
function manPageOptions(roff: string): OptionDoc[] {
  const lines = section(roff, 'OPTIONS');
  const docs: OptionDoc[] = [];
  lines.forEach((line, i) => {
    if (line !== '.TP') return;
    const head = deroff(lines[i + 1] ?? '').trim();
    const match = /^-(\w), --([\w-]+)(?: (\w+))?$/.exec(head);
    assert.ok(match, `OPTIONS entry "${head}" reads "-x, --long [argument]"`);
    docs.push({ long: match[2]!, short: match[1]!, takesArgument: match[3] !== undefined });
  });
  return docs.sort((a, b) => a.long.localeCompare(b.long));
}

describe('man page and README against the option parser', () => {
  const roff = fs.readFileSync(MAN_PAGE, 'utf8');

  it('the parser table is what this test expects to read', () => {
    // Guards the reading above: if yargs changed how it reports options, say so here.
    const options = parserOptions();
    assert.ok(options.length >= 8, `${options.length} options`);
    assert.deepEqual(options.find((o) => o.long === 'conf'), { long: 'conf', short: 'c', takesArgument: true });
    assert.deepEqual(options.find((o) => o.long === 'test'), { long: 'test', short: 't', takesArgument: false });
  });

  it('OPTIONS lists exactly the parser options, with their short names and arguments', () => {
    assert.deepEqual(manPageOptions(roff), parserOptions());
  });

  it('a changed option table would be caught (the comparison is not vacuous)', () => {
    const withExtra = roff.replace('.SH SIGNALS', '.TP\n.BR \\-z ", " \\-\\-zzz\nNot an option.\n.SH SIGNALS');
    assert.notDeepEqual(manPageOptions(withExtra), parserOptions());
    const withoutConf = roff.replace(/\.TP\n\.BR \\-c[^\n]*\n/, '');
    assert.notDeepEqual(manPageOptions(withoutConf), parserOptions());
  });

  it('the SYNOPSIS names every option', () => {
    const synopsis = section(roff, 'SYNOPSIS').map(deroff).join(' ');
    for (const option of parserOptions()) {
      assert.ok(new RegExp(`-${option.short}\\b`).test(synopsis), `SYNOPSIS shows -${option.short}`);
    }
  });

  it('documents the default configuration file and the package version', () => {
    const options = section(roff, 'OPTIONS').join('\n');
    assert.ok(options.includes(DEFAULT_CONF), `OPTIONS names the default ${DEFAULT_CONF}`);
    assert.equal(optionTable().default.conf, DEFAULT_CONF);
    const th = roff.split('\n').find((line) => line.startsWith('.TH '));
    assert.ok(th?.includes(`"gmetad-ts ${packageVersion()}"`), `.TH names gmetad-ts ${packageVersion()}: ${th}`);
  });

  it("the README's option table lists every option", () => {
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const rows = readme.split('\n').filter((line) => line.startsWith('| `-'));
    for (const option of parserOptions()) {
      const named = `\`-${option.short}, --${option.long}`;
      assert.ok(rows.some((row) => row.includes(named)), `README table has ${named}`);
    }
  });
});
