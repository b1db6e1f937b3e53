/**
 * The model cache: a definition read while this process changed it must not be cached, or the process would keep the
 * replaced definition (a deleted model, an old field type) for the cache's whole time. A fake definition store lets the
 * test hold a read until the change is made, which over HTTP is a race only sometimes won.
 */
import { CachingModelRegistry } from '../../lib/models/model-registry.js';
import { ModelNotFoundError } from '../../lib/records/errors.js';
import type { ModelDefinitionStore, StoredModelDefinition } from '../../lib/store/model-store.js';

const plan = (type: 'string' | 'number'): StoredModelDefinition => ({
  name: 'plan',
  uniqueField: 'sku',
  fields: { sku: { type: 'string' }, price: { type } },
  createdAt: '2026-12-06T00:00:00.000Z',
  updatedAt: '2026-12-06T00:00:00.000Z',
});

/** A store whose reads answer what is stored when they started, and can be held until the test lets them go. */
function heldStore() {
  let stored: StoredModelDefinition | undefined = plan('string');
  let hold: Promise<void> | undefined;
  let reads = 0;
  const store: ModelDefinitionStore = {
    getModel: async () => {
      reads += 1;
      const answer = stored;
      if (hold) await hold;
      return answer;
    },
    listModels: async () => (stored ? [stored] : []),
    modelsVersion: async () => undefined,
    putModel: async (_workspace, model) => ((stored = model), true),
    deleteModel: async () => ((stored = undefined), true),
  };
  return {
    store,
    reads: () => reads,
    change: (model: StoredModelDefinition | undefined) => (stored = model),
    holdReads: () => {
      let release!: () => void;
      hold = new Promise((resolve) => (release = resolve));
      return () => {
        hold = undefined;
        release();
      };
    },
  };
}

/** A registry whose first read is held while this process changes the definition to `next`, then let go. */
async function readDuringChange(next: StoredModelDefinition | undefined) {
  const fake = heldStore();
  const registry = new CachingModelRegistry(fake.store, 60_000);
  const release = fake.holdReads();
  const early = registry.resolve('w', 'plan'); // reads the old definition, and is held
  fake.change(next);
  registry.invalidate('w', 'plan');
  release();
  return { fake, registry, early };
}

describe('the model cache', () => {
  it('serves a definition from the cache once read', async () => {
    const fake = heldStore();
    const registry = new CachingModelRegistry(fake.store, 60_000);
    await registry.resolve('w', 'plan');
    await registry.resolve('w', 'plan');
    expect(fake.reads()).toBe(1);
  });

  it('holds at most its limit of definitions, dropping the one read longest ago', async () => {
    const fake = heldStore();
    const registry = new CachingModelRegistry(fake.store, 60_000, Date.now, 2);
    for (const workspace of ['a', 'b', 'c']) await registry.resolve(workspace, 'plan');
    expect(fake.reads()).toBe(3);
    // c and b are held; a, read longest ago, was dropped and is read again (which drops b).
    await registry.resolve('c', 'plan');
    await registry.resolve('b', 'plan');
    expect(fake.reads()).toBe(3);
    await registry.resolve('a', 'plan');
    expect(fake.reads()).toBe(4);
    await registry.resolve('c', 'plan');
    expect(fake.reads()).toBe(4);
  });

  it('does not cache a read that started before this process changed the definition', async () => {
    const { fake, registry, early } = await readDuringChange(plan('number'));
    expect((await early).fields.price).toEqual({ type: 'string' }); // that request saw what it read
    // The next request reads again and sees the change, not the old definition for the next 60 s.
    expect((await registry.resolve('w', 'plan')).fields.price).toEqual({ type: 'number' });
    expect(fake.reads()).toBe(2);
    await registry.resolve('w', 'plan');
    expect(fake.reads()).toBe(2);
  });

  it('forgets a deleted model at once, also when a read of it was under way', async () => {
    const { registry, early } = await readDuringChange(undefined);
    await early;
    await expect(registry.resolve('w', 'plan')).rejects.toBeInstanceOf(ModelNotFoundError);
  });
});
