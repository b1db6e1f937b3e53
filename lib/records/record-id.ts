/**
 * A record's id is the normalized value of its model's unique field (SPEC section 4, upsert rule 1): e-mail addresses
 * are trimmed and lower-cased, so matching is case-insensitive; other values are trimmed. Both are Unicode-NFC
 * normalized: an address typed as `é` on one system and as `e` + a combining accent on another is one customer, as the
 * same account name is one account (SPEC names NFC for other values only; one address, one customer is its point).
 */
import { isEmailAddress } from '../models/field-types.js';
import type { FieldType, ModelDefinition } from '../models/model-definition.js';
import { limits } from './limits.js';

export type IdNormalization = { readonly ok: true; readonly id: string } | { readonly ok: false; readonly issue: string };

// Control characters have no place in an identifier that travels in URLs and logs.
const controlCharacters = /[\u0000-\u001f\u007f-\u009f]/;

/**
 * The most characters of Unicode's Mark category an id may hold in a row, as sent and once normalized. Unicode's
 * stream-safe text format (UAX #15) allows 30 non-starters in a row, which no script needs more of; marks are the
 * near-enough class that a regular expression can name (a few spacing marks are starters, a few characters split into
 * two marks under NFC).
 */
const maxMarksInARow = 30;
// A mark, but the combining grapheme joiner (U+034F), which UAX #15 puts between runs to keep each within its limit.
const mark = '[^\\P{M}\\u034F]';
// The lookbehind tries a match only where a run starts, not again at each of its marks.
const longRunOfMarks = new RegExp(`(?<!${mark})${mark}{${maxMarksInARow + 1}}`, 'u');
const tooManyMarks = { ok: false, issue: `must not have more than ${maxMarksInARow} combining marks in a row` } as const;
// Every mark is at U+0300 or above: an id of Latin-1 alone (most ids) holds none, and skips both tests of its runs.
const beyondLatin1 = /[^\u0000-\u00ff]/;

export function normalizeId(value: unknown, type: FieldType): IdNormalization {
  let text: string;
  if (typeof value === 'string') text = value;
  else if (typeof value === 'number' && Number.isSafeInteger(value)) text = String(value);
  else return { ok: false, issue: 'must be a string' };

  if (!text.isWellFormed()) return { ok: false, issue: 'must be well-formed Unicode' };
  text = type === 'email' ? text.trim().toLowerCase() : text.trim();
  if (text === '') return { ok: false, issue: 'must not be empty' };
  // Normalization neither makes nor removes a control character, so they are looked for first.
  if (controlCharacters.test(text)) return { ok: false, issue: 'must not contain control characters' };
  const tooLong = { ok: false, issue: `must be at most ${limits.maxIdBytes} bytes of UTF-8` } as const;
  // NFC puts each run of combining marks in order, in time that grows with the square of the run: 256 KB of marks took
  // 16 s. Normalizing shrinks a text to no less than 2/7 of its UTF-8 (U+1FBE U+0308 U+0301, seven bytes, becomes
  // U+0390, two: a singleton and a composition together), so a text over four times the limit can never become an id,
  // and is refused before it is normalized.
  if (Buffer.byteLength(text, 'utf8') > 4 * limits.maxIdBytes) return tooLong;
  // Within that bound a run of marks still took 4.5 ms to order, and a batch normalizes 2,000 ids before it writes
  // (9 s): a longer run is refused before normalizing, so a run costs at most about 30 squared steps. It is checked
  // again after, since a few characters become two marks (U+0344): an id stored must be one its own lookups take.
  const mayHoldMarks = beyondLatin1.test(text);
  if (mayHoldMarks && longRunOfMarks.test(text)) return tooManyMarks;
  text = text.normalize('NFC');
  if (Buffer.byteLength(text, 'utf8') > limits.maxIdBytes) return tooLong;
  if (mayHoldMarks && longRunOfMarks.test(text)) return tooManyMarks;
  if (type === 'email' && !isEmailAddress(text)) return { ok: false, issue: 'must be an e-mail address' };
  return { ok: true, id: text };
}

/** How a model's ids are normalized: as e-mail addresses when its unique field is one, else as strings. */
export function idType(model: ModelDefinition): 'email' | 'string' {
  return model.fields[model.uniqueField]?.type === 'email' ? 'email' : 'string';
}

/** The ids a client's string names in a model, in the order they are looked up. */
export type RecordIdLookup =
  | {
      readonly ok: true;
      readonly id: string;
      /** A second id to look up when the first names nothing (in a model keyed by e-mail: the id as sent). */
      readonly asSent?: string;
      /** In a model keyed by e-mail, the string was no address: the 404 says that ids are addresses. */
      readonly notAnAddress: boolean;
    }
  | { readonly ok: false; readonly issue: string };

/**
 * The id a client's string names in a model (a path, `?id=`, a batch delete): normalized as the model's unique field
 * is, an e-mail address as one, any other type as a string. In a model keyed by e-mail, a record may also sit under a
 * string id: one written while the unique field was a string, by a function that still had that definition, or to a
 * model deleted and defined again (docs/api.md, "Models"). So the id as sent (trimmed, NFC, its case kept) is the id
 * when it is no address, and the second one looked up when it is an address with capitals (`Don@SC.com`, which the
 * listing shows so). Every record a listing shows can then be read and deleted by the id it shows, and such a model
 * emptied, deleted or re-keyed; an upsert still refuses such a value (422).
 */
export function lookUpRecordId(model: ModelDefinition, value: unknown): RecordIdLookup {
  if (idType(model) !== 'email') {
    const normalized = normalizeId(value, 'string');
    return normalized.ok ? { ok: true, id: normalized.id, notAnAddress: false } : normalized;
  }
  const address = normalizeId(value, 'email');
  const asSent = normalizeId(value, 'string');
  if (address.ok) return { ok: true, id: address.id, notAnAddress: false, ...(asSent.ok && asSent.id !== address.id ? { asSent: asSent.id } : {}) };
  return asSent.ok ? { ok: true, id: asSent.id, notAnAddress: true } : address;
}
