/** A batch's answer stays within Lambda's 6 MB response, however much its refused items have to say; a resend continues it. */
import { batchResponse, detailsKeptWhenLarge } from '../../lib/http/batch-response.js';
import { mergedItems, resendPlan } from '../../lib/http/batch-resend.js';
import type { BatchItemResult } from '../../lib/records/batch-service.js';
import { UnavailableError, ValidationError } from '../../lib/records/errors.js';

const lambdaLimit = 6 * 1024 * 1024;
/** The function's whole result as Lambda serializes it. */
const lambdaBytes = (result: unknown) => Buffer.byteLength(JSON.stringify(result));

function refused(count: number, fieldsEach: number, nameLength: number): BatchItemResult[] {
  return Array.from({ length: count }, (_, index) => {
    const issues = Array.from({ length: fieldsEach }, (_, f) => ({ field: `_"${String(f).padStart(3, '0')}`.padEnd(nameLength, '"'), issue: 'must not start with _' }));
    return { op: 'upsert', index, id: `id-${index}`, error: new ValidationError(`Invalid fields: ${issues.map((i) => i.field).join(', ')}`, issues) };
  });
}

describe('batchResponse', () => {
  it('gives every error in full while the answer is small', () => {
    const results: BatchItemResult[] = [...refused(2, 8, 20), { op: 'delete', index: 0, id: 'gone', outcome: 'deleted' }];
    const body = JSON.parse(batchResponse(results, 'r').body);
    expect(body.results).toHaveLength(3);
    expect(body.results[0].error.details).toHaveLength(8);
    expect(body.results[0].error.message).toContain('_"000');
    expect(body.results[2]).toEqual({ op: 'delete', index: 0, status: 204, id: 'gone' });
  });

  it('asks for the longest pause its items answered 503 ask for, in Retry-After, as a whole request answered 503 does', () => {
    const unavailable = (index: number, seconds: number): BatchItemResult => ({ op: 'upsert', index, id: `u${index}`, error: new UnavailableError('throttled; retry after a pause', seconds) });
    const answer = batchResponse([unavailable(0, 1), ...refused(1, 1, 5).map((r) => ({ ...r, index: 1 })), unavailable(2, 3)], 'r');
    expect(answer.headers).toEqual({ 'Content-Type': 'application/json', 'Retry-After': '3' });
    expect(JSON.parse(answer.body).results.map((r: { status: number }) => r.status)).toEqual([503, 422, 503]);
    // Without an item to send again, no pause is asked for.
    expect(batchResponse([...refused(1, 1, 5), { op: 'delete', index: 0, id: 'gone', outcome: 'deleted' }], 'r').headers).toEqual({ 'Content-Type': 'application/json' });
  });

  it('keeps the first details of each error and counts the rest when the full answer would not fit', () => {
    // 1,000 items, each refusing 50 quote-heavy field names of 60 bytes: about 20 MB in full.
    const result = batchResponse(refused(1000, 50, 60), 'r');
    expect(lambdaBytes(result)).toBeLessThan(lambdaLimit);
    const body = JSON.parse(result.body);
    expect(body.results).toHaveLength(1000);
    for (const [index, item] of body.results.entries()) {
      expect([index, item.op, item.status, item.id, item.error.code]).toEqual([index, 'upsert', 422, `id-${index}`, 'validation_failed']);
      expect(item.error.details).toHaveLength(detailsKeptWhenLarge + 1);
      expect(item.error.details.at(-1)).toEqual({ field: '*', issue: `${50 - detailsKeptWhenLarge} more issues not shown; send this item alone to see them all` });
      expect(item.error.message.length).toBeLessThanOrEqual(201);
    }
  });

  it('keeps only the code and a short message of each error when even that is too much', () => {
    // 300 field names of 255 quotes each, the most a payload can refuse: far over in the first step too.
    const result = batchResponse(refused(1000, 300, 255), 'r');
    expect(lambdaBytes(result)).toBeLessThan(lambdaLimit);
    const body = JSON.parse(result.body);
    expect(body.results).toHaveLength(1000);
    expect(body.results.every((item: { status: number; error: { code: string; details?: unknown } }) => item.status === 422 && item.error.code === 'validation_failed' && item.error.details === undefined)).toBe(true);
    expect(body.results[999].error.message).toMatch(/send this item alone/);
  });

  it('echoes a refused id cut to 1,024 characters, so 1,000 ids refused for their length still fit', () => {
    const long = '"'.repeat(1900);
    const results: BatchItemResult[] = Array.from({ length: 1000 }, (_, index) => ({
      op: 'delete',
      index,
      id: long,
      error: new ValidationError('Invalid id', [{ field: `delete[${index}]`, issue: 'must be at most 1024 bytes of UTF-8' }]),
    }));
    const result = batchResponse(results, 'r');
    expect(lambdaBytes(result)).toBeLessThan(lambdaLimit);
    const body = JSON.parse(result.body);
    expect(body.results).toHaveLength(1000);
    expect(body.results[0].id).toBe(`${'"'.repeat(1024)}…`);
    expect(body.results.every((item: { status: number }) => item.status === 422)).toBe(true);
  });
});

describe('a batch resent with its Idempotency-Key (lib/http/batch-resend.ts)', () => {
  const answer = (results: object[]) => ({ statusCode: 200, body: JSON.stringify({ results }) });
  const up = (index: number, id: string, status: number) => ({ op: 'upsert', index, id, status });
  const del = (index: number, id: string, status: number) => ({ op: 'delete', index, id, status });

  it('runs again only the items to retry, and every later item of their records, deletes included', () => {
    const plan = resendPlan(
      answer([up(0, 'a', 201), up(1, 'b', 503), up(2, 'a', 200), up(3, 'b', 200), up(4, 'c', 422), del(0, 'b', 204), del(1, 'd', 429), del(2, 'a', 204)]),
    );
    expect([...plan.rerun].sort()).toEqual([1, 3, 5, 6]);
  });

  it('answers each slot it did not run as before, and a slot done before and again with its first answer', () => {
    const plan = resendPlan(answer([up(0, 'a', 201), up(1, 'b', 503), up(2, 'b', 201), del(0, 'c', 204)]));
    const merged = mergedItems(plan, [undefined, up(1, 'b', 201), up(2, 'b', 200), undefined] as never[]);
    expect(merged.map((item) => item.status)).toEqual([201, 201, 201, 204]);
    // A slot that fails again says so.
    expect(mergedItems(plan, [undefined, up(1, 'b', 503), up(2, 'b', 503), undefined] as never[]).map((item) => item.status)).toEqual([201, 503, 503, 204]);
  });
});
