/**
 * `npm run import -- --model <m> --file <path> [--base-url <url> --token <key>] [--resume]`: see lib/import/importer.ts.
 * Exit code: 0 when every row was accepted, 1 when some were rejected (see the rejects file), 2 when the import failed,
 * 130 when it was interrupted (Ctrl-C, SIGINT), 143 when it was stopped (SIGTERM: `timeout`, a CI runner, systemd).
 */
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { Presets, SingleBar } from 'cli-progress';
import { Command } from 'commander';
import { notBlank, pathFromCaller, refuseRepeatedOptions, usageErrorsExitWith, wholeNumber } from '../cli-options.js';
import { apiTarget } from '../local/dev-json.js';
import { printable } from '../terminal-text.js';
import { FatalImportError } from './batch-sender.js';
import { resumableRows, rowCount, runImport, stateFileOf, type ImportProgress } from './importer.js';
import { formatOf } from './read-rows.js';

function progressBar(): ImportProgress {
  const bar = new SingleBar(
    {
      format: 'importing {bar} {percentage}% | {value}/{total} rows | {rate} rows/s | {created} created, {updated} updated, {rejected} rejected{note}',
      hideCursor: true,
      noTTYOutput: true,
      notTTYSchedule: 2000,
      etaBuffer: 50,
    },
    Presets.shades_classic,
  );
  let started = 0;
  let startValue = 0;
  let running = false;
  const rate = (value: number) => Math.round((value - startValue) / Math.max((performance.now() - started) / 1000, 0.001));
  return {
    start: (total, skipped) => {
      started = performance.now();
      startValue = skipped;
      running = true;
      if (skipped > 0) console.log(`Resuming after ${rowCount(skipped)} acknowledged`);
      bar.start(total, skipped, { rate: 0, created: 0, updated: 0, rejected: 0, note: '' });
    },
    update: (done, counts) => bar.update(done, { rate: rate(done), ...counts, note: '' }),
    // Before the bar starts (the model's lookup), a line of its own, so that an API answering 503 is not silence.
    retry: (status, delayMs) =>
      running
        ? bar.update({ note: ` | retrying after ${status} in ${(delayMs / 1000).toFixed(1)} s` })
        : console.error(`The API answered ${status} to the model's lookup; trying again in ${(delayMs / 1000).toFixed(1)} s`),
    stop: () => bar.stop(),
  };
}

/** What an interrupted import's state file holds, as the hint to resume it says. */
const savedRows = (acknowledged: number): string =>
  acknowledged > 0
    ? `${rowCount(acknowledged)} acknowledged so far ${acknowledged === 1 ? 'is' : 'are'} saved`
    : 'No row is acknowledged yet, but the API has answered part of the import, under keys --resume sends again';

/**
 * Whether two paths name one file: for files that exist, by device and inode (a symbolic or hard link, or another
 * spelling on a case-insensitive file system, is the same file); otherwise by their resolved paths.
 */
function samePath(a: string, b: string): boolean {
  if (existsSync(a) && existsSync(b)) {
    const [x, y] = [statSync(a), statSync(b)];
    return x.dev === y.dev && x.ino === y.ino;
  }
  return resolve(a) === resolve(b);
}

const program = usageErrorsExitWith(2, new Command('import')
  .description('Import a CSV (header row = field names) or JSON Lines file into a model, in batches')
  .requiredOption('--model <name>', 'the model to import into')
  .requiredOption('--file <path>', 'a .csv or .jsonl file')
  .option('--format <format>', 'csv or jsonl (default: from the file name)')
  // An empty value (`--base-url "$URL"` with URL unset) is refused, not taken for the local stack.
  .option('--base-url <url>', 'the API (default: the local stack, from $DATA_DIR/dev.json)', notBlank("the API's URL"))
  .option('--token <key>', 'an API key with records:read and records:write (default: the local dev key)', notBlank('a key'))
  .option('--rejects <path>', 'where rejected rows go (default: <file>.rejects.jsonl)')
  .option('--resume', 'continue an interrupted import without resending what was acknowledged')
  // The API takes at most 1,000 items per batch; more than 16 batches in flight only queue at the stage's throttle.
  .option('--batch-size <rows>', 'rows per batch, 1 to 1000 (default: 500, or the interrupted run\'s with --resume)', wholeNumber(1, 1000))
  .option('--concurrency <n>', 'batches in flight, 1 to 16', wholeNumber(1, 16), 4));

