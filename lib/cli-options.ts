/**
 * What the operator scripts (`npm run import`, `smoke`, `soak`, `admin`) read from their command line the same way. Kept apart
 * from lib/config.ts, which the Lambda functions import: commander has no place in their bundles.
 */
import { resolve } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';

/**
 * A path a user typed on a script's command line, from the directory where `npm run` was typed (npm runs scripts from
 * the package's root and says where it was called in INIT_CWD).
 */
export const pathFromCaller = (path: string): string => resolve(process.env.INIT_CWD ?? process.cwd(), path);

/** A commander parser for a whole number within [min, max]; anything else is refused before the script starts. */
export function wholeNumber(min: number, max: number) {
  return (value: string): number => {
    if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) throw new InvalidArgumentError(`must be a whole number from ${min} to ${max}`);
    return Number(value);
  };
}

/**
 * A commander parser that refuses an empty or blank value. `--table "$TABLE"` with TABLE unset passes an empty string,
 * which must not quietly mean "no --table" (the admin CLI would then work on the local stack).
 */
export function notBlank(what: string) {
  return (value: string): string => {
    if (value.trim() === '') throw new InvalidArgumentError(`Give ${what}, or leave the option out.`);
    return value;
  };
}

/**
 * Makes a command and its subcommands refuse an option that takes a value when it is given twice. Commander keeps the
 * last one without a word, so `token create --workspace a --workspace b` would make the key in b, and `--scopes x
 * --scopes y` would drop x: an operator's slip is refused, as two Authorization headers are. Call it once the command's
 * subcommands and options are all defined.
 */
export function refuseRepeatedOptions(command: Command): Command {
  for (const option of command.options) {
    if (option.negate || option.variadic || !(option.required || option.optional)) continue;
    let given = 0;
    command.on(`option:${option.name()}`, () => {
      given += 1;
      if (given > 1) command.error(`error: option '${option.long ?? option.flags}' was given more than once`, { code: 'gather.repeatedOption' });
    });
  }
  for (const subcommand of command.commands) refuseRepeatedOptions(subcommand);
  return command;
}

/**
 * Makes a command's usage errors (an unknown, repeated or out-of-range option) exit with `code` instead of commander's
 * 1, which `npm run smoke`, `soak` and `import` give when they ran and found the API failing (or rows refused): a
 * scheduled caller can then tell a broken command line from a broken API. Help still exits 0.
 */
export function usageErrorsExitWith(code: number, command: Command): Command {
  return command.exitOverride((error) => process.exit(error.exitCode === 0 ? 0 : code));
}
