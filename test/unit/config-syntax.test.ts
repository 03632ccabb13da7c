/** Lexer and statement grouping of gmetad.conf (dotconf rules + gmetad-python sections). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../src/config/errors';
import { parseStatements, type Statement } from '../../src/config/syntax';
import { tokenize, type Token } from '../../src/config/tokenize';

const FILE = '/etc/ganglia/gmetad.conf';

function lex(text: string, env: Record<string, string> = {}): Token[] {
  return tokenize(text, { file: FILE, env });
}

/** Each logical line as [line, ...word texts], braces shown as `{`/`}` markers. */
function lines(text: string, env: Record<string, string> = {}): (string | number)[][] {
  const out: (string | number)[][] = [];
  let current: (string | number)[] | null = null;
  for (const token of lex(text, env)) {
    if (token.kind === 'eol') {
      if (current !== null) out.push(current);
      current = null;
      continue;
    }
    current ??= [token.line];
    current.push(token.kind === 'word' ? token.text : token.kind === 'open' ? '<{>' : '<}>');
  }
  return out;
}

function statements(text: string): Statement[] {
  return parseStatements(lex(text), FILE);
}

function assertConfigError(fn: () => unknown, expected: { line: number; directive: string | null; message: string }): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof ConfigError, `expected ConfigError, got ${String(error)}`);
    assert.equal(error.code, 'GMETAD_CONFIG_INVALID');
    assert.equal(error.file, FILE);
    assert.equal(error.line, expected.line);
    assert.equal(error.directive, expected.directive);
    assert.equal(error.message, expected.message);
    return true;
  });
}

test('words, comments and blank lines carry their line numbers', () => {
  const text = [
    '# a comment',
    '',
    '   ',
    'gridname "G"   # trailing comment',
    'debug_level 1#glued comment',
    '  # indented comment',
    'trusted_hosts a\tb  c',
  ].join('\n');
  assert.deepEqual(lines(text), [
    [4, 'gridname', 'G'],
    [5, 'debug_level', '1'],
    [7, 'trusted_hosts', 'a', 'b', 'c'],
  ]);
});

test('quotes group spaces, may touch other text, and keep # and braces as text', () => {
  assert.deepEqual(lines(`data_source "my cluster" 20 host1:8649 host2`), [
    [1, 'data_source', 'my cluster', '20', 'host1:8649', 'host2'],
  ]);
  assert.deepEqual(lines(`x 'single "q"' a"b c"d "#not comment" "{" "}" "" `), [
    [1, 'x', 'single "q"', 'ab cd', '#not comment', '{', '}', ''],
  ]);
  const quoted = lex('x "{" {').filter((t) => t.kind !== 'eol');
  assert.deepEqual(quoted.map((t) => t.kind), ['word', 'word', 'open']);
});

test('backslash protects the next character, inside quotes too', () => {
  assert.deepEqual(lines(String.raw`x "a\"b" c\ d \# \{`), [[1, 'x', 'a"b', 'c d', '#', '{']]);
  const escapedBrace = lex(String.raw`x \{`).filter((t) => t.kind !== 'eol');
  assert.equal(escapedBrace[1]!.kind, 'word');
});

test('a trailing backslash continues the line; a continued comment swallows the next line', () => {
  const text = [
    'RRAs "RRA:AVERAGE:0.5:1:244" \\',
    '     "RRA:AVERAGE:0.5:24:244"',
    '# comment \\',
    'gridname "swallowed, as dotconf does"',
    'gridname "kept"',
  ].join('\n');
  assert.deepEqual(lines(text), [
    [1, 'RRAs', 'RRA:AVERAGE:0.5:1:244', 'RRA:AVERAGE:0.5:24:244'],
    [5, 'gridname', 'kept'],
  ]);
  // An escaped backslash at the end is a literal backslash, not a continuation.
  assert.deepEqual(lines('a b\\\\\nc d'), [[1, 'a', 'b\\'], [2, 'c', 'd']]);
});

test('CRLF line endings are accepted', () => {
  assert.deepEqual(lines('gridname "G"\r\nxml_port 1\r\n'), [[1, 'gridname', 'G'], [2, 'xml_port', '1']]);
});