try {
  refuseRepeatedOptions(program).parse();
  const options = program.opts<{
    model: string; file: string; format?: string; baseUrl?: string; token?: string; rejects?: string; resume?: boolean; batchSize?: number; concurrency: number;
  }>();
  const { baseUrl, token, problem } = apiTarget(options, process.env.GATHER_TOKEN);
  if (problem !== undefined || !baseUrl || !token) throw new FatalImportError(`Nothing to import into: ${problem}`);
  // npm runs scripts from the package's root; paths are the caller's, from where `npm run` was typed (INIT_CWD).
  const file = pathFromCaller(options.file);
  if (!existsSync(file)) throw new FatalImportError(`No such file: ${file}`);
  if (!statSync(file).isFile()) throw new FatalImportError(`${file} is not a file`);
  const rejectsFile = options.rejects !== undefined ? pathFromCaller(options.rejects) : `${file}.rejects.jsonl`;
  if (samePath(rejectsFile, file) || samePath(rejectsFile, stateFileOf(file))) {
    throw new FatalImportError(`--rejects ${options.rejects} is the file being imported or its state file; rejected rows would overwrite it`);
  }
  let format;
  try {
    format = formatOf(file, options.format);
  } catch (error) {
    throw new FatalImportError((error as Error).message);
  }
  const progress = progressBar();
  const stop = (signal: 'SIGINT' | 'SIGTERM') => () => {
    progress.stop();
    // What the state file holds, as --resume will read it: before the API answers a batch, a new run has changed
    // nothing, and an earlier interrupted run of this command (if any) is still the one --resume takes up.
    const acknowledged = resumableRows(file, options.model, format);
    const stopped = signal === 'SIGINT' ? 'Interrupted' : 'Stopped (SIGTERM)';
    console.error(
      acknowledged !== undefined
        ? `\n${stopped}. ${savedRows(acknowledged)}: run the same command with --resume to go on (a batch that was in flight is sent again under its Idempotency-Key, so the API answers it as it ran it).`
        : `\n${stopped} before the API answered any batch: run the same command again to start over.`,
    );
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', stop('SIGINT'));
  process.once('SIGTERM', stop('SIGTERM'));
  const summary = await runImport({
    file,
    format,
    model: options.model,
    baseUrl,
    token,
    rejectsFile,
    resume: options.resume ?? false,
    ...(options.batchSize !== undefined ? { batchSize: options.batchSize } : {}),
    notice: (text: string) => console.error(text),
    concurrency: options.concurrency,
    progress,
  });
  console.log(
    `Done: ${rowCount(summary.processed)} in ${summary.seconds.toFixed(1)} s (${Math.round(summary.rowsPerSecond)} rows/s)` +
      (summary.skipped > 0 ? `, after ${rowCount(summary.skipped)} acknowledged by an earlier run` : '') +
      `. Whole file: ${summary.total} rows, ${summary.created} created, ${summary.updated} updated or unchanged, ${summary.rejected} rejected` +
      (summary.rejected > 0 ? ` (see ${rejectsFile})` : ''),
  );
  process.exitCode = summary.rejected > 0 ? 1 : 0;
} catch (error) {
  // A fatal error's one line may quote the file's header or the API's answer: shown, never obeyed by the terminal.
  console.error(`error: ${error instanceof FatalImportError ? printable(error.message) : ((error as Error).stack ?? String(error))}`);
  // Only an import whose state file was begun (the API answered one of its batches, in whole or in part) has somewhere
  // to continue from, and not when the resume itself was refused: a run refused at its first batch (a read-only key),
  // or one that never reached the API, has not.
  const { file, resume, model, format } = program.opts<{ file?: string; resume?: boolean; model?: string; format?: string }>();
  let acknowledged: number | undefined;
  if (file !== undefined && model !== undefined && !resume) {
    try {
      acknowledged = resumableRows(pathFromCaller(file), model, formatOf(pathFromCaller(file), format));
    } catch {
      // No format to read the file by: nothing --resume could take up either.
    }
  }
  if (acknowledged !== undefined) console.error(`The import can continue where it stopped. ${savedRows(acknowledged)}: run the same command with --resume`);
  process.exitCode = 2;
}
