/**
 * Batch upserts and deletes (SPEC section 4, "Batch"): one result per item, upserts first and then deletes, each in
 * request order. One bad item never fails or hides the others' results, nor stops another record's items. Writes run
 * with bounded parallelism; items with the same id run one after the other in request order, so their merges apply in
 * that order. Throttling that outlasts the SDK's own retries is retried per item with backoff before that item is
 * reported 503. Once an item of a record is answered "retry" (503), its record's later items, its delete included, are
 * not attempted and answer 503 too: a client that sends the failed item again as told must not write it over what a
 * later item of the same batch wrote.
 */
import { randomUUID } from 'node:crypto';
import type { ModelDefinition } from '../models/model-definition.js';
import { UnavailableError, ValidationError } from './errors.js';
import { isJsonObject } from './exact-json.js';
import { validateUpsertPayload, type RecordPayload, type ValidatedUpsert } from './payload.js';
import { idType, normalizeId } from './record-id.js';
import type { RecordLocation, RecordService } from './record-service.js';

export const batchLimits = {
  maxItems: 1000,
  /** Parallel writes toward DynamoDB per batch. */
  concurrency: 16,
  /** Extra attempts for an item whose write was throttled after the SDK's retries. */
  itemRetries: 3,
} as const;

export type BatchItemResult =
  | { readonly op: 'upsert'; readonly index: number; readonly id: string; readonly outcome: 'created' | 'updated' | 'unchanged' }
  | { readonly op: 'delete'; readonly index: number; readonly id: string; readonly outcome: 'deleted' }
  | { readonly op: 'upsert' | 'delete'; readonly index: number; readonly id?: string; readonly error: unknown };

export interface BatchRequest {
  readonly workspace: string;
  readonly model: string;
  /** The parsed JSON body. */
  readonly body: unknown;
  /** Turns one JSON object into a record payload (the HTTP layer's JSON rules: null removes a field). */
  readonly toPayload: (item: Record<string, unknown>) => RecordPayload;
  /** Epoch ms after which no further item is started: those answer 503, so the request ends in time. */
  readonly deadline?: number;
  /**
   * The slots (upserts, then deletes) to run; the others are left out of the results (undefined). A resend that
   * continues an earlier answer runs only what it must (lib/http/batch-resend.ts). @default every item
   */
  readonly only?: ReadonlySet<number>;
}

interface Task {
  readonly key: string;
  readonly run: () => Promise<BatchItemResult>;
  readonly slot: number;
  /** What its result says when it is not attempted. */
  readonly describe: { readonly op: 'upsert' | 'delete'; readonly index: number; readonly id?: string };
}

/**
 * Runs tasks with at most `concurrency` at once; tasks with the same key run in order, one at a time. `late` answers a
 * task that must not start (undefined: start it); `settled` sees every answer.
 */
async function runChained(
  tasks: readonly Task[],
  results: (BatchItemResult | undefined)[],
  concurrency: number,
  late: (task: Task) => BatchItemResult | undefined,
  settled: (task: Task, result: BatchItemResult) => void,
): Promise<void> {
  const chains = new Map<string, Task[]>();
  for (const task of tasks) {
    const chain = chains.get(task.key) ?? [];
    chain.push(task);
    chains.set(task.key, chain);
  }
  const queue = [...chains.values()];
  const worker = async () => {
    for (let chain = queue.shift(); chain; chain = queue.shift()) {
      for (const task of chain) {
        const result = late(task) ?? (await task.run());
        results[task.slot] = result;
        settled(task, result);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, queue.length) }, worker));
}

/**
 * Retries an item throttled after the SDK's own retries. A retry is a new DynamoDB call, so it starts only while the
 * batch may still start one (before `pastDeadline`): past it the item answers its 503 at once, instead of
 * running the function into its timeout and losing every item's answer.
 */
async function withItemRetries<T>(operation: () => Promise<T>, sleep: (ms: number) => Promise<void>, pastDeadline: () => boolean): Promise<T> {
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await operation();
    } catch (error) {
      if (!(error instanceof UnavailableError) || attempt >= batchLimits.itemRetries) throw error;
      await sleep(Math.random() * 100 * 2 ** attempt + 50);
      if (pastDeadline()) throw error;
    }
  }
}

export class BatchService {
  constructor(
    private readonly records: RecordService,
    private readonly sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
  ) {}