test('${NAME} and ${NAME:-default} come from the environment; \\$ stays literal', () => {
  const env = { DIR: '/srv/rrds', EMPTY: '' };
  const text = 'rrd_rootdir ${DIR}/x "${MISSING:-/tmp}" ${MISSING}end ${EMPTY:-no} \\${DIR}';
  assert.deepEqual(lines(text, env), [[1, 'rrd_rootdir', '/srv/rrds/x', '/tmp', 'end', '', '${DIR}']]);
  assertConfigError(() => lex('rrd_rootdir ${DIR'), {
    line: 1,
    directive: 'rrd_rootdir',
    message: `${FILE}:1: rrd_rootdir: unterminated "\${" (expected \${NAME} or \${NAME:-default})`,
  });
});

test('an open quote takes the rest of the line, as in the C gmetad (dotconf), with a warning naming file and line', () => {
  const warnings: string[] = [];
  const tokens = tokenize('# ok\ngraphite_path ""datacenter1.gmetad.%s.%h.%m"\ngridname "My Grid\nx \'a b\n',
    { file: FILE, env: {}, onWarning: (w) => warnings.push(w.message) });
  const words = tokens.filter((t) => t.kind === 'word').map((t) => (t.kind === 'word' ? t.text : ''));
  assert.deepEqual(words, ['graphite_path', 'datacenter1.gmetad.%s.%h.%m', 'gridname', 'My Grid', 'x', 'a b']);
  assert.deepEqual(warnings, [
    `${FILE}:2: graphite_path: unterminated double-quoted string: the rest of the line is taken as the value ("datacenter1.gmetad.%s.%h.%m"), as the C gmetad does (which also keeps the line end in it)`,
    `${FILE}:3: gridname: unterminated double-quoted string: the rest of the line is taken as the value ("My Grid"), as the C gmetad does (which also keeps the line end in it)`,
    `${FILE}:4: x: unterminated single-quoted string: the rest of the line is taken as the value ("a b"), as the C gmetad does (which also keeps the line end in it)`,
  ]);
});

test('sections: brace on the same line, on the next line, or a one-line section', () => {
  const text = [
    'data_source "a" localhost',
    'rrd {',
    '  rrd_rootdir "/x y"',
    '  flag',
    '}',
    'rrdsummary',
    '{',
    '  enabled yes',
    '}',
    'alert { threshold 5 }',
    'empty {',
    '}',
    'lonely_directive',
  ].join('\n');
  assert.deepEqual(statements(text), [
    { kind: 'directive', key: 'data_source', values: ['a', 'localhost'], line: 1 },
    {
      kind: 'section', name: 'rrd', line: 2, directives: [
        { kind: 'directive', key: 'rrd_rootdir', values: ['/x y'], line: 3 },
        { kind: 'directive', key: 'flag', values: [], line: 4 },
      ],
    },
    { kind: 'section', name: 'rrdsummary', line: 6, directives: [{ kind: 'directive', key: 'enabled', values: ['yes'], line: 8 }] },
    { kind: 'section', name: 'alert', line: 10, directives: [{ kind: 'directive', key: 'threshold', values: ['5'], line: 10 }] },
    { kind: 'section', name: 'empty', line: 11, directives: [] },
    { kind: 'directive', key: 'lonely_directive', values: [], line: 13 },
  ]);
});

test('section syntax errors name the line and the section', () => {
  assertConfigError(() => statements('rrd {\n  x 1\n'), {
    line: 1, directive: 'rrd', message: `${FILE}:1: rrd: section "rrd" is never closed with "}"`,
  });
  assertConfigError(() => statements('gridname "G"\n}\n'), {
    line: 2, directive: null, message: `${FILE}:2: "}" without an open section`,
  });
  assertConfigError(() => statements('{\n}\n'), {
    line: 1, directive: null, message: `${FILE}:1: "{" without a section name before it`,
  });
  assertConfigError(() => statements('outer {\n  inner {\n  }\n}\n'), {
    line: 2, directive: 'inner', message: `${FILE}:2: inner: nested "{" inside section "outer" (opened at line 1)`,
  });
  assertConfigError(() => statements('my plugin {\n}\n'), {
    line: 1, directive: 'my', message: `${FILE}:1: my: a section name is a single word followed by "{", got 2 words`,
  });
});
