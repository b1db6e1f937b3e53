/**
 * SPEC section 5: a key never appears in a log line. A full session (create keys with the CLI, use them, misuse them,
 * revoke them) runs against the shared stack; then every line the local gateway and the handlers wrote (stdout and
 * stderr of the stack, in GATHER_GATEWAY_LOG) is searched for the keys. The `npm start` banner that shows the dev key
 * to its owner is the one place a key may appear.
 */
import { readFileSync } from 'node:fs';
import { adminCli, call, devStack, gatewayLogLine, unique } from '../support/api-client.js';

describe('no key in logs', () => {
  it('keeps every key out of every log line', async () => {
    const workspace = unique('logs');
    expect((await adminCli(['workspace', 'create', workspace])).code).toBe(0);
    const outputs: string[] = [];
    const keys: { key: string; id: string }[] = [];
    for (const scopes of ['records:read,records:write', 'records:read']) {
      const created = await adminCli(['token', 'create', '--workspace', workspace, '--scopes', scopes, '--json']);
      const parsed = JSON.parse(created.stdout);
      keys.push({ key: parsed.key, id: parsed.id });
      outputs.push(created.stderr);
    }
    const [writer, reader] = keys as [{ key: string; id: string }, { key: string; id: string }];

    // Success, client errors, a handler error path, the authorizer's refusal, a mistyped key; each answered as expected,
    // and each request's own lines awaited below (the log is shared with every other suite).
    const mistyped = `${writer.key.slice(0, -1)}${writer.key.endsWith('x') ? 'y' : 'x'}`;
    const session = [
      [201, await call('POST', '/models/account/records', { json: { name: 'logged' }, token: writer.key })],
      [400, await call('POST', '/models/account/records', { raw: '{bad json', headers: { 'Content-Type': 'application/json' }, token: writer.key })],
      [403, await call('POST', '/models/account/records', { json: { name: 'x' }, token: reader.key })],
      [200, await call('GET', '/models/account/records/logged', { token: reader.key, headers: { 'X-Api-Key': reader.key } })],
      [401, await call('GET', '/models/account/records/logged', { token: mistyped })],
      // A key in a query parameter, which the route refuses as one it does not take.
      [422, await call('GET', `/models/account/records/logged?key=${encodeURIComponent(writer.key)}`, { token: writer.key })],
      // A key a client put where a record id goes: in the body, and in the path.
      [201, await call('POST', '/models/account/records', { json: { name: writer.key }, token: writer.key })],
      [200, await call('GET', `/models/account/records/${writer.key}`, { token: writer.key })],
      [404, await call('GET', `/models/account/records/${reader.key}x`, { token: reader.key })],
      [200, await call('GET', `/models/account/records/gth%5F${writer.key.slice(4)}`, { token: writer.key })],
      [404, await call('GET', `/models/account/records/${encodeURIComponent(`id ${reader.key.slice(4)}`)}`, { token: reader.key })],
      // A key cut in two by a client: most of it would follow the part the log shows.
      [404, await call('GET', `/models/account/records/${reader.key.slice(0, 11)}/${reader.key.slice(11)}`, { token: reader.key })],
      [404, await call('GET', `/models/account/records/${reader.key.slice(0, 6)}/x/${reader.key.slice(6)}`, { token: reader.key })],
      [404, await call('GET', `/models/account/records/${reader.key.slice(0, 12)}-${reader.key.slice(12)}`, { token: reader.key })],
      [404, await call('GET', `/models/account/records/${reader.key.slice(0, 12)}%20${reader.key.slice(12)}`, { token: reader.key })],
      [404, await call('GET', `/models/account/records/${reader.key.slice(4, 24)}/${reader.key.slice(24)}`, { token: reader.key })],
      // Beside an escape that is not one, which stops a decode of the whole segment.
      [400, await call('GET', `/models/account/records/gth%5F${reader.key.slice(4)}%ZZ`, { token: reader.key })],
    ] as const;
    expect(session.map(([, response]) => response.status)).toEqual(session.map(([status]) => status));
    for (const [status, response] of session) {
      expect(await gatewayLogLine(response.headers.get('x-amzn-requestid')!)).toMatchObject({ status });
    }
    // Each line names the route's template, as a stage's access log does, never the path: not a key a client put there,
    // nor a record id, which may be an e-mail address; a path no route takes is named by none.
    const address = `${unique('logged')}@example.com`;
    const read = await call('GET', `/models/customer/records/${encodeURIComponent(address)}`, { token: writer.key });
    const unrouted = await call('GET', `/nowhere/${encodeURIComponent(address)}`, { token: writer.key });
    expect([read.status, unrouted.status]).toEqual([404, 404]);
    expect(await gatewayLogLine(read.headers.get('x-amzn-requestid')!)).toMatchObject({ route: '/models/{model}/records/{id}', status: 404 });
    expect(await gatewayLogLine(unrouted.headers.get('x-amzn-requestid')!)).toMatchObject({ route: null, status: 404 });
    expect(readFileSync(process.env.GATHER_GATEWAY_LOG!, 'utf8')).not.toContain(address);

    for (const args of [['token', 'list', '--workspace', workspace], ['token', 'list', '--workspace', workspace, '--json'], ['token', 'revoke', reader.id]]) {
      const result = await adminCli(args);
      expect(result.code).toBe(0);
      outputs.push(result.stdout, result.stderr);
    }
    const last = await call('GET', '/models/account/records/logged', { token: reader.key });
    // The revoked key, refused once the 2 s cache lets go of it, or still served from it: either way a line of its own.
    expect([200, 401]).toContain(last.status);
    await gatewayLogLine(last.headers.get('x-amzn-requestid')!);

    const gatewayLog = readFileSync(process.env.GATHER_GATEWAY_LOG!, 'utf8');
    // Not the keys only: any 12 characters in a row of a key's random part (a prefix, a truncated or mistyped key, the
    // key without its `gth_`). 12 base62 characters are 71 bits, which no log line holds by chance.
    const windowLength = 12;
    const secrets = [...keys.map(({ key }) => key), mistyped].flatMap((key) => {
      const body = key.slice('gth_'.length);
      return Array.from({ length: body.length - windowLength + 1 }, (_, i) => body.slice(i, i + windowLength));
    });
    expect(secrets.length).toBeGreaterThan(3 * 20);
    for (const text of [...outputs, gatewayLog]) {
      const leaked = secrets.filter((secret) => text.includes(secret));
      expect(leaked).toEqual([]);
    }
    // The dev key appears only in the banner.
    const devKey = devStack().token;
    const linesWithDevKey = gatewayLog.split('\n').filter((line) => line.includes(devKey));
    expect(linesWithDevKey.length).toBeGreaterThan(0);
    for (const line of linesWithDevKey) expect(line).toMatch(/^\s+(API key \(workspace "dev", all scopes\):|export API_KEY=)/);
  });
});
