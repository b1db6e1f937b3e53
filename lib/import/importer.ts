/**
 * The importer: reads a CSV or JSON Lines file, checks each row as the API would store it (with the API's own code:
 * CSV strings coerced to the declared types), sends batches with bounded concurrency, writes rejected rows with their
 * line and error to a rejects file, and checkpoints the acknowledged prefix of the file so `--resume` continues
 * without resending it.
 */
import { appendFileSync, existsSync, lstatSync, readFileSync, renameSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import type { FieldType } from '../models/model-definition.js';
import { normalizeId } from '../records/record-id.js';
import type { FieldIssue } from '../records/errors.js';
import { storableFieldValue } from '../records/payload.js';
import { claimPidLock } from '../pid-lock.js';
import { clipped } from '../terminal-text.js';
import { envelopeError, FatalImportError, fetchRetrying, modelUrl, sendBatch, type SenderOptions } from './batch-sender.js';
import { assertUtf8, countRows, csvHeader, readRows, type ImportFormat, type Row } from './read-rows.js';

export interface ImportOptions {
  readonly file: string;
  readonly format: ImportFormat;
  readonly model: string;
  readonly baseUrl: string;
  readonly token: string;
  readonly rejectsFile: string;
  readonly resume: boolean;
  /** Rows per batch. @default 500, or with `resume` the interrupted run's */
  readonly batchSize?: number;
  /** Batches in flight. @default 4 */
  readonly concurrency?: number;
  readonly sender?: Partial<SenderOptions>;
  readonly progress?: ImportProgress;
  /** Told what the user should know before the import starts. */
  readonly notice?: (text: string) => void;
}

export interface ImportProgress {
  start(total: number, skipped: number): void;
  update(done: number, counts: ImportCounts): void;
  retry(status: number | string, delayMs: number): void;
  stop(): void;
}

export interface ImportCounts {
  created: number;
  updated: number;
  rejected: number;
}

export interface ImportSummary extends ImportCounts {
  readonly total: number;
  /** Rows skipped because an earlier run had them acknowledged (--resume). */
  readonly skipped: number;
  /** Rows read and sent or rejected by this run. */
  readonly processed: number;
  readonly seconds: number;
  readonly rowsPerSecond: number;
}

interface State {
  readonly version: 1;
  readonly file: string;
  readonly size: number;
  readonly mtimeMs: number;
  readonly model: string;
  /** Absent in a state file from before it was recorded (CSV and JSON Lines count their rows differently). */
  readonly format?: ImportFormat;
  /**
   * The run's id, in every batch's Idempotency-Key: --resume sends the batches it takes up under the keys they had, so
   * a batch the interrupted run had sent is answered as it was, not written again. Absent in a state file from before.
   */
  runId?: string;
  /** What cuts the run's batches and shapes their bodies: --resume sends the same requests under the same keys. */
  batchSize?: number;
  modelShape?: string;
  /**
   * The rejects file as of this state: its path and how many bytes of it the acknowledged rows wrote. The file is
   * appended to before the state is written, so a run killed between the two leaves lines the state does not count;
   * --resume cuts the file back to this length, and those rows are answered and written again. Absent from before.
   */
  rejects?: { readonly path: string; bytes: number };
  acknowledged: number;
  created: number;
  updated: number;
  rejected: number;
}

export const stateFileOf = (file: string) => `${file}.import-state.json`;

/** An interrupted import's saved state: undefined when there is none, `unreadable` when it does not parse. */
function readState(statePath: string): State | 'unreadable' | undefined {
  if (!existsSync(statePath)) return undefined;
  try {
    const state = JSON.parse(readFileSync(statePath, 'utf8')) as State;
    return typeof state === 'object' && state !== null && typeof state.acknowledged === 'number' ? state : 'unreadable';
  } catch {
    return 'unreadable';
  }
}

/**
 * How many rows an interrupted import of this file into this model has acknowledged, as `--resume` would take them up
 * (0 when the API has answered part of it, a batch with items to send again, but no row yet); undefined when there is
 * nothing to resume: no state file, an unreadable one, or one for another model, format or version of the file.
 */
export function resumableRows(file: string, model: string, format: ImportFormat): number | undefined {
  const state = readState(stateFileOf(file));
  const stats = statSync(file, { throwIfNoEntry: false });
  return typeof state === 'object' && stats !== undefined && mismatchOf(state, stats, model, format) === undefined ? state.acknowledged : undefined;
}

/** Why --resume cannot take up a saved state for this file, model and format; undefined when it can. */
function mismatchOf(state: State, stats: { size: number; mtimeMs: number }, model: string, format: ImportFormat): string | undefined {
  if (state.size !== stats.size || state.mtimeMs !== stats.mtimeMs || state.model !== model) {
    return 'The file or the model changed since the interrupted import; start again without --resume';
  }
  // A state file from before the format was recorded is taken for any.
  if ((state.format ?? format) !== format) return `The interrupted import read the file as ${state.format}; resume it with --format ${state.format}`;
  return undefined;
}

function isEmptyFile(path: string): boolean {
  try {
    const stats = lstatSync(path);
    return stats.isFile() && stats.size === 0;
  } catch {
    return false;
  }
}

/** `1 row`, `2 rows`. */
export const rowCount = (n: number) => `${n} ${n === 1 ? 'row' : 'rows'}`;

function writeState(path: string, state: State): void {
  writeFileSync(`${path}.tmp`, JSON.stringify(state));
  renameSync(`${path}.tmp`, path);
}

/** A row on its way to the API: its place in the file, the row as read, and its record as sent (coerced). */
interface BatchItem {
  readonly index: number;
  readonly row: Row & { record: Record<string, unknown> };
  readonly record: Record<string, unknown>;
}

interface ModelShape {
  readonly types: Record<string, FieldType>;
  /** The model's unique field, which every row needs. */
  readonly uniqueField: string | undefined;
  /** The record a row writes: its unique value, normalized as the API normalizes it (an email's case does not count). */
  readonly recordKey: (record: Record<string, unknown>, index: number) => string;
}

/** The model's definition as GET /models/{model} answers it, or undefined when the text is not one. */
function modelDefinitionIn(text: string): { unique_field?: string; fields: Record<string, { type: FieldType }> } | undefined {
  try {
    const model = JSON.parse(text) as { unique_field?: unknown; fields?: unknown };
    const fieldsOk = typeof model?.fields === 'object' && model.fields !== null && !Array.isArray(model.fields);
    return fieldsOk && (model.unique_field === undefined || typeof model.unique_field === 'string') ? (model as ReturnType<typeof modelDefinitionIn>) : undefined;
  } catch {
    return undefined;
  }
}

async function modelShape(options: ImportOptions): Promise<ModelShape> {
  const url = modelUrl(options.baseUrl, options.model);
  // Retried on 429 and 5xx as a batch is (a busy workspace, another import running); an API that cannot be reached at
  // all is a wrong --base-url far more often than a blip, so it is said at once.
  const lookupOptions = { ...options.sender, baseUrl: options.baseUrl, token: options.token, model: options.model, onRetry: (status: number | string, delay: number) => options.progress?.retry(status, delay) };
  const { status, text } = await fetchRetrying(url, { headers: { Authorization: `Token ${options.token}` } }, lookupOptions, false).catch(
    (error: unknown) => {
      if (error instanceof FatalImportError) throw new FatalImportError(`Cannot read model "${clipped(options.model)}": ${error.message}`);
      // fetch says only "fetch failed"; its cause says why (refused, unknown host, TLS).
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      throw new FatalImportError(`Cannot reach the API at ${options.baseUrl}: ${cause?.code ?? cause?.message ?? (error as Error).message}`);
    },
  );
  if (status !== 200) {
    throw new FatalImportError(`Cannot read model "${clipped(options.model)}" (${status}): ${clipped(envelopeError(text)?.message ?? text, 500)}`);
  }
  const model = modelDefinitionIn(text);
  if (!model) throw new FatalImportError(`${url} answered 200 with something that is not a model definition: is ${options.baseUrl} the API's root URL?`);
  const types: Record<string, FieldType> = Object.fromEntries(Object.entries(model.fields).map(([name, field]) => [name, field.type]));
  const unique = model.unique_field;
  const uniqueType: FieldType = unique !== undefined && Object.hasOwn(types, unique) && types[unique] === 'email' ? 'email' : 'string';
  return {
    types,
    uniqueField: unique,
    recordKey: (record, index) => {
      if (unique === undefined || !Object.hasOwn(record, unique)) return `#${index}`;
      const normalized = normalizeId(record[unique], uniqueType);
      return normalized.ok ? `=${normalized.id}` : `#${index}`;
    },
  };
}

/**
 * Each field of a row as the API would store it (lib/records/payload.ts `storableFieldValue`): a CSV cell, a string,
 * turned into its declared type as a form value is; a JSON Lines value taken as JSON; then checked as every stored
 * value is. A row with a field that will not go is refused here, every such field named, as the API would refuse it:
 * sent as it was, a CSV cell that is no JSON in a `json` field, or a number JSON cannot carry (`1e400`, which would
 * travel as null, a removal), or one too precise for a double, would have been stored as something else.
 */
function checkRow(record: Record<string, unknown>, types: Record<string, FieldType>, format: ImportFormat): { record: Record<string, unknown> } | { issues: FieldIssue[] } {
  const source = format === 'csv' ? 'form' : 'json';
  const out: [string, unknown][] = [];
  const issues: FieldIssue[] = [];
  for (const [name, value] of Object.entries(record)) {
    const stored = storableFieldValue(Object.hasOwn(types, name) ? types[name] : undefined, value, source);
    if (stored.ok) out.push([name, stored.value]);
    else issues.push({ field: name, issue: stored.issue });
  }
  // Built from entries, so a field named `__proto__` is a field (which the API refuses, as it refuses it in any
  // body), not an assignment of the object's prototype that would drop it and send the row without it.
  return issues.length > 0 ? { issues } : { record: Object.fromEntries(out) };
}

/**
 * Imports a file. One import of a file at a time: two at once (a second terminal, an overlapping cron job) would share
 * its state and rejects files, write each other's rows again and count them twice, so the second is refused.
 */
export async function runImport(options: ImportOptions): Promise<ImportSummary> {
  const lock = `${stateFileOf(resolve(options.file))}.lock`;
  let release: () => void;
  try {
    release = claimPidLock(
      lock,
      (owner) =>
        new FatalImportError(
          `Another import of ${resolve(options.file)} is running (pid ${owner}): wait for it to end, or stop it and go on with --resume (if none runs any more, delete ${lock})`,
        ),
    );
  } catch (error) {
    if (error instanceof FatalImportError) throw error;
    // The lock, like the state file, lives beside the file: a directory this user cannot write to stops the import here.
    throw new FatalImportError(`Cannot write the import's state beside ${resolve(options.file)}: ${(error as Error).message}`);
  }
  try {
    return await importFile(options);
  } finally {
    release();
  }
}

async function importFile(options: ImportOptions): Promise<ImportSummary> {
  const file = resolve(options.file);
  const stats = statSync(file);
  const statePath = stateFileOf(file);
  const concurrency = options.concurrency ?? 4;

  let state: State = {
    version: 1, file, size: stats.size, mtimeMs: stats.mtimeMs, model: options.model, format: options.format, runId: randomUUID(), acknowledged: 0, created: 0, updated: 0, rejected: 0,
  };
  if (options.resume) {
    const saved = readState(statePath);
    if (saved === undefined) throw new FatalImportError(`Nothing to resume: ${statePath} does not exist`);
    if (saved === 'unreadable') {
      throw new FatalImportError(
        `${statePath} cannot be read; start again without --resume: rows already sent are sent again (a record with several rows in the file gains a version for each, and rows created the first time count as updated)`,
      );
    }
    const mismatch = mismatchOf(saved, stats, options.model, options.format);
    if (mismatch !== undefined) throw new FatalImportError(mismatch);
    if (options.batchSize !== undefined && saved.batchSize !== undefined && options.batchSize !== saved.batchSize) {
      throw new FatalImportError(`The interrupted import sent batches of ${rowCount(saved.batchSize)}; resume it with --batch-size ${saved.batchSize}, or without --batch-size`);
    }
    state = saved;
    state.runId ??= randomUUID();
  }
  const batchSize = options.batchSize ?? state.batchSize ?? 500;
  state.batchSize = batchSize;

  const { types, uniqueField, recordKey } = await modelShape(options);
  // Rows are coerced by the model's field types, so a model changed since the interrupted run makes other bodies: they
  // go under keys of a new run (a batch that run had in flight may then be written again).
  const shape = JSON.stringify({ uniqueField, types: Object.entries(types).sort(([a], [b]) => (a < b ? -1 : 1)) });
  if (options.resume && state.modelShape !== undefined && state.modelShape !== shape) {
    state.runId = randomUUID();
    options.notice?.(`The model "${options.model}" changed since the interrupted import: its batches go again under new Idempotency-Keys, so a batch it had in flight may be written a second time`);
  }
  state.modelShape = shape;
  await assertUtf8(file);
  // A CSV whose header lacks the unique field would send every row only to have it refused.
  const header = options.format === 'csv' ? await csvHeader(file) : undefined;
  if (header && header.length > 0 && uniqueField !== undefined && !header.includes(uniqueField)) {
    throw new FatalImportError(`The header has no column "${uniqueField}", the unique field of ${options.model}, which every row needs (it has: ${header.join(', ')})`);
  }
  const total = await countRows(file, options.format);
  // Its quoting is sound (countRows would have said otherwise), so a CSV without a header row is an empty file: not an
  // import of nothing that reports success.
  if (header && header.length === 0) throw new FatalImportError(`${file} is empty: a CSV needs a header row naming its columns`);
  if (options.format === 'jsonl' && total === 0) throw new FatalImportError(`${file} has no rows: a JSON Lines file holds one JSON object per line`);
  // The rejects file must be writable before anything is sent. A new run empties it, and starts its state file afresh,
  // only once the API has answered a batch (`begin`): a run that stops on a wrong model, key or file, or is interrupted
  // before that, leaves the previous run's rejects and state as they were, still fit for --resume; and from then on
  // the two always describe the same run.
  try {
    const existed = existsSync(options.rejectsFile);
    appendFileSync(options.rejectsFile, '');
    if (!existed) rmSync(options.rejectsFile);
  } catch (error) {
    throw new FatalImportError(`Cannot write the rejects file ${options.rejectsFile}: ${(error as Error).message}`);
  }
  const rejectsPath = resolve(options.rejectsFile);
  const rejectsBytes = statSync(rejectsPath, { throwIfNoEntry: false })?.size ?? 0;
  if (options.resume && state.rejects?.path === rejectsPath) {
    // Lines of rows the state does not count (a run killed between the two writes): they are written again.
    if (rejectsBytes > state.rejects.bytes) truncateSync(rejectsPath, state.rejects.bytes);
  } else {
    // A new run's file is emptied once it begins; a resume into another file than the state's goes on from its end.
    state.rejects = { path: rejectsPath, bytes: options.resume ? rejectsBytes : 0 };
  }
  let begun = options.resume;
  const begin = () => {
    if (begun) return;
    begun = true;
    // The state first, saying the rejects file is empty, then the file emptied: a kill in between leaves a state whose
    // --resume cuts the file to nothing, never the previous run's lines under this run's state.
    writeState(statePath, state);
    writeFileSync(options.rejectsFile, '');
  };
  const skipped = state.acknowledged;
  options.progress?.start(total, skipped);
  const started = performance.now();

  // Rows are numbered in file order; `acknowledged` is the length of the prefix whose every row has its answer. A row's
  // answer is counted, and a rejected row written out, only when the prefix reaches it: a row answered after an
  // unanswered one may be sent again by --resume, and must not be counted twice.
  type Outcome = { readonly kind: 'created' | 'updated' } | { readonly kind: 'rejected'; readonly line: string };
  const answered = new Map<number, Outcome>();
  const advance = () => {
    begin();
    const lines: string[] = [];
    for (let outcome = answered.get(state.acknowledged); outcome; outcome = answered.get(state.acknowledged)) {
      answered.delete(state.acknowledged);
      if (outcome.kind === 'rejected') {
        state.rejected += 1;
        lines.push(outcome.line);
      } else state[outcome.kind] += 1;
      state.acknowledged += 1;
    }
    if (lines.length > 0) {
      const text = lines.join('');
      appendFileSync(options.rejectsFile, text);
      state.rejects!.bytes += Buffer.byteLength(text);
    }
    writeState(statePath, state);
    options.progress?.update(state.acknowledged, state);
  };
  const reject = (index: number, row: { line: number; raw?: unknown; record?: unknown; source?: string }, status: number, error: unknown) => {
    // A JSON line goes out as it was read: parsed, a number beyond a double's precision would show rounded.
    const rowJson = row.source ?? JSON.stringify(row.record ?? row.raw);
    answered.set(index, { kind: 'rejected', line: `{"line":${row.line},"row":${rowJson},"status":${status},"error":${JSON.stringify(error)}}\n` });
  };

  const senderOptions: SenderOptions = {
    baseUrl: options.baseUrl,
    token: options.token,
    model: options.model,
    ...options.sender,
    onRetry: (status, delay) => options.progress?.retry(status, delay),
    // A batch the API answered with items to send again has begun the run: its key must survive an exit, so that
    // --resume continues that answer rather than starting a run with new keys.
    onPartialAnswer: begin,
  };
  // The batches in flight, with the records each writes: a batch waits for those that write one of its records, so
  // two rows of one record in different batches are written in file order (the API orders them within a batch).
  const inFlight = new Map<Promise<void>, Set<string>>();
  let failure: unknown;
  const send = async (batch: BatchItem[]) => {
    const records = batch.map(({ record }) => record);
    const keys = new Set(records.map((record, i) => recordKey(record, batch[i]!.index)));
    const earlier = [...inFlight].filter(([, theirs]) => [...keys].some((key) => theirs.has(key))).map(([task]) => task);
    if (earlier.length > 0) await Promise.all(earlier);
    if (failure) return;
    // A batch is named by the run and its rows: --resume, starting at the first row not acknowledged, cuts the same
    // batches from there as the interrupted run did, so each one it sends again has the key it had.
    const task = sendBatch(records, senderOptions, `gather-import.${state.runId}.${batch[0]!.index}.${batch.length}`)
      .then((results) => {
        for (const result of results) {
          const item = batch[result.index]!;
          if (result.status === 201) answered.set(item.index, { kind: 'created' });
          else if (result.status === 200) answered.set(item.index, { kind: 'updated' });
          else reject(item.index, item.row, result.status, result.error);
        }
        advance();
      })
      .catch((error: unknown) => {
        failure ??= error;
      })
      .finally(() => inFlight.delete(task));
    inFlight.set(task, keys);
  };

  let index = 0;
  let batch: BatchItem[] = [];
  let batchBytes = 0;
  for await (const row of readRows(file, options.format)) {
    const rowIndex = index++;
    if (rowIndex < skipped) continue;
    if (failure) break;
    if (row.problem !== undefined) {
      reject(rowIndex, row, 400, { code: 'malformed_row', message: `Line ${row.line} ${row.problem}` });
      continue;
    }
    const checked = checkRow(row.record, types, options.format);
    if ('issues' in checked) {
      const named = checked.issues.map(({ field, issue }) => `${field} ${issue}`).join('; ');
      reject(rowIndex, row, 422, { code: 'validation_failed', message: `Line ${row.line}: ${named}`, details: checked.issues });
      continue;
    }
    const { record } = checked;
    batch.push({ index: rowIndex, row, record });
    batchBytes += JSON.stringify(record).length;
    // Stay well inside the API's 1,000 items and 4 MB per batch.
    if (batch.length >= batchSize || batchBytes > 3 * 1024 * 1024) {
      await send(batch);
      batch = [];
      batchBytes = 0;
      while (inFlight.size >= concurrency) await Promise.race(inFlight.keys());
    }
  }
  if (batch.length > 0 && !failure) await send(batch);
  await Promise.all(inFlight.keys());
  // A run that failed before the API answered any batch (a key without records:write) changes neither file.
  if (begun || !failure) advance();
  options.progress?.stop();
  if (failure) throw failure;

  const seconds = (performance.now() - started) / 1000;
  const processed = total - skipped;
  if (state.acknowledged >= total) {
    rmSync(statePath, { force: true });
    // A finished import that rejected nothing leaves no empty rejects file behind: only the empty file it wrote, never
    // what --rejects names otherwise (/dev/stderr, a file that is not empty).
    if (state.rejected === 0 && isEmptyFile(options.rejectsFile)) rmSync(options.rejectsFile, { force: true });
  }
  return {
    total,
    skipped,
    processed,
    created: state.created,
    updated: state.updated,
    rejected: state.rejected,
    seconds,
    rowsPerSecond: processed / Math.max(seconds, 0.001),
  };
}
