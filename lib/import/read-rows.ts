/**
 * Rows of an import file, with the line each starts on: CSV through csv-parse (quoted commas and newlines, escaped
 * quotes, a BOM, CRLF; the header row names the fields) or JSON Lines (one object per line). A row that cannot become a
 * record (a wrong number of CSV fields, a JSON line that is not an object) is yielded with its problem, so the importer
 * rejects that row and goes on. A CSV whose quoting is broken (a stray or unclosed quote) has no rows one can trust
 * after that point, so it stops the import, naming the line, before anything is sent (the importer counts the rows
 * first).
 */
import { createReadStream } from 'node:fs';
import { parse } from 'csv-parse';
import { FatalImportError } from './batch-sender.js';
import { isJsonObject, parseExactJson, TooDeepToWalk } from '../records/exact-json.js';

export type ImportFormat = 'csv' | 'jsonl';

export type Row =
  | {
      readonly line: number;
      readonly record: Record<string, unknown>;
      readonly problem?: undefined;
      /** A JSON line's own text: the rejects file quotes it, numbers as written (`record` holds them as parsed). */
      readonly source?: string;
    }
  | { readonly line: number; readonly record?: undefined; readonly problem: string; readonly raw: unknown; readonly source?: string };

export function formatOf(file: string, explicit?: string): ImportFormat {
  if (explicit === 'csv' || explicit === 'jsonl') return explicit;
  if (explicit) throw new Error(`--format must be csv or jsonl, not "${explicit}"`);
  // A .json file is most often one JSON array, which read as CSV fails on its first quote with a puzzling message.
  if (/\.json$/i.test(file)) {
    throw new Error(`${file} is a .json file: the importer reads CSV or JSON Lines (one object per line); convert an array with jq -c '.[]' ${file} > rows.jsonl, or give --format`);
  }
  return /\.(jsonl|ndjson)$/i.test(file) ? 'jsonl' : 'csv';
}

/**
 * How every CSV read here is parsed. Rows may end in CRLF, LF or CR, and in one file in more than one of them: left to
 * itself, csv-parse takes the first line's ending for the whole file, so a CRLF header over LF rows read the file as
 * one row, and an LF header over CRLF rows left a carriage return at the end of every row's last cell.
 */
const csvOptions = { bom: true, relax_column_count: true, skip_empty_lines: true, record_delimiter: ['\r\n', '\n', '\r'] };

async function* csvRows(file: string): AsyncGenerator<Row> {
  const read = { lastLine: 0 };
  try {
    yield* csvRecords(file, read);
  } catch (error) {
    const { code, lines } = error as { code?: string; lines?: number };
    if (typeof code !== 'string' || !(code.startsWith('CSV_') || code === 'INVALID_OPENING_QUOTE')) throw error;
    // csv-parse finds an unclosed quote only at the end of the file; the quote opened in the row after the last good one.
    if (code === 'CSV_QUOTE_NOT_CLOSED') {
      throw new FatalImportError(`${file} is not valid CSV: the row that starts after line ${read.lastLine} opens a quote that is never closed`);
    }
    throw new FatalImportError(`${file} is not valid CSV at line ${lines ?? '?'}: ${(error as Error).message}`);
  }
}

/** The CSV's header row, its names trimmed; empty for an empty file, or one whose quoting countRows will report. */
export async function csvHeader(file: string): Promise<string[]> {
  const input = createReadStream(file);
  try {
    const parser = input.pipe(parse({ ...csvOptions, to: 1 }));
    for await (const record of parser as AsyncIterable<string[]>) return record.map((name) => name.trim());
  } catch {
    // Reported, with its line, when the rows are counted.
  } finally {
    // `pipe` does not close its source when the parser stops after one record: the file stays open otherwise.
    input.destroy();
  }
  return [];
}

