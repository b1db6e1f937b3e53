/**
 * A batch resent with the same Idempotency-Key after an answer that held items to retry (503 or 429) continues that
 * answer: only those items run again, and the others keep the answers they were first given. Running every item again
 * would apply a finished upsert a second time (a record written twice in one batch would pass through its first value
 * and gain two versions) and a finished delete again (removing a record another client made since).
 *
 * Items of one record run in order, so from a record's first item to retry, every later item of that record runs
 * again too, a delete after the upserts included: one of them may have been applied after the item that failed, and
 * must stay the last word (the importer resends the same way, lib/import/batch-sender.ts).
 */
import type { APIGatewayProxyResult } from 'aws-lambda';
import type { ItemResult } from './batch-response.js';

/**
 * A batch item whose answer says "retry" (429 or 503): it makes the answer a partial one. A 500 is a defect, which a
 * retry would meet again: like a refusal, it is final (lib/records/batch-service.ts holds nothing back for it either,
 * and the importer rejects its row).
 */
export const isRetryableItem = (item: Pick<ItemResult, 'status'>): boolean => item.status === 429 || item.status === 503;

export interface ResendPlan {
  /** The earlier answer's items, by slot (upserts, then deletes, as a batch answers them). */
  readonly earlier: readonly ItemResult[];
  /** The slots to run again. */
  readonly rerun: ReadonlySet<number>;
}

/** What a resend runs again, from the partial answer it continues. */
export function resendPlan(partial: APIGatewayProxyResult): ResendPlan {
  const earlier = (JSON.parse(partial.body) as { results: ItemResult[] }).results;
  const firstToRetry = new Map<string, number>();
  earlier.forEach((item, slot) => {
    if (isRetryableItem(item) && item.id !== undefined && !firstToRetry.has(item.id)) firstToRetry.set(item.id, slot);
  });
  const rerun = new Set<number>();
  earlier.forEach((item, slot) => {
    const from = item.id !== undefined ? firstToRetry.get(item.id) : undefined;
    if (isRetryableItem(item) || (from !== undefined && slot >= from)) rerun.add(slot);
  });
  return { earlier, rerun };
}

/**
 * The items a resend answers: its own for the slots it ran, the earlier ones for the rest. An item done before and done
 * again keeps its first answer (a record created then still answers 201).
 */
export function mergedItems(plan: ResendPlan, now: readonly (ItemResult | undefined)[]): ItemResult[] {
  return plan.earlier.map((before, slot) => {
    const item = now[slot];
    if (!plan.rerun.has(slot) || item === undefined) return before;
    return !isRetryableItem(before) && before.status < 300 && item.status < 300 ? before : item;
  });
}
