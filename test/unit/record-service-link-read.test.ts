/**
 * SPEC 4.7: a customer upsert that names an account issues its one link read concurrently with its write. A fake store
 * makes the order visible without timing: its write answers only once the link read has begun, so a service that
 * waited for the write before reading would leave the write unanswered, which the fake reports instead of hanging.
 */
import { standardModels } from '../../lib/models/standard-models.js';
import type { ModelRegistry } from '../../lib/models/model-registry.js';
import { RecordService } from '../../lib/records/record-service.js';
import type { RecordKey, RecordStore, UpsertCommand, UpsertResult } from '../../lib/store/record-store.js';

const models: ModelRegistry = { resolve: async (_workspace, name) => standardModels[name]! } as ModelRegistry;

function storeWhoseWriteWaitsForTheLinkRead() {
  const calls: string[] = [];
  let linkReadBegun = () => undefined as void;
  const linkRead = new Promise<void>((resolve) => (linkReadBegun = resolve));
  const store = {
    upsert: async (command: UpsertCommand): Promise<UpsertResult> => {
      calls.push('write begun');
      // Turns enough for any code between starting the write and awaiting it; after them the read has begun or never will.
      const waited = await Promise.race([
        linkRead.then(() => 'read' as const),
        (async () => {
          for (let turn = 0; turn < 20; turn++) await new Promise((resolve) => setImmediate(resolve));
          return 'no read' as const;
        })(),
      ]);
      calls.push(waited === 'read' ? 'write answered after the read began' : 'write answered with no read begun');
      const now = '2026-12-06T00:00:00.000Z';
      return { outcome: 'created', record: { key: command.key, version: 1, createdAt: now, updatedAt: now, fields: Object.fromEntries(command.set) } };
    },
    exists: async (key: RecordKey) => {
      calls.push(`read ${key.model} ${key.id}`);
      linkReadBegun();
      return true;
    },
  } as unknown as RecordStore;
  return { store, calls };
}

describe('a customer upsert that names an account', () => {
  it('reads the account while its write runs, once, and answers the link it read', async () => {
    const { store, calls } = storeWhoseWriteWaitsForTheLinkRead();
    const answer = await new RecordService(store, models).upsert({
      workspace: 'acme',
      model: 'customer',
      payload: { source: 'json', set: [['email', 'don@sterlingcooper.com'], ['account', 'Sterling Cooper']], unset: [] },
    });
    // One read, begun before the write answered: whichever of the two was started first.
    expect([...calls].sort()).toEqual(['read account Sterling Cooper', 'write answered after the read began', 'write begun']);
    expect(answer.record.links).toEqual({ account: { id: 'Sterling Cooper', exists: true } });
  });
});
