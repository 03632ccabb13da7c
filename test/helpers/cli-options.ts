/**
 * The command line options as the parser in src/cli/main.ts knows them, for the tests that
 * keep the man page and the README in step with it.
 */
import * as path from 'node:path';
import assert from 'node:assert/strict';
import { cliParser } from '../../src/cli/main';

export const MAN_PAGE = path.resolve(__dirname, '..', '..', '..', 'man', 'gmetad-ts.8');

/** One option as documented or as parsed: long name, one-letter alias, takes an argument. */
export interface OptionDoc {
  readonly long: string;
  readonly short: string;
  readonly takesArgument: boolean;
}

/** yargs 17's own record of the options it was given (not in @types/yargs). */
export interface YargsOptionTable {
  readonly key: Record<string, unknown>;
  readonly alias: Record<string, string[]>;
  readonly boolean: string[];
  readonly default: Record<string, unknown>;
}

export function optionTable(): YargsOptionTable {
  return (cliParser([]) as unknown as { getOptions(): YargsOptionTable }).getOptions();
}

/** What yargs knows: every option with its alias and type (the table in cliParser). */
export function parserOptions(): OptionDoc[] {
  const table = optionTable();
  const shorts = new Set(Object.values(table.alias).flat().filter((name) => name.length === 1));
  const longs = Object.keys(table.key).filter((name) => name.length > 1 && !shorts.has(name));
  return longs
    .map((long) => {
      const aliases = (table.alias[long] ?? []).filter((name) => name.length === 1);
      assert.equal(aliases.length, 1, `--${long} has one one-letter alias`);
      return { long, short: aliases[0]!, takesArgument: !table.boolean.includes(long) };
    })
    .sort((a, b) => a.long.localeCompare(b.long));
}