  async run(request: BatchRequest): Promise<(BatchItemResult | undefined)[]> {
    // The model first, as on the single-record routes: a batch to a model that does not exist is a 404 whatever it holds.
    const model = await this.records.model(request.workspace, request.model);
    const { upserts, deletes } = this.parse(request.body);
    const results: (BatchItemResult | undefined)[] = new Array(upserts.length + deletes.length);
    const skipped = (slot: number) => request.only !== undefined && !request.only.has(slot);
    const pastDeadline = () => request.deadline !== undefined && Date.now() > request.deadline;
    // Records with an item answered "retry": their later items wait for the client's resend, in order.
    const held = new Set<string>();
    const late = (task: Task): BatchItemResult | undefined => {
      if (pastDeadline()) return { ...task.describe, error: new UnavailableError('This item was not attempted before the time limit; send it again', 1) };
      if (held.has(task.key)) {
        return {
          ...task.describe,
          error: new UnavailableError('This item was not attempted because an earlier item for the same id could not be written; send them again, in order', 1),
        };
      }
      return undefined;
    };
    const settled = (task: Task, result: BatchItemResult) => {
      if ('error' in result && asksForRetry(result.error)) held.add(task.key);
    };

    const upsertTasks: Task[] = [];
    upserts.forEach((item, index) => {
      if (skipped(index)) return;
      let validated: ValidatedUpsert;
      try {
        if (!isJsonObject(item)) {
          throw new ValidationError('Each item of "records" is an object of fields', [{ field: `records[${index}]`, issue: 'must be an object' }]);
        }
        validated = validateUpsertPayload(model, request.toPayload(item));
      } catch (error) {
        results[index] = { op: 'upsert', index, error, ...uniqueValueOf(model, item) };
        return;
      }
      upsertTasks.push({
        key: validated.id,
        slot: index,
        describe: { op: 'upsert', index, id: validated.id },
        run: async () => {
          // One token for every attempt of the item, the batch's own retries included (lib/store/record-store.ts).
          const writeToken = randomUUID();
          try {
            const outcome = await withItemRetries(() => this.records.writeValidated(request.workspace, model, validated, writeToken), this.sleep, pastDeadline);
            return { op: 'upsert', index, id: validated.id, outcome };
          } catch (error) {
            return { op: 'upsert', index, id: validated.id, error };
          }
        },
      });
    });
    await runChained(upsertTasks, results, batchLimits.concurrency, late, settled);

    const deleteTasks: Task[] = [];
    deletes.forEach((id, index) => {
      const slot = upserts.length + index;
      if (skipped(slot)) return;
      if (typeof id !== 'string') {
        results[slot] = { op: 'delete', index, error: new ValidationError('Each item of "delete" is an id string', [{ field: `delete[${index}]`, issue: 'must be a string' }]) };
        return;
      }
      // An id no record can have answers its 404 at once, naming the id as sent: there is nothing to ask DynamoDB.
      let location: RecordLocation;
      try {
        location = this.records.locationOf(model, request.workspace, id);
      } catch (error) {
        results[slot] = { op: 'delete', index, id, error };
        return;
      }
      // Chained by the normalized id, so `A@x.io` and `a@x.io` in one batch run in order, not against each other. Every
      // answer names the id as normalized, as an upsert's does (a 404 too), so a client can match them.
      const { key } = location;
      deleteTasks.push({
        key: key.id,
        slot,
        describe: { op: 'delete', index, id: key.id },
        run: async () => {
          try {
            const deleted = await withItemRetries(() => this.records.deleteAt(model, location), this.sleep, pastDeadline);
            return { op: 'delete', index, id: deleted, outcome: 'deleted' };
          } catch (error) {
            return { op: 'delete', index, id: key.id, error };
          }
        },
      });
    });
    await runChained(deleteTasks, results, batchLimits.concurrency, late, settled);
    return results;
  }

  /** The shape of the whole request: a malformed batch is refused as a whole. */
  private parse(body: unknown): { upserts: unknown[]; deletes: unknown[] } {
    if (!isJsonObject(body)) {
      throw new ValidationError('A batch is {"records": [...], "delete": [...]}', [{ field: '*', issue: 'must be an object' }]);
    }
    const { records, delete: deletes, ...rest } = body as { records?: unknown; delete?: unknown };
    const issues = Object.keys(rest).map((field) => ({ field, issue: 'unknown property; use records and delete' }));
    if (records !== undefined && !Array.isArray(records)) issues.push({ field: 'records', issue: 'must be an array of objects' });
    if (deletes !== undefined && !Array.isArray(deletes)) issues.push({ field: 'delete', issue: 'must be an array of ids' });
    if (issues.length > 0) throw new ValidationError('Invalid batch', issues);
    const upserts = (records as unknown[] | undefined) ?? [];
    const removals = (deletes as unknown[] | undefined) ?? [];
    if (upserts.length + removals.length === 0) {
      throw new ValidationError('A batch needs at least one item', [{ field: 'records', issue: 'records and delete are both empty' }]);
    }
    if (upserts.length + removals.length > batchLimits.maxItems) {
      throw new ValidationError(`A batch may have at most ${batchLimits.maxItems} items`, [
        { field: '*', issue: `${upserts.length + removals.length} items; at most ${batchLimits.maxItems}` },
      ]);
    }
    return { upserts, deletes: removals };
  }
}

/**
 * An item error whose answer tells the client to send the item again: 503 unavailable. A refusal (a 4xx) changed
 * nothing and is not sent again as it was, and an unexpected error (a 500) is a defect that a retry would meet again
 * (lib/http/batch-resend.ts `isRetryableItem`, the importer): neither holds the record's later items back.
 */
const asksForRetry = (error: unknown): boolean => error instanceof UnavailableError;

/**
 * The id of a rejected item, to help the client match it: its unique value normalized as an accepted item's id is, or
 * as sent when it cannot be (not an e-mail address, say); nothing when it is not a string.
 */
function uniqueValueOf(model: ModelDefinition, item: unknown): { id?: string } {
  const value = isJsonObject(item) ? item[model.uniqueField] : undefined;
  if (typeof value !== 'string') return {};
  const normalized = normalizeId(value, idType(model));
  return { id: normalized.ok ? normalized.id : value };
}

