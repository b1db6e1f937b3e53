/**
 * Hostile input through HTTP, property-based (fast-check): random bodies, field names, ids, headers and content types
 * never produce a 5xx, always produce the error envelope when refused, and a refused request never changes what is
 * stored. Plus a catalogue of inputs that would reach DynamoDB's own limits, each with its specific answer.
 */
import fc from 'fast-check';
import { connect } from 'node:net';
import { call, devStack, errorCode, gatewayLogLine, unique, workspaceWithKey, type ApiResponse } from '../support/api-client.js';

const prototypeNames = ['__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'hasOwnProperty', '__defineGetter__'];
const fieldName = fc.oneof(fc.string({ unit: 'binary', maxLength: 40 }), fc.constantFrom(...prototypeNames, 'a.b', 'a[0]', '#x', ':v', 'SET', 'REMOVE', 'AND', 'name'));
/** Names the API accepts (no control character, no leading `_`): so that accepted bodies, not only refusals, are common. */
const acceptedName = fc.string({ minLength: 1, maxLength: 20 }).filter((name) => !name.startsWith('_') && !/\p{Cc}/u.test(name) && name !== 'name');
const value = fc.jsonValue({ maxDepth: 4 });
/** Values for the store to keep exactly: any JSON, and strings whose edges a careless conversion would lose. */
const storedValue = fc.oneof(value, fc.string({ maxLength: 12 }).map((text) => ` ${text}\t`));

function expectSane(response: ApiResponse): void {
  expect(response.status).toBeLessThan(500);
  if (response.status >= 400) errorCode(response);
}

describe('hostile input', () => {
  let token: string;
  const sentinel = unique('sentinel');
  let stored: unknown;

  beforeAll(async () => {
    ({ token } = await workspaceWithKey(['records:read', 'records:write']));
    const created = await call('POST', '/models/account/records', { json: { name: sentinel, keep: 'me' }, token });
    expect(created.status).toBe(201);
    stored = created.body;
  });

  const sentinelNow = async () => (await call('GET', `/models/account/records/${sentinel}`, { token })).body;

  it('random JSON bodies aimed at a stored record: never a 5xx, a refusal changes nothing, an acceptance stores each value as sent', async () => {
    const outcomes = { refused: 0, storedFields: 0 };
    await fc.assert(
      fc.asyncProperty(fc.dictionary(fc.oneof({ arbitrary: acceptedName, weight: 2 }, { arbitrary: fieldName, weight: 1 }), storedValue, { maxKeys: 8 }), async (fields) => {
        const body = { ...fields, name: sentinel };
        const response = await call('POST', '/models/account/records', { raw: JSON.stringify(body), headers: { 'Content-Type': 'application/json' }, token });
        expectSane(response);
        const now = await sentinelNow();
        if (response.status >= 400) {
          outcomes.refused += 1;
          expect(now).toEqual(stored);
          return;
        }
        stored = now;
        if (Object.keys(fields).some((field) => field !== 'name')) outcomes.storedFields += 1;
        // Every value comes back as JSON carried it (nested maps, lists, nulls, numbers, strings), and null removes.
        const sent = JSON.parse(JSON.stringify(body)) as Record<string, unknown>;
        const kept = (now as { fields: Record<string, unknown> }).fields;
        for (const [field, sentValue] of Object.entries(sent)) {
          if (sentValue === null) expect(Object.hasOwn(kept, field)).toBe(false);
          else expect(kept[field]).toEqual(sentValue);
        }
      }),
      { numRuns: 60 },
    );
    // Both halves of the property ran: bodies refused, and bodies whose fields were stored and read back (about 16 of
    // the 60 on average, 11 at the fewest in 28 sampled runs, so none at all would mean the generator stopped reaching it).
    expect(outcomes.refused).toBeGreaterThan(0);
    expect(outcomes.storedFields).toBeGreaterThan(0);
  });

  it('random field names: stored faithfully or refused with a 422, never a 5xx', async () => {
    let storedNames = 0;
    await fc.assert(
      fc.asyncProperty(fieldName, fc.string(), async (name, text) => {
        const id = unique('fname');
        const body = `{"name":${JSON.stringify(id)},${JSON.stringify(name)}:${JSON.stringify(text)}}`;
        const response = await call('POST', '/models/account/records', { raw: body, headers: { 'Content-Type': 'application/json' }, token });
        expectSane(response);
        if (response.status === 201 && name !== 'name') {
          const read = await call('GET', `/models/account/records/${encodeURIComponent(id)}`, { token });
          expect(Object.hasOwn(read.body.fields, name)).toBe(true);
          expect(read.body.fields[name]).toBe(text);
          storedNames += 1;
        } else if (response.status !== 201) {
          expect(response.status).toBe(422);
        }
      }),
      { numRuns: 60 },
    );
    // The stored half of the property ran: an API refusing every name would otherwise pass.
    expect(storedNames).toBeGreaterThan(0);
  });

  it('random form bodies: never a 5xx, and a refusal changes nothing', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: 'binary', maxLength: 200 }), async (form) => {
        const response = await call('POST', '/models/account/records', { raw: `name=${sentinel}&${form}`, headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, token });
        expectSane(response);
        const now = await sentinelNow();
        if (response.status >= 400) expect(now).toEqual(stored);
        else stored = now;
      }),
      { numRuns: 60 },
    );
  });

  it('random ids in paths, encoded or raw: 200, 400 or 404, never a 5xx', async () => {
    await fc.assert(
      // Both models: on account, the sentinel's own model, a DELETE that misread an id could remove it.
      // Never empty (a segment of its own; an empty one would be another route), so no run is skipped.
      fc.asyncProperty(fc.string({ unit: 'binary', minLength: 1, maxLength: 60 }), fc.boolean(), fc.constantFrom('account', 'customer'), async (id, encode, model) => {
        const segment = encode ? encodeURIComponent(id) : id.replace(/[/?#\s]/g, '_').replace(/[^\x21-\x7e]/g, 'x');
        for (const method of ['GET', 'DELETE']) {
          const response = await call(method, `/models/${model}/records/${segment}`, { token });
          expectSane(response);
          expect([200, 204, 400, 404]).toContain(response.status);
        }
      }),
      { numRuns: 60 },
    );
    expect(await sentinelNow()).toEqual(stored);
  });

  it('ids near a stored one, in paths: only what normalizes to it finds it, and a DELETE of any other removes nothing', async () => {
    // A stored id with a composed character, so that its decomposed (NFD) spelling is another string that normalizes to it.
    const near = `Caf\u00e9 ${unique('near')}`;
    expect((await call('POST', '/models/account/records', { json: { name: near }, token })).status).toBe(201);
    const path = (segment: string) => `/models/account/records/${segment}`;
    const same = [
      encodeURIComponent(near),
      encodeURIComponent(near.normalize('NFD')),
      `%20${encodeURIComponent(near)}%09`, // padding is trimmed, as from the unique field
    ];
    for (const segment of same) expect([segment, (await call('GET', path(segment), { token })).status]).toEqual([segment, 200]);
    const others = [
      encodeURIComponent(near.toUpperCase()), // ids other than e-mail addresses keep their case
      encodeURIComponent(near).replace('%20', '+'), // a plus in a path is a plus
      encodeURIComponent(encodeURIComponent(near)), // decoded once, not twice
      encodeURIComponent(near.replace(' ', '/')),
      `${encodeURIComponent(near)}x`,
    ];
    for (const segment of others) {
      for (const method of ['GET', 'DELETE']) {
        const response = await call(method, path(segment), { token });
        expect([method, segment, response.status]).toEqual([method, segment, 404]);
      }
    }
    expect((await call('GET', path(encodeURIComponent(near)), { token })).status).toBe(200);
  });

  it('random content types, conditional headers and raw bytes: never a 5xx, and refusals change nothing', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.string({ maxLength: 40 }), fc.constantFrom('application/json', 'application/x-www-form-urlencoded', 'application/json; charset=latin1', 'multipart/form-data')),
        fc.option(fc.string({ maxLength: 20 }), { nil: undefined }),
        fc.uint8Array({ maxLength: 200 }),
        async (contentType, ifMatch, bytes) => {
          const headers: Record<string, string> = {};
          if (/^[\x20-\x7e]*$/.test(contentType)) headers['Content-Type'] = contentType;
          if (ifMatch !== undefined && /^[\x21-\x7e]*$/.test(ifMatch)) headers['If-Match'] = ifMatch;
          const body = Buffer.concat([Buffer.from(`{"name":"${sentinel}","x":"`), Buffer.from(bytes), Buffer.from('"}')]);
          const response = await call('POST', '/models/account/records', { raw: body, headers, token });
          expectSane(response);
          const now = await sentinelNow();
          if (response.status >= 400) expect(now).toEqual(stored);
          else stored = now;
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe("DynamoDB's limits, each with its own answer", () => {
  let token: string;
  beforeAll(async () => {
    ({ token } = await workspaceWithKey(['records:read', 'records:write']));
  });
  const upsert = (json: unknown) => call('POST', '/models/account/records', { json, token });

  it('stores reserved words and paths that would overlap as plain, separate field names', async () => {
    const fields = { name: 'reserved', SET: 1, REMOVE: 2, AND: 3, size: 4, a: 5, 'a.b': 6, 'a[0]': 7, 'a.b.c': 8, ':v': 9, '#n': 10 };
    expect((await upsert(fields)).status).toBe(201);
    expect((await call('GET', '/models/account/records/reserved', { token })).body.fields).toEqual(fields);
    // And remove one of the overlapping names without touching the others.
    const removed = await upsert({ name: 'reserved', 'a.b': null });
    expect(removed.body.fields).toEqual({ ...fields, 'a.b': undefined });
    expect(Object.keys(removed.body.fields)).not.toContain('a.b');
  });

  it('stores values whose objects have keys named like what every object inherits, exactly as sent', async () => {
    // The marshaller picks a value's type by value.constructor.name: these once came back as 500s or wrong values.
    const kinds = ['Set', 'Map', 'String', 'Number', 'Boolean', 'Object', 'Array'];
    const fields = {
      name: 'inherited-keys',
      meta: Object.fromEntries(kinds.map((kind) => [`as_${kind}`, { constructor: { name: kind }, size: 1, length: 2 }])),
      plain: { constructor: 'text', toString: { valueOf: [1, { constructor: null }] }, hasOwnProperty: true, prototype: 0 },
      list: [{ constructor: { name: 'Set' } }, { valueOf: 'x' }] as unknown[],
    };
    const created = await upsert(fields);
    expect(created.status).toBe(201);
    expect(created.body.fields).toEqual(fields);
    expect((await call('GET', '/models/account/records/inherited-keys', { token })).body.fields).toEqual(fields);
    // The change test compares such values too: the same upsert again changes nothing.
    const again = await upsert(fields);
    expect([again.status, again.body.version]).toEqual([200, 1]);
    // And in a batch item, which writes through the same store.
    const batch = await call('POST', '/models/account/batch', { json: { records: [{ ...fields, name: 'inherited-keys-batch' }] }, token });
    expect(batch.body.results).toEqual([expect.objectContaining({ status: 201 })]);
    expect((await call('GET', '/models/account/records/inherited-keys-batch', { token })).body.fields).toEqual({ ...fields, name: 'inherited-keys-batch' });
  });

  it('keeps numbers DynamoDB can hold exactly, and refuses the rest with a 422', async () => {
    // Doubles past 2^53 are all integers, so large magnitudes are refused by the integer rule (send them as strings).
    const ok = await upsert({ name: 'numbers', small: 1e-130, tiny: -2.5e-100, max: Number.MAX_SAFE_INTEGER, neg: -Number.MAX_SAFE_INTEGER, frac: 0.1 });
    expect(ok.status).toBe(201);
    expect(ok.body.fields).toMatchObject({ small: 1e-130, tiny: -2.5e-100, max: Number.MAX_SAFE_INTEGER, frac: 0.1 });
    for (const raw of ['1234567890123456789012345678901234567890', '1e126', '-9007199254740992', '1e-131']) {
      const refused = await call('POST', '/models/account/records', { raw: `{"name":"numbers","x":${raw}}`, headers: { 'Content-Type': 'application/json' }, token });
      expect([raw, refused.status, errorCode(refused)]).toEqual([raw, 422, 'validation_failed']);
    }
  });

  it('accepts a record just under the item size limit and refuses one just over with a 413', async () => {
    expect((await upsert({ name: 'edge', blob: 'x'.repeat(349 * 1024) })).status).toBe(201);
    const over = await upsert({ name: 'edge2', blob: 'x'.repeat(351 * 1024) });
    expect(over.status).toBe(413);
    expect(errorCode(over)).toBe('record_too_large');
  });

  it('handles 300 fields with the longest names and If-Match (the expression limits), and refuses 301', async () => {
    const fields: Record<string, string> = { name: 'wide' };
    for (let i = 0; i < 299; i += 1) fields[`${'f'.repeat(250)}${String(i).padStart(5, '0')}`] = 'v';
    expect((await upsert(fields)).status).toBe(201);
    expect((await call('POST', '/models/account/records', { json: fields, token, headers: { 'If-Match': '"1"' } })).body.version).toBe(1);
    const removeAll = Object.fromEntries(Object.keys(fields).filter((k) => k !== 'name').map((k) => [k, null]));
    const removed = await call('POST', '/models/account/records', { json: { name: 'wide', ...removeAll }, token, headers: { 'If-Match': '"1"' } });
    expect(removed.status).toBe(200);
    expect(removed.body.fields).toEqual({ name: 'wide' });
    expect((await upsert({ ...fields, one_more: 'x' })).status).toBe(422);
  });
});

describe('what reaches the gateway before any handler', () => {
  /**
   * One raw exchange on its own connection: bytes no HTTP client would send. With `keepOpen` the client does not
   * half-close after writing, and waits for the server to close, as a pipelining client does.
   */
  const exchange = (text: string | Buffer, keepOpen = false) =>
    new Promise<{ status: number; head: string; body: string; raw: string }>((resolve, reject) => {
      const { hostname, port } = new URL(devStack().baseUrl);
      const socket = connect({ host: hostname, port: Number(port) });
      let received = '';
      socket.on('data', (chunk: Buffer) => (received += chunk.toString('utf8')));
      // A reset after the answer arrived (the server closes while the rest of an oversized request is still on its way)
      // ends the exchange like a close; one before any answer fails it.
      socket.on('error', (error) => (received === '' ? reject(error) : undefined));
      socket.on('close', () => {
        const [head = '', body = ''] = received.split('\r\n\r\n');
        resolve({ status: Number(head.split(' ')[1]), head, body, raw: received });
      });
      if (keepOpen) socket.write(text);
      else socket.end(text);
    });
  const envelope = (answer: { head: string; body: string }) => {
    const requestId = /x-amzn-requestid: (\S+)/i.exec(answer.head)?.[1];
    const parsed = JSON.parse(answer.body) as { error: { code: string; request_id: string } };
    expect(parsed.error.request_id).toBe(requestId);
    return parsed.error.code;
  };

  it('answers what the HTTP parser refuses, and targets that are no URL, in the envelope, never a 500', async () => {
    const tooLong = await exchange(`GET /health HTTP/1.1\r\nHost: x\r\nX-Junk: ${'a'.repeat(20_000)}\r\n\r\n`);
    expect([tooLong.status, envelope(tooLong)]).toEqual([431, 'bad_request']);
    for (const text of ['get /health HTTP/1.1\r\nHost: x\r\n\r\n', 'POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n']) {
      const refused = await exchange(text);
      expect([JSON.stringify(text), refused.status, envelope(refused)]).toEqual([JSON.stringify(text), 400, 'bad_request']);
    }
    // A target starting with // reads as a host to a URL parser; here it is a path that matches no route.
    for (const path of ['//x:abc/health', '//models:batch', '//[']) {
      const answer = await exchange(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      expect([path, answer.status, envelope(answer)]).toEqual([path, 404, 'route_not_found']);
    }
  });

  it("answers in the envelope what Node would answer bare or not at all: no Host, an unknown Expect, CONNECT", async () => {
    const noHost = await exchange('GET /health HTTP/1.1\r\nConnection: close\r\n\r\n');
    expect([noHost.status, envelope(noHost)]).toEqual([400, 'bad_request']);
    expect(JSON.parse(noHost.body).error.message).toMatch(/Host header/);
    // HTTP/1.0 has no Host requirement.
    expect((await exchange('GET /health HTTP/1.0\r\n\r\n')).status).toBe(200);
    const expectation = await exchange('GET /health HTTP/1.1\r\nHost: x\r\nExpect: foo\r\nConnection: close\r\n\r\n');
    expect([expectation.status, envelope(expectation)]).toEqual([417, 'bad_request']);
    const tunnel = await exchange('CONNECT localhost:1 HTTP/1.1\r\nHost: localhost:1\r\n\r\n', true);
    expect([tunnel.status, envelope(tunnel)]).toEqual([404, 'route_not_found']);
  });

  it('refuses two Host lines and a Host that is no host, as RFC 9112 has a server do, and takes a target in absolute form', async () => {
    for (const [hosts, message] of [
      [['a', 'b'], /one Host header/],
      [['x', 'x'], /one Host header/],
      [['bad host/x'], /host name or address/],
      [['x:80:80'], /host name or address/],
    ] as const) {
      const lines = hosts.map((host) => `Host: ${host}\r\n`).join('');
      const refused = await exchange(`GET /health HTTP/1.1\r\n${lines}Connection: close\r\n\r\n`);
      expect([hosts, refused.status, envelope(refused)]).toEqual([hosts, 400, 'bad_request']);
      expect(JSON.parse(refused.body).error.message).toMatch(message);
    }
    for (const host of ['localhost:3000', '127.0.0.1', '[::1]:3000', 'api.example.com']) {
      expect([host, (await exchange(`GET /health HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`)).status]).toEqual([host, 200]);
    }
    // A client sending through a proxy names the whole URL; the route is its path, the query string included.
    const { token } = await workspaceWithKey(['records:read', 'records:write']);
    expect((await call('POST', '/models/account/records', { json: { name: 'absolute form' }, token })).status).toBe(201);
    for (const target of ['http://x/models/account/records/absolute%20form', 'HTTP://x:1/models/account/record?id=absolute+form']) {
      const answer = await exchange(`GET ${target} HTTP/1.1\r\nHost: x\r\nAuthorization: Token ${token}\r\nConnection: close\r\n\r\n`, true);
      expect([target, answer.status, answer.body]).toEqual([target, 200, expect.stringContaining('"id":"absolute form"')]);
    }
    expect((await exchange('GET http://x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')).status).toBe(404);
    // The host a target in absolute form names is the one checked (RFC 9112 section 3.2.2), credentials aside.
    for (const [target, status] of [['http://x:abc/health', 400], ['http:///health', 400], ['http://user:pw@x:80/health', 200]] as const) {
      expect([target, (await exchange(`GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`, true)).status]).toEqual([target, status]);
    }
    // Host lines are checked all the same: two of them, one that is no host, or none in HTTP/1.1 (RFC 9112 section 3.2
    // asks for it in every form) are a 400 in absolute form too; HTTP/1.0 needs none.
    for (const hosts of ['Host: a\r\nHost: b\r\n', 'Host: bad host\r\n', '']) {
      expect([hosts, (await exchange(`GET http://x/health HTTP/1.1\r\n${hosts}Connection: close\r\n\r\n`, true)).status]).toEqual([hosts, 400]);
    }
    expect((await exchange('GET http://x/health HTTP/1.0\r\n\r\n', true)).status).toBe(200);
    // The target's host, not the Host line, is the one the handlers see (the API reference names the server by it).
    const reference = await exchange('GET http://api.example.com:8443/openapi.json HTTP/1.1\r\nHost: other.example\r\nConnection: close\r\n\r\n', true);
    expect((JSON.parse(reference.body) as { servers: { url: string }[] }).servers[0]!.url).toBe('https://api.example.com:8443');
    // The log line names the route's template alone: never the scheme, the host or the credentials of the target.
    const secret = `pw${Date.now()}`;
    const credentials = await exchange(`GET http://user:${secret}@x/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`, true);
    const line = await gatewayLogLine(/x-amzn-requestid: (\S+)/i.exec(credentials.head)![1]!);
    expect([line.route, JSON.stringify(line).includes(secret)]).toEqual(['/health', false]);
  });

  it('runs requests pipelined on one connection in the order they were sent, not side by side', async () => {
    const { token } = await workspaceWithKey(['records:read', 'records:write']);
    const auth = `Host: x\r\nAuthorization: Token ${token}\r\n`;
    // A slow batch that makes the record, then a quick delete of it, then a read: run side by side, the delete would
    // find nothing (404) and the batch make the record after it, leaving it behind.
    const body = JSON.stringify({ records: Array.from({ length: 200 }, (_, i) => ({ name: `in-order-${i}` })) });
    const batch = `POST /models/account/batch HTTP/1.1\r\n${auth}Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    const remove = `DELETE /models/account/records/in-order-199 HTTP/1.1\r\n${auth}\r\n`;
    const read = `GET /models/account/records/in-order-199 HTTP/1.1\r\n${auth}Connection: close\r\n\r\n`;
    const answer = await exchange(batch + remove + read, true);
    const statuses = [...answer.raw.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));
    expect(statuses).toEqual([200, 204, 404]);
    expect((await call('GET', '/models/account/records/in-order-199', { token })).status).toBe(404);
    expect((await call('GET', '/models/account/records/in-order-198', { token })).status).toBe(200);
  });

  it('answers a malformed request pipelined behind others after all of their answers, never in place of one', async () => {
    const { token } = await workspaceWithKey(['records:read', 'records:write']);
    expect((await call('POST', '/models/account/records', { json: { name: 'piped-gone' }, token })).status).toBe(201);
    const auth = `Host: x\r\nAuthorization: Token ${token}\r\n`;
    const body = JSON.stringify({ records: Array.from({ length: 200 }, (_, i) => ({ name: `piped-slow-${i}` })) });
    const batch = `POST /models/account/batch HTTP/1.1\r\n${auth}Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    const remove = `DELETE /models/account/records/piped-gone HTTP/1.1\r\n${auth}\r\n`;
    const answer = await exchange(`${batch}${remove}GARBAGE\r\n\r\n`, true);
    // The delete queued behind the slow batch gets its own 204; the parser's 400 comes last.
    expect([...answer.raw.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]))).toEqual([200, 204, 400]);
    expect((await call('GET', '/models/account/records/piped-gone', { token })).status).toBe(404);
  });

  it('answers CONNECT, an upgrade and a request answered before its broken body in their turn, once each', async () => {
    const { token } = await workspaceWithKey(['records:read', 'records:write']);
    const auth = `Host: x\r\nAuthorization: Token ${token}\r\n`;
    const upsert = (name: string) => {
      const body = JSON.stringify({ name });
      return `POST /models/account/records HTTP/1.1\r\n${auth}Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
    };
    const statuses = (raw: string) => [...raw.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));
    // CONNECT after a write: the write's own answer first.
    expect(statuses((await exchange(`${upsert('before-connect')}CONNECT x:1 HTTP/1.1\r\nHost: x:1\r\n\r\n`, true)).raw)).toEqual([201, 404]);
    // An upgrade no route offers: answered, and the connection closed after it, since Node reads nothing more of it.
    const upgraded = await exchange(`GET /health HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n${upsert('after-upgrade')}`, true);
    expect([statuses(upgraded.raw), /\r\nConnection: close\r\n/i.test(upgraded.head)]).toEqual([[200], true]);
    expect((await call('GET', '/models/account/records/after-upgrade', { token })).status).toBe(404);
    // A request answered before its body was read (no such route), whose chunked body then breaks: one answer.
    const broken = await exchange(`POST /nowhere HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n`, true);
    expect(statuses(broken.raw)).toEqual([404]);
  });

  it('answers every request of a client that half-closes its side once it has sent them', async () => {
    const { token } = await workspaceWithKey(['records:read', 'records:write']);
    const auth = `Host: x\r\nAuthorization: Token ${token}\r\n`;
    const body = JSON.stringify({ name: 'half-closed' });
    const post = `POST /models/account/records HTTP/1.1\r\n${auth}Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
    const read = `GET /models/account/records/half-closed HTTP/1.1\r\n${auth}\r\n`;
    // Written, then the client's side closed at once (the exchange without keepOpen): the write gets its answer.
    const answer = await exchange(`${post}${read}${read}`);
    expect([...answer.raw.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]))).toEqual([201, 200, 200]);
  });

  it('ignores what follows a request that asked to close the connection, and answers that request', async () => {
    const { token } = await workspaceWithKey(['records:read', 'records:write']);
    expect((await call('POST', '/models/account/records', { json: { name: 'closing-delete' }, token })).status).toBe(201);
    const auth = `Host: x\r\nAuthorization: Token ${token}\r\n`;
    const health = 'GET /health HTTP/1.1\r\nHost: x\r\n\r\n';
    const remove = `DELETE /models/account/records/closing-delete HTTP/1.1\r\n${auth}Connection: close\r\n\r\n`;
    const answer = await exchange(`${health}${remove}${health}`, true);
    expect([...answer.raw.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]))).toEqual([200, 204]);
    expect((await call('GET', '/models/account/records/closing-delete', { token })).status).toBe(404);
  });

  it('runs no request pipelined behind an answer that closes the connection', async () => {
    const { token } = await workspaceWithKey(['records:read', 'records:write']);
    expect((await call('POST', '/models/account/records', { json: { name: 'after-close' }, token })).status).toBe(201);
    const auth = `Host: x\r\nAuthorization: Token ${token}\r\n`;
    const remove = `DELETE /models/account/records/after-close HTTP/1.1\r\n${auth}\r\n`;
    // A request that asks to close, and one the gateway closes after (a body over 10 MB: its 413 cuts the connection).
    const closing = await exchange(`GET /models/account/records/after-close HTTP/1.1\r\n${auth}Connection: close\r\n\r\n${remove}`, true);
    expect([...closing.raw.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]))).toEqual([200]);
    const huge = 10 * 1024 * 1024 + 1;
    const oversized = `POST /models/account/records HTTP/1.1\r\n${auth}Content-Type: application/json\r\nContent-Length: ${huge}\r\n\r\n${'x'.repeat(huge)}`;
    const cut = await exchange(`${oversized}${remove}`, true);
    expect([...cut.raw.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]))).toEqual([413]);
    // RFC 9112 section 9.6: the client was told the connection ends, so the DELETE was never run. That it never runs
    // can only be seen by waiting: a second, many times what a DELETE takes here, so a wrongly run one has landed.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect((await call('GET', '/models/account/records/after-close', { token })).status).toBe(200);
  });

  it('answers a malformed request pipelined behind a slow one only after the slow one has its own answer', async () => {
    const { token } = await workspaceWithKey(['records:read', 'records:write']);
    const body = JSON.stringify({ records: Array.from({ length: 300 }, (_, i) => ({ name: `piped-${i}` })) });
    const first = `POST /models/account/batch HTTP/1.1\r\nHost: x\r\nAuthorization: Token ${token}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    const answer = await exchange(`${first}get /health HTTP/1.1\r\nHost: x\r\n\r\n`, true);
    // The batch's 200 comes first, whole; the parser's 400 after it, never in its place.
    expect(answer.status).toBe(200);
    const second = answer.body.indexOf('HTTP/1.1 400');
    expect(second).toBeGreaterThan(0);
    expect((JSON.parse(answer.body.slice(0, second)) as { results: unknown[] }).results).toHaveLength(300);
  });

  it('answers a malformed chunk in a request body with a 400 at once, and writes nothing', async () => {
    const { token } = await workspaceWithKey(['records:read', 'records:write']);
    // The client keeps its side open, as a real one waiting for its answer does: the refusal must come on its own (the
    // request's handler was waiting for a body that never ends, and the 400 waited for that handler).
    for (const chunks of ['zz\r\n{"name":"chunked-bad"}\r\n0\r\n\r\n', '14\r\n{"name":"chunked-bad"}XX0\r\n\r\n']) {
      const answer = await exchange(
        `POST /models/account/records HTTP/1.1\r\nHost: x\r\nAuthorization: Token ${token}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n${chunks}`,
        true,
      );
      expect([JSON.stringify(chunks), answer.status, envelope(answer)]).toEqual([JSON.stringify(chunks), 400, 'bad_request']);
    }
    expect((await call('GET', '/models/account/records/chunked-bad', { token })).status).toBe(404);
  });

  it('refuses a transfer coding it does not apply, and Transfer-Encoding on HTTP/1.0, writing nothing (RFC 9112 section 6.1)', async () => {
    const { token } = await workspaceWithKey(['records:read', 'records:write']);
    const form = 'name=te-refused&x=1';
    const chunked = `${Buffer.byteLength(form).toString(16)}\r\n${form}\r\n0\r\n\r\n`;
    const post = (version: string, codings: string) =>
      `POST /models/account/records HTTP/${version}\r\nHost: x\r\nAuthorization: Token ${token}\r\nContent-Type: application/x-www-form-urlencoded\r\n` +
      `Transfer-Encoding: ${codings}\r\n\r\n${chunked}`;
    for (const [version, codings, message] of [
      ['1.1', 'gzip, chunked', /Transfer-Encoding gzip is not supported/],
      ['1.1', 'foo,chunked', /Transfer-Encoding foo is not supported/],
      ['1.0', 'chunked', /HTTP\/1\.0 request cannot carry Transfer-Encoding/],
    ] as const) {
      const answer = await exchange(post(version, codings), true);
      expect([version, codings, answer.status, envelope(answer)]).toEqual([version, codings, 400, 'bad_request']);
      expect(JSON.parse(answer.body).error.message).toMatch(message);
      expect(answer.head).toMatch(/\r\nConnection: close\r\n/i);
    }
    expect((await call('GET', '/models/account/records/te-refused', { token })).status).toBe(404);
    // Before any other refusal, which would keep the connection: a bad Host, an unknown Expect.
    for (const [from, to] of [
      ['Host: x\r\n', 'Host: bad host\r\n'],
      ['Host: x\r\n', 'Host: x\r\nExpect: foo\r\n'],
    ] as const) {
      const refused = await exchange(post('1.1', 'gzip, chunked').replace(from, to), true);
      expect([to, refused.status, JSON.parse(refused.body).error.message]).toEqual([to, 400, expect.stringMatching(/Transfer-Encoding gzip is not supported/)]);
      expect(refused.head).toMatch(/\r\nConnection: close\r\n/i);
    }
    // A 0xA0 byte is no HTTP whitespace (JavaScript's trim would take it for one): a coding that is not chunked.
    const nbsp = await exchange(Buffer.from(post('1.1', '\u00a0, chunked'), 'latin1'), true);
    expect([nbsp.status, envelope(nbsp)]).toEqual([400, 'bad_request']);
    // Nothing pipelined behind the refusal runs, in the same write as the refused request and its body.
    const survivor = unique('te-survivor');
    expect((await call('POST', '/models/account/records', { json: { name: survivor }, token })).status).toBe(201);
    const behind = `DELETE /models/account/records/${survivor} HTTP/1.1\r\nHost: x\r\nAuthorization: Token ${token}\r\n\r\n`;
    for (const refused of [post('1.1', 'gzip, chunked'), post('1.0', 'chunked').replace('HTTP/1.0\r\n', 'HTTP/1.0\r\nConnection: keep-alive\r\n')]) {
      const answer = await exchange(`${refused}${behind}`, true);
      expect([...answer.raw.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]))).toEqual([400]);
    }
    // That it never runs can only be seen by waiting: a second, many times what a DELETE takes here.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect((await call('GET', `/models/account/records/${survivor}`, { token })).status).toBe(200);
    // On a route that does not exist too: its 404 would keep the connection, whose next request that framing decides.
    const unrouted = await exchange(post('1.0', 'chunked').replace('/models/account/records', '/nowhere'), true);
    expect([unrouted.status, envelope(unrouted)]).toEqual([400, 'bad_request']);
    expect(unrouted.head).toMatch(/\r\nConnection: close\r\n/i);
    // Chunked alone, in any case, is the body's framing and taken.
    expect((await exchange(post('1.1', 'Chunked').replace('HTTP/1.1\r\n', 'HTTP/1.1\r\nConnection: close\r\n'))).status).toBe(201);
    // Chunk extensions over the parser's limit: a body too large, as its status says.
    const extended = await exchange(
      `POST /models/account/records HTTP/1.1\r\nHost: x\r\nAuthorization: Token ${token}\r\nTransfer-Encoding: chunked\r\n\r\n5;${'e'.repeat(20_000)}\r\n`,
      true,
    );
    expect([extended.status, envelope(extended)]).toEqual([413, 'payload_too_large']);
  });

  it('refuses a query string that is not valid percent-encoded UTF-8, rather than decoding it to another id', async () => {
    const { token } = await workspaceWithKey(['records:read', 'records:write']);
    expect((await call('POST', '/models/account/records', { json: { name: '\uFFFD(' }, token })).status).toBe(201);
    for (const id of ['%C3%28', '%FF%28', '%ZZ']) {
      const read = await call('GET', `/models/account/record?id=${id}`, { token });
      expect([id, read.status, errorCode(read)]).toEqual([id, 400, 'bad_request']);
      expect((await call('DELETE', `/models/account/record?id=${id}`, { token })).status).toBe(400);
    }
    expect((await call('GET', '/models/account/record?id=%EF%BF%BD(', { token })).status).toBe(200);
  });

  it('refuses a request with two Authorization lines: which identity is meant is a guess', async () => {
    const { token } = await workspaceWithKey(['records:read']);
    const answer = await exchange(
      `GET /models/account/records HTTP/1.1\r\nHost: x\r\nAuthorization: Token ${token}\r\nAuthorization: Token ${devStack().token}\r\nConnection: close\r\n\r\n`,
    );
    expect([answer.status, envelope(answer)]).toEqual([401, 'unauthorized']);
  });
});
