/** SPEC section 4, upsert rule 4: concurrent upserts never lose each other's fields, and the version counts each change once. */
import { call, unique } from '../support/api-client.js';

describe('concurrent upserts', () => {
  it('50 writers of different fields to one record lose nothing, and each change raises the version by one', async () => {
    const name = unique('busy');
    const writers = 50;
    const responses = await Promise.all(
      Array.from({ length: writers }, (_, i) => call('POST', '/models/account/records', { json: { name, [`field_${i}`]: i } })),
    );
    expect(responses.map((r) => r.status).sort()).toEqual([...Array<number>(writers - 1).fill(200), 201]);
    // Every write changed the record, so the versions handed out are exactly 1..50, each once.
    expect(responses.map((r) => r.body.version).sort((a, b) => a - b)).toEqual(Array.from({ length: writers }, (_, i) => i + 1));
    const read = await call('GET', `/models/account/records/${name}`);
    expect(read.body.version).toBe(writers);
    for (let i = 0; i < writers; i += 1) expect(read.body.fields[`field_${i}`]).toBe(i);
    // The writes land in another order than they were stamped in; none shows a change before the record was made.
    for (const record of [...responses.map((r) => r.body), read.body]) {
      expect(record.created_at).toBe(read.body.created_at);
      expect(record.updated_at >= record.created_at).toBe(true);
    }
  });

  it('of K writers racing with If-Match on one version, exactly one wins', async () => {
    const name = unique('race');
    await call('POST', '/models/account/records', { json: { name } });
    const responses = await Promise.all(
      Array.from({ length: 20 }, (_, i) => call('POST', '/models/account/records', { json: { name, winner: i }, headers: { 'If-Match': '"1"' } })),
    );
    const statuses = responses.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s === 412)).toHaveLength(19);
    const read = await call('GET', `/models/account/records/${name}`);
    expect(read.body.version).toBe(2);
    expect(read.body.fields.winner).toBe(responses.find((r) => r.status === 200)!.body.fields.winner);
  });

  it('of K create-only writers, exactly one gets a 201', async () => {
    const name = unique('first');
    const responses = await Promise.all(
      Array.from({ length: 20 }, (_, i) => call('POST', '/models/account/records', { json: { name, by: i }, headers: { 'If-None-Match': '*' } })),
    );
    expect(responses.filter((r) => r.status === 201)).toHaveLength(1);
    expect(responses.filter((r) => r.status === 412)).toHaveLength(19);
  });

  it('identical concurrent upserts create once and change nothing after', async () => {
    const name = unique('same');
    const responses = await Promise.all(Array.from({ length: 20 }, () => call('POST', '/models/account/records', { json: { name, a: 1 } })));
    expect(responses.filter((r) => r.status === 201)).toHaveLength(1);
    expect(new Set(responses.map((r) => r.body.version))).toEqual(new Set([1]));
  });

  it('never resurrects a record when conditional upserts race its delete', async () => {
    for (let round = 0; round < 5; round += 1) {
      const name = unique('doomed');
      await call('POST', '/models/account/records', { json: { name } });
      const [deleted, ...upserts] = await Promise.all([
        call('DELETE', `/models/account/records/${name}`),
        ...Array.from({ length: 10 }, (_, i) => call('POST', '/models/account/records', { json: { name, by: i }, headers: { 'If-Match': '"1"' } })),
      ]);
      expect(deleted.status).toBe(204);
      // Whatever the order, an If-Match on version 1 applies at most once, and never after the delete.
      expect(upserts.filter((r) => r.status === 200).length).toBeLessThanOrEqual(1);
      expect(upserts.every((r) => r.status === 200 || r.status === 412)).toBe(true);
      expect((await call('GET', `/models/account/records/${name}`)).status).toBe(404);
    }
  });
});
