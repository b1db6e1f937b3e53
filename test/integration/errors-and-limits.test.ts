/**
 * SPEC section 4, errors and limits: every bad request gets its 4xx in the error envelope, and changes nothing.
 * Each case runs against an existing record and checks afterwards that it is exactly as before.
 */
import { request as httpRequest } from 'node:http';
import { gzipSync } from 'node:zlib';
import { call, devStack, errorCode, unique, type RequestOptions } from '../support/api-client.js';
import { runScript } from '../support/script-process.js';

const deep = (depth: number): unknown => (depth === 0 ? 'leaf' : { d: deep(depth - 1) });

describe('bad requests', () => {
  const name = unique('target');
  let before: unknown;

  beforeAll(async () => {
    const created = await call('POST', '/models/account/records', { json: { name, keep: 'me' } });
    expect(created.status).toBe(201);
    before = created.body;
  });

  afterEach(async () => {
    const after = await call('GET', `/models/account/records/${name}`);
    expect(after.body).toEqual(before);
  });

  // A case whose body names another record than the target gives that id: refused, it must not be stored either.
  const cases: [string, RequestOptions, number, string, string?][] = [
    ['JSON that does not parse', { raw: `{"name": "${name}", "x": `, headers: { 'Content-Type': 'application/json' } }, 400, 'malformed_body'],
    ['a JSON array', { json: [{ name }] }, 400, 'malformed_body'],
    ['a JSON string', { json: 'hello' }, 400, 'malformed_body'],
    ['invalid UTF-8 in JSON', { raw: Buffer.concat([Buffer.from(`{"name":"${name}","x":"`), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]), headers: { 'Content-Type': 'application/json' } }, 400, 'malformed_body'],
    ['invalid UTF-8 inside a form escape', { form: `name=${name}&x=%FF%FE` }, 400, 'malformed_body'],
    ['text/plain', { raw: `name=${name}&x=1`, headers: { 'Content-Type': 'text/plain' } }, 415, 'unsupported_media_type'],
    ['a body without a Content-Type', { raw: new TextEncoder().encode(`{"name":"${name}"}`), headers: { 'Content-Type': '' } }, 415, 'unsupported_media_type'],
    ['a non-UTF-8 charset', { raw: `name=${name}`, headers: { 'Content-Type': 'application/x-www-form-urlencoded; charset=latin1' } }, 415, 'unsupported_media_type'],
    ['a field starting with _', { json: { name, _secret: 1 } }, 422, 'validation_failed'],
    ['__proto__ as a field', { raw: `{"name":"${name}","__proto__":{"polluted":true}}`, headers: { 'Content-Type': 'application/json' } }, 422, 'validation_failed'],
    ['__proto__ inside a value', { raw: `{"name":"${name}","x":{"__proto__":{"polluted":true}}}`, headers: { 'Content-Type': 'application/json' } }, 422, 'validation_failed'],
    ['an empty field name', { json: { name, '': 1 } }, 422, 'validation_failed'],
    ['a control character in a field name', { json: { name, 'a\u0007b': 1 } }, 422, 'validation_failed'],
    ['a 256-byte field name', { json: { name, ['é'.repeat(128)]: 1 } }, 422, 'validation_failed'],
    ['values nested 17 deep', { json: { name, x: deep(17) } }, 422, 'validation_failed'],
    // Beside a number to check for rounding, whose reviver could not walk so deep (it was a 400 "not valid JSON").
    ['values nested 10,000 deep beside a 16-digit fraction', { raw: `{"name":"${name}","n":4503599627370497.5,"x":${'['.repeat(10_000)}${']'.repeat(10_000)}}`, headers: { 'Content-Type': 'application/json' } }, 422, 'validation_failed'],
    ['an integer past 2^53 - 1', { raw: `{"name":"${name}","x":9007199254740993}`, headers: { 'Content-Type': 'application/json' } }, 422, 'validation_failed'],
    ['a number that overflows', { raw: `{"name":"${name}","x":1e400}`, headers: { 'Content-Type': 'application/json' } }, 422, 'validation_failed'],
    ['a number below DynamoDB\'s smallest', { raw: `{"name":"${name}","x":1e-200}`, headers: { 'Content-Type': 'application/json' } }, 422, 'validation_failed'],
    ['a nested subnormal number', { raw: `{"name":"${name}","x":[5e-324]}`, headers: { 'Content-Type': 'application/json' } }, 422, 'validation_failed'],
    ['an empty key inside a value', { json: { name, x: { '': 1 } } }, 422, 'validation_failed'],
    ['a 256-byte key inside a value', { json: { name, x: { ['k'.repeat(256)]: 1 } } }, 422, 'validation_failed'],
    ['a 70 KB key inside a value', { json: { name, x: { ['k'.repeat(70 * 1024)]: 1 } } }, 422, 'validation_failed'],
    ['a lone surrogate', { raw: `{"name":"${name}","x":"\\ud800"}`, headers: { 'Content-Type': 'application/json' } }, 422, 'validation_failed'],
    ['301 fields', { json: Object.fromEntries([['name', name], ...Array.from({ length: 300 }, (_, i) => [`f${i}`, i])]) }, 422, 'validation_failed'],
    ['a field both set and removed', { form: `name=${name}&x=1&_unset=x` }, 422, 'validation_failed'],
    ['an empty unique value', { json: { name: '   ' } }, 422, 'validation_failed'],
    ['a unique value over 1,024 bytes', { json: { name: 'n'.repeat(1025) } }, 422, 'validation_failed'],
    ['a non-string unique value', { json: { name: { first: 'x' } } }, 422, 'validation_failed'],
    ['a body over 1 MB', { json: { name, blob: 'x'.repeat(1024 * 1024) } }, 413, 'payload_too_large'],
    ['a record over 350 KB', { json: { name, blob: 'x'.repeat(360 * 1024) } }, 413, 'record_too_large'],
    ['an empty body', { raw: '', headers: { 'Content-Type': '' } }, 400, 'malformed_body'],
    ['an empty form body', { raw: '', headers: { 'Content-Type': 'application/x-www-form-urlencoded' } }, 400, 'malformed_body'],
    // Bodies are taken as sent: a coding other than identity is refused, whether the body is compressed or not.
    ['a gzip body', { raw: gzipSync('{"name":"gz"}'), headers: { 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' } }, 415, 'unsupported_media_type', 'gz'],
    ['a plain body labelled br', { raw: '{"name":"br-labelled"}', headers: { 'Content-Type': 'application/json', 'Content-Encoding': 'br' } }, 415, 'unsupported_media_type', 'br-labelled'],
  ];

  // The id comes as a rest parameter: a fifth parameter of its own would make jest take the function for one that waits
  // for a `done` callback on the rows that have four values.
  it.each(cases)('%s', async (_label, options, status, code, ...[otherId]) => {
    const response = await call('POST', '/models/account/records', options);
    expect(response.status).toBe(status);
    expect(errorCode(response)).toBe(code);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    if (otherId !== undefined) expect((await call('GET', `/models/account/records/${otherId}`)).status).toBe(404);
  });

  it('takes Content-Encoding: identity (or empty) as no coding, and reads a coding sent on two lines as both', async () => {
    for (const coding of ['identity', ' ']) {
      const response = await call('POST', '/models/account/records', { json: { name: unique('identity') }, headers: { 'Content-Encoding': coding } });
      expect([coding, response.status]).toEqual([coding, 201]);
    }
    // `br` then `identity`: the body is labelled br, whatever the last line says; nothing is stored.
    const { baseUrl, token } = devStack();
    const name = unique('two-codings');
    const status = await new Promise<number>((resolve, reject) => {
      const url = new URL('/models/account/records', baseUrl);
      const headers = ['Host', url.host, 'Authorization', `Token ${token}`, 'Content-Type', 'application/json', 'Content-Encoding', 'br', 'content-encoding', 'identity'];
      const request = httpRequest(url, { method: 'POST', headers }, (response) => {
        response.resume();
        response.on('end', () => resolve(response.statusCode ?? 0));
      });
      request.on('error', reject);
      request.end(JSON.stringify({ name }));
    });
    expect(status).toBe(415);
    expect((await call('GET', `/models/account/records/${name}`)).status).toBe(404);
  });

  it('names every invalid field in the details', async () => {
    const response = await call('POST', '/models/account/records', { json: { name, _a: 1, '': 2, ok: 3 } });
    expect(response.status).toBe(422);
    expect(response.body.error.details.map((d: { field: string }) => d.field).sort()).toEqual(['', '_a']);
  });

  it('answers a missing unique field with missing_unique_field', async () => {
    const response = await call('POST', '/models/customer/records', { json: { title: 'no email' } });
    expect(response.status).toBe(422);
    expect(errorCode(response)).toBe('missing_unique_field');
    expect(response.body.error.details).toEqual([{ field: 'email', issue: 'is required' }]);
  });

  it('answers a body over 10 MB with the gateway 413 in the envelope', async () => {
    const response = await call('POST', '/models/account/records', { raw: 'x'.repeat(10 * 1024 * 1024 + 1), headers: { 'Content-Type': 'application/json' } });
    expect(response.status).toBe(413);
    expect(errorCode(response)).toBe('payload_too_large');
  });

  it('accepts a record just under the limits', async () => {
    const wide = unique('wide');
    const response = await call('POST', '/models/account/records', {
      json: { name: wide, blob: 'x'.repeat(340 * 1024), nested: deep(15), big: 9007199254740991, ['é'.repeat(127)]: 'long name' },
    });
    expect(response.status).toBe(201);
    expect(response.body.fields.big).toBe(9007199254740991);
    await call('DELETE', `/models/account/records/${wide}`);
  });

});

describe('routes and keys', () => {
  it('answers an unknown route and an unknown method with a 404 in the envelope', async () => {
    for (const [method, path] of [['GET', '/nothing/here'], ['PUT', '/models/account/records'], ['PATCH', '/health']] as const) {
      const response = await call(method, path, { token: null });
      expect(response.status).toBe(404);
      expect(errorCode(response)).toBe('route_not_found');
    }
  });

  it('copes with query and header names that are Object.prototype properties', async () => {
    // Each named as a parameter the route does not take, none taken for an inherited property.
    const query = await call('GET', `/models/account/records/${unique('x')}?constructor=1&__proto__=2&toString=3&hasOwnProperty=4`);
    expect([query.status, errorCode(query)]).toEqual([422, 'validation_failed']);
    expect(query.body.error.details.map((d: { field: string }) => d.field)).toEqual(['constructor', '__proto__', 'toString', 'hasOwnProperty']);
    const listed = await call('GET', '/models/account/records?constructor=1&__proto__=2&limit=1');
    expect(listed.body.error.details.map((d: { field: string }) => d.field)).toEqual(['constructor', '__proto__']);
    const headers = await call('POST', '/models/account/records', {
      json: { name: unique('h') },
      headers: { constructor: 'x', __proto__: 'y', toString: 'z', valueOf: 'v' } as Record<string, string>,
    });
    expect(headers.status).toBe(201);
  });

  it('serves /health without a key', async () => {
    const response = await call('GET', '/health', { token: null });
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ status: 'ok' });
  });

  it.each([
    ['no key', null],
    ['a malformed key', 'not-a-key'],
    ['a key with a wrong checksum', 'gth_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'],
  ])('answers %s with a 401', async (_label, token) => {
    const response = await call('GET', '/models/account/records/x', { token });
    expect(response.status).toBe(401);
    expect(errorCode(response)).toBe('unauthorized');
  });
});

describe('the API reference', () => {
  it('is served without a key at /openapi.json, naming the server it was asked on', async () => {
    const response = await call('GET', '/openapi.json', { token: null });
    expect(response.status).toBe(200);
    expect(response.body.openapi).toBe('3.1.0');
    expect(response.body.servers).toEqual([{ url: devStack().baseUrl }]);
    expect(Object.keys(response.body.paths)).toContain('/models/{model}/records');
    expect(response.headers.get('vary')).toBe('Host, X-Forwarded-Proto');
  });

  it('names only an http or https URL of a host name, whatever Host and X-Forwarded-Proto a client sends', async () => {
    // fetch sends its own Host whatever it is given: node:http sends the one named.
    const answerFor = (headers: Record<string, string>) =>
      new Promise<{ status: number; body: Record<string, any> }>((resolve, reject) => {
        const request = httpRequest(`${devStack().baseUrl}/openapi.json`, { headers }, (response) => {
          let text = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => (text += chunk));
          response.on('end', () => resolve({ status: response.statusCode!, body: JSON.parse(text) as Record<string, any> }));
        });
        request.on('error', reject);
        request.end();
      });
    const serverFor = async (headers: Record<string, string>) => ((await answerFor(headers)).body as { servers: { url: string }[] }).servers[0]!.url;
    expect(await serverFor({ Host: 'api.example.com', 'X-Forwarded-Proto': 'javascript' })).toBe('https://api.example.com');
    expect(await serverFor({ Host: 'localhost:9', 'X-Forwarded-Proto': 'javascript' })).toBe('http://localhost:9');
    expect(await serverFor({ Host: 'api.example.com', 'X-Forwarded-Proto': 'http' })).toBe('http://api.example.com');
    // A Host that is no host at all the gateway refuses (400) before any function runs; were one to reach the function,
    // it names the default, never the client's text.
    for (const host of ['a.example"><script>x</script>', 'evil.example/phish?']) {
      const refused = await answerFor({ Host: host });
      expect([host, refused.status, refused.body.error?.code]).toEqual([host, 400, 'bad_request']);
      const event = { httpMethod: 'GET', resource: '/openapi.json', path: '/openapi.json', headers: { Host: host }, requestContext: { requestId: 'r', stage: 'local' } };
      const run = await runScript('test/support/invoke-function.ts', ['functions/openapi.ts'], { env: { GATHER_EVENT: JSON.stringify(event) } });
      const answer = JSON.parse(run.stdout.trimEnd().split('\n').at(-1)!) as { body: string };
      expect([host, (JSON.parse(answer.body) as { servers: { url: string }[] }).servers[0]!.url]).toEqual([host, 'http://localhost']);
    }
    expect(await serverFor({ Host: '[::1]:3000' })).toBe('http://[::1]:3000');
    expect(await serverFor({ Host: 'api.example.com:65535' })).toBe('https://api.example.com:65535');
    expect(await serverFor({ Host: 'api.example.com:99999' })).toBe('http://localhost'); // no such port: not a URL a client could use
    expect(await serverFor({ Host: 'api.example.com:0' })).toBe('http://localhost');
    // Names RFC 3986 takes (sub-delimiters, percent-encodings), which no URL of a server should repeat: the default.
    for (const host of ["x'onerror=alert(1)", 'evil.example%2Fphish%3F', 'a;b=c']) expect([host, await serverFor({ Host: host })]).toEqual([host, 'http://localhost']);
    // Local is a name, not a prefix.
    expect(await serverFor({ Host: 'localhost.evil.example' })).toBe('https://localhost.evil.example');
    expect(await serverFor({ Host: '127.evil.example' })).toBe('https://127.evil.example');
    expect(await serverFor({ Host: '127.0.0.1:3000' })).toBe('http://127.0.0.1:3000');
  });
});
