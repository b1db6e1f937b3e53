/**
 * A batch holds a record's later items once one of its items answers 503 (they answer 503 "not attempted"), and only
 * then: a refusal (4xx) or an unexpected error (a 500, a defect that a retry would meet again) holds nothing back. The
 * batch service runs here on a stand-in for the record service; the fault suite checks the 503 case over HTTP.
 */
import { payloadFromJsonObject } from '../../lib/http/parse-body.js';
import { BatchService } from '../../lib/records/batch-service.js';
import { RecordTooLargeError, UnavailableError } from '../../lib/records/errors.js';
import type { RecordService } from '../../lib/records/record-service.js';
import { standardModels } from '../../lib/models/standard-models.js';

const written: string[] = [];
/** How the stand-in answers a write, by the value of its `plan` field. */
const failures: Record<string, () => Error> = {
  throttled: () => new UnavailableError('DynamoDB is throttling this table', 1),
  defect: () => new Error('an unexpected failure'),
  huge: () => new RecordTooLargeError('too large'),
};

const records = {
  model: async () => standardModels.account!,
  writeValidated: async (_workspace: string, _model: unknown, payload: { id: string }) => {
    const text = JSON.stringify(payload);
    const plan = ['ok', 'later'].find((value) => text.includes(`"${value}"`)) ?? '';
    const failure = Object.keys(failures).find((kind) => text.includes(`"${kind}"`));
    if (failure) throw failures[failure]!();
    written.push(`${payload.id}:${plan}`);
    return 'updated' as const;
  },
  locationOf: (_model: unknown, workspace: string, id: string) => ({ key: { workspace, model: 'account', id }, notAnAddress: false }),
  deleteAt: async (_model: unknown, location: { key: { id: string } }) => {
    written.push(`${location.key.id}:deleted`);
    return location.key.id;
  },
} as unknown as RecordService;

const service = new BatchService(records, async () => undefined);

async function run(body: unknown) {
  written.length = 0;
  const results = await service.run({ workspace: 'w', model: 'account', body, toPayload: payloadFromJsonObject });
  return results.map((r) => ('error' in r! ? `${r!.op} ${r!.index}: ${(r!.error as Error).constructor.name}` : `${r!.op} ${r!.index}: ${r!.outcome}`));
}

describe("a batch's items of one record", () => {
  it('wait after one answers 503: the later ones, the delete included, are not attempted', async () => {
    const results = await run({ records: [{ name: 'R', plan: 'throttled' }, { name: 'S', plan: 'ok' }, { name: 'R', plan: 'later' }], delete: ['R'] });
    expect(results).toEqual(['upsert 0: UnavailableError', 'upsert 1: updated', 'upsert 2: UnavailableError', 'delete 0: UnavailableError']);
    expect(written).toEqual(['S:ok']);
  });

  it('run on after one is refused (4xx) or fails unexpectedly (500): neither is sent again as it was', async () => {
    for (const first of ['huge', 'defect']) {
      const results = await run({ records: [{ name: 'R', plan: first }, { name: 'R', plan: 'later' }], delete: ['R'] });
      expect([first, results]).toEqual([first, [`upsert 0: ${first === 'huge' ? 'RecordTooLargeError' : 'Error'}`, 'upsert 1: updated', 'delete 0: deleted']]);
      expect(written).toEqual(['R:later', 'R:deleted']);
    }
  });
});