async function* csvRecords(file: string, read: { lastLine: number }): AsyncGenerator<Row> {
  const parser = createReadStream(file).pipe(parse({ ...csvOptions, info: true }));
  let header: string[] | undefined;
  let unnamedColumns: number[] = [];
  // csv-parse counts a CRLF inside a quoted field as two lines; `overcount` undoes that, so lines match an editor's.
  let overcount = 0;
  for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
    const crlfs = record.reduce((sum, field) => sum + (field.match(/\r\n/g)?.length ?? 0), 0);
    const breaks = record.reduce((sum, field) => sum + (field.match(/\r\n|\r|\n/g)?.length ?? 0), 0);
    overcount += crlfs;
    const line = info.lines - overcount - breaks;
    read.lastLine = info.lines - overcount;
    if (!header) {
      header = record.map((name) => name.trim());
      unnamedColumns = header.flatMap((name, i) => (name === '' ? [i] : []));
      // Two columns of one name would each overwrite the other's value, row by row, silently. Columns without a name
      // (a spreadsheet's trailing empty columns) are not repeats: their empty cells send nothing.
      // A set, not indexOf for each column: a header of 80,000 columns took 6.5 s that way.
      const seen = new Set<string>();
      const repeated = header.filter((name) => name !== '' && (seen.has(name) || (seen.add(name), false)));
      if (repeated.length > 0) throw new FatalImportError(`The header names ${[...new Set(repeated)].map((n) => `"${n}"`).join(', ')} more than once; each column needs its own name`);
      continue;
    }
    if (record.length !== header.length) {
      yield { line, problem: `has ${record.length} fields; the header has ${header.length}`, raw: record };
      continue;
    }
    // A value under a column the header does not name has no field to go to (the API refuses an empty field name).
    const unnamed = unnamedColumns.find((i) => record[i] !== '');
    if (unnamed !== undefined) {
      yield { line, problem: `has a value in column ${unnamed + 1}, which the header does not name`, raw: record };
      continue;
    }
    // An empty cell sends nothing for that field, so an import never blanks a stored value.
    const entries = header.map((name, i) => [name, record[i]!] as const).filter(([, value]) => value !== '');
    yield { line, record: Object.fromEntries(entries) };
  }
}

/**
 * The lines of a text file, split at `\n` only (a `\r` before it is dropped with it). Node's readline also splits at a
 * bare `\r`, which JSON takes as whitespace between tokens: a valid JSON line holding one would become two rejects.
 */
async function* linesOf(file: string): AsyncGenerator<string> {
  let rest = '';
  for await (const chunk of createReadStream(file, 'utf8')) {
    // Only the chunk is split: a long line is not copied again with every chunk it spans.
    const parts = (chunk as string).split('\n');
    parts[0] = rest + parts[0];
    rest = parts.pop()!;
    for (const part of parts) yield part.endsWith('\r') ? part.slice(0, -1) : part;
  }
  if (rest !== '') yield rest;
}

async function* jsonlRows(file: string): AsyncGenerator<Row> {
  let line = 0;
  for await (const text of linesOf(file)) {
    line += 1;
    const trimmed = line === 1 ? text.replace(/^\uFEFF/, '').trim() : text.trim();
    if (trimmed === '') continue;
    let value: unknown;
    try {
      // As the API parses a JSON body: a number too precise for a double is marked, and its row refused, not rounded.
      value = parseExactJson(trimmed);
    } catch (error) {
      yield { line, problem: error instanceof TooDeepToWalk ? 'nests values too deep' : `is not valid JSON: ${(error as Error).message}`, raw: trimmed };
      continue;
    }
    // A line that is only a number too precise for a double is marked with an object of its own: still no JSON object.
    if (!isJsonObject(value)) {
      // Quoted in the rejects file as the line has it (`[1e400]` parses to `[Infinity]`, which JSON spells null).
      yield { line, problem: 'is not a JSON object', raw: value, source: trimmed };
      continue;
    }
    yield { line, record: value, source: trimmed };
  }
}

export function readRows(file: string, format: ImportFormat): AsyncGenerator<Row> {
  return format === 'csv' ? csvRows(file) : jsonlRows(file);
}

/**
 * Refuses a file that is not UTF-8 before anything is sent: read as UTF-8, its bad bytes would turn into U+FFFD, so
 * "Jürgen" and "Jörgen" in Latin-1 would both become "J\uFFFDrgen" and one record (the API refuses such bytes in a body
 * with a 400; here they would never reach it).
 */
export async function assertUtf8(file: string): Promise<void> {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let offset = 0;
  try {
    for await (const chunk of createReadStream(file)) {
      decoder.decode(chunk as Buffer, { stream: true });
      offset += (chunk as Buffer).length;
    }
    decoder.decode();
  } catch {
    throw new FatalImportError(`${file} is not UTF-8 (a bad byte in the 64 KB from byte ${offset}); convert it, for example with iconv -f latin1 -t utf-8`);
  }
}

export async function countRows(file: string, format: ImportFormat): Promise<number> {
  let count = 0;
  for await (const _row of readRows(file, format)) count += 1;
  return count;
}
