/**
 * The authorizer's handler: what it does with the key store's answers, against a fake of that store (no DynamoDB, not
 * even a mocked one). What the store itself decides in DynamoDB (a revoked key is unknown, the last use is recorded at
 * most once an hour, one read per key) and what a throttled table does are checked over HTTP against DynamoDB Local, by
 * test/integration/dynamodb-faults.test.ts and key-revocation.test.ts.
 */
import { jest } from '@jest/globals';
import type { APIGatewayAuthorizerResult, APIGatewayTokenAuthorizerEvent, Context } from 'aws-lambda';
import { generateApiKey, hashApiKey } from '../../lib/auth/api-key.js';
import { keyLookupFailedMessage } from '../../lib/auth/authorizer-log.js';
import { UnavailableError } from '../../lib/records/errors.js';
import type { ApiKeyIdentity } from '../../lib/store/api-key-store.js';

/** The key store as the handler uses it: identities by key hash, and what it was asked. */
const known = new Map<string, ApiKeyIdentity>();
const lookups: string[] = [];
const touched: string[] = [];
let lookupFailure: Error | undefined;
let touchFailure: Error | undefined;
const fakeStore = {
  findByHash: async (keyHash: string) => {
    lookups.push(keyHash);
    if (lookupFailure) throw lookupFailure;
    return known.get(keyHash);
  },
  touchLastUsed: async (keyHash: string) => {
    touched.push(keyHash);
    if (touchFailure) throw touchFailure;
  },
};
jest.unstable_mockModule('../../lib/services.js', () => ({ apiKeys: () => fakeStore }));
const { handler } = (await import('../../functions/authorizer.js')) as {
  handler: (event: APIGatewayTokenAuthorizerEvent, context: Context) => Promise<APIGatewayAuthorizerResult>;
};

const methodArn = 'arn:aws:execute-api:eu-west-1:123456789012:api1/prod/GET/models/account/records/x';
const authorize = (authorizationToken: string) => handler({ type: 'TOKEN', authorizationToken, methodArn }, {} as Context);

/**
 * A real key with its last checksum character changed, always to another character: a key that already ended in the
 * character put there would stay valid, and the test would fail one run in 62.
 */
function mistyped(key: string): string {
  const last = key.at(-1) === '0' ? '1' : '0';
  return key.slice(0, -1) + last;
}

/** A key the store knows, with the identity it answers for it. */
function knownKey(identity: Partial<ApiKeyIdentity> = {}): string {
  const key = generateApiKey();
  known.set(hashApiKey(key), { tokenId: 'tok_1', workspace: 'acme', scopes: ['records:read', 'records:write'], ...identity });
  return key;
}

/** Everything the handler writes to stdout while `run` runs (the Lambda runtime sends it to CloudWatch as it is). */
async function stdoutOf(run: () => Promise<unknown>): Promise<string[]> {
  const written: string[] = [];
  const logged = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    written.push(String(chunk));
    return true;
  });
  try {
    await run();
  } finally {
    logged.mockRestore();
  }
  return written;
}

describe('the authorizer', () => {
  beforeEach(() => {
    known.clear();
    lookups.length = 0;
    touched.length = 0;
    lookupFailure = undefined;
    touchFailure = undefined;
  });

  it.each([['no scheme'], ['Token nope'], ['Token gth_short'], [`Basic ${generateApiKey()}`], [`Token ${mistyped(generateApiKey())}`]])(
    'refuses %j without asking the store',
    async (header) => {
      await expect(authorize(header)).rejects.toThrow('Unauthorized');
      expect(lookups).toEqual([]);
    },
  );

  it('refuses a well-formed key the store does not know (unknown or revoked), after one lookup by its SHA-256', async () => {
    const key = generateApiKey();
    await expect(authorize(`Token ${key}`)).rejects.toThrow('Unauthorized');
    expect(lookups).toEqual([hashApiKey(key)]);
    expect(touched).toEqual([]);
  });

  it('allows the whole API with the workspace and scopes in the context, and has the last use recorded', async () => {
    const key = knownKey();
    const result = await authorize(`Bearer ${key}`);
    expect(lookups).toEqual([hashApiKey(key)]);
    expect(result.principalId).toBe('tok_1');
    expect(result.context).toEqual({ workspace: 'acme', scopes: 'records:read,records:write', tokenId: 'tok_1' });
    expect(result.policyDocument.Statement).toEqual([
      { Action: 'execute-api:Invoke', Effect: 'Allow', Resource: 'arn:aws:execute-api:eu-west-1:123456789012:api1/prod/*' },
    ]);
    // The store decides whether that costs a write (at most one an hour).
    expect(touched).toEqual([hashApiKey(key)]);
    expect(result.usageIdentifierKey).toBeUndefined();
  });

  it("names the workspace's usage key, so API Gateway throttles the workspace by its usage plan", async () => {
    expect((await authorize(`Token ${knownKey({ usageKey: 'uk_123' })}`)).usageIdentifierKey).toBe('uk_123');
  });

  it('still allows when recording the last use fails, with one WARN line that names the key by its token id only', async () => {
    const key = knownKey();
    touchFailure = new UnavailableError('The database is unavailable or throttling; retry after a pause');
    let result: APIGatewayAuthorizerResult | undefined;
    // One JSON line straight to stdout, as the failure line below: console.warn's output would get Lambda's prefix.
    const written = await stdoutOf(async () => {
      result = await authorize(`Token ${key}`);
    });
    expect(result?.context?.workspace).toBe('acme');
    expect(written).toHaveLength(1);
    expect(written[0]).toMatch(/^\{.*\}\n$/);
    expect(JSON.parse(written[0]!)).toMatchObject({ level: 'WARN', message: 'could not record last use', token_id: 'tok_1' });
    expect(written[0]).not.toContain(key.slice(4, 16));
  });

  it('fails (so API Gateway answers 503) when the store cannot be read, with the one log line the alarm counts', async () => {
    lookupFailure = new UnavailableError('The database is unavailable or throttling; retry after a pause');
    const key = knownKey();
    process.env.GATHER_STAGE = 'prod';
    // Straight to stdout, one JSON line from its first character: a CloudWatch JSON filter pattern matches nothing else,
    // and console.error's output gets Lambda's prefix (timestamp, request id, level).
    let outcome: unknown;
    const written = await stdoutOf(async () => {
      outcome = await authorize(`Token ${key}`).catch((error: unknown) => error);
    }).finally(() => delete process.env.GATHER_STAGE);
    expect(outcome).toBe(lookupFailure);
    expect(written).toHaveLength(1);
    expect(written[0]).toMatch(/^\{.*\}\n$/);
    expect(JSON.parse(written[0]!)).toMatchObject({ level: 'ERROR', message: keyLookupFailedMessage, stage: 'prod' });
    expect(written[0]).not.toContain(key.slice(4, 16));
  });

  it('writes no failure line for a refused key, so refusals never raise the alarm', async () => {
    const errors = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      const written = await stdoutOf(async () => {
        await expect(authorize(`Token ${generateApiKey()}`)).rejects.toThrow('Unauthorized');
        await expect(authorize('Token nope')).rejects.toThrow('Unauthorized');
      });
      expect(written).toEqual([]);
      expect(errors).not.toHaveBeenCalled();
    } finally {
      errors.mockRestore();
    }
  });
});
