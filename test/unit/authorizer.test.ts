/**
 * The authorizer, with DynamoDB mocked (aws-sdk-client-mock) to count its calls: a key of the wrong shape or checksum
 * is refused without any table read. The authorizer's behaviour over HTTP is covered by the integration tests.
 */
import { jest } from '@jest/globals';
import { DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayAuthorizerResult, APIGatewayTokenAuthorizerEvent, Context } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { generateApiKey, hashApiKey } from '../../lib/auth/api-key.js';
import { keyLookupFailedMessage } from '../../lib/auth/authorizer-log.js';

process.env.TABLE_NAME = 'unit-test-table';
process.env.DYNAMODB_ENDPOINT = 'http://127.0.0.1:9';
const ddb = mockClient(DynamoDBDocumentClient);
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

describe('the authorizer', () => {
  beforeEach(() => ddb.reset());

  it.each([['no scheme'], ['Token nope'], ['Token gth_short'], [`Basic ${generateApiKey()}`], [`Token ${mistyped(generateApiKey())}`]])(
    'refuses %j without reading the table',
    async (header) => {
      await expect(authorize(header)).rejects.toThrow('Unauthorized');
      expect(ddb.calls()).toHaveLength(0);
    },
  );

  it('refuses a well-formed key that is not in the table after one read', async () => {
    ddb.on(GetCommand).resolves({});
    await expect(authorize(`Token ${generateApiKey()}`)).rejects.toThrow('Unauthorized');
    expect(ddb.commandCalls(GetCommand)).toHaveLength(1);
  });

  it('refuses a revoked key', async () => {
    ddb.on(GetCommand).resolves({ Item: { token_id: 'tok_1', workspace: 'w', scopes: ['records:read'], revoked_at: '2026-01-01T00:00:00Z' } });
    await expect(authorize(`Token ${generateApiKey()}`)).rejects.toThrow('Unauthorized');
  });

  it('looks the key up by its SHA-256 and allows the whole API with the workspace and scopes in the context', async () => {
    const key = generateApiKey();
    ddb.on(GetCommand).resolves({ Item: { token_id: 'tok_1', workspace: 'acme', scopes: ['records:read', 'records:write'], last_used_at: new Date().toISOString() } });
    const result = await authorize(`Bearer ${key}`);
    expect(ddb.commandCalls(GetCommand)[0]!.args[0].input.Key).toEqual({ pk: `K#${hashApiKey(key)}`, sk: 'K' });
    expect(result.principalId).toBe('tok_1');
    expect(result.context).toEqual({ workspace: 'acme', scopes: 'records:read,records:write', tokenId: 'tok_1' });
    expect(result.policyDocument.Statement).toEqual([
      { Action: 'execute-api:Invoke', Effect: 'Allow', Resource: 'arn:aws:execute-api:eu-west-1:123456789012:api1/prod/*' },
    ]);
    // Used within the hour: no write.
    expect(ddb.commandCalls(UpdateCommand)).toHaveLength(0);
    expect(result.usageIdentifierKey).toBeUndefined();
  });

  it("names the workspace's usage key, so API Gateway throttles the workspace by its usage plan", async () => {
    ddb.on(GetCommand).resolves({ Item: { token_id: 'tok_1', workspace: 'acme', scopes: ['records:read'], last_used_at: new Date().toISOString(), usage_key: 'uk_123' } });
    expect((await authorize(`Token ${generateApiKey()}`)).usageIdentifierKey).toBe('uk_123');
  });

  it('records the last use when it is older than an hour, and still allows when that write fails', async () => {
    ddb.on(GetCommand).resolves({ Item: { token_id: 'tok_1', workspace: 'acme', scopes: ['records:read'], last_used_at: '2020-01-01T00:00:00.000Z' } });
    ddb.on(UpdateCommand).rejects(Object.assign(new Error('throttled'), { name: 'ThrottlingException' }));
    // One JSON line straight to stdout, as the failure line below: console.warn's output would get Lambda's prefix.
    const written: string[] = [];
    const logged = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    });
    const key = generateApiKey();
    let result: APIGatewayAuthorizerResult;
    try {
      result = await authorize(`Token ${key}`);
    } finally {
      logged.mockRestore();
    }
    expect(result.context?.workspace).toBe('acme');
    expect(ddb.commandCalls(UpdateCommand)).toHaveLength(1);
    expect(written).toHaveLength(1);
    expect(written[0]).toMatch(/^\{.*\}\n$/);
    expect(JSON.parse(written[0]!)).toMatchObject({ level: 'WARN', message: 'could not record last use', token_id: 'tok_1' });
    expect(written[0]).not.toContain(key.slice(4, 16));
  });

  it('fails (so API Gateway answers 503) when the table cannot be read, with the one log line the alarm counts', async () => {
    ddb.on(GetCommand).rejects(Object.assign(new Error('throttled'), { name: 'ThrottlingException' }));
    // Straight to stdout, one JSON line from its first character: a CloudWatch JSON filter pattern matches nothing else,
    // and console.error's output gets Lambda's prefix (timestamp, request id, level).
    const written: string[] = [];
    const logged = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    });
    const key = generateApiKey();
    process.env.GATHER_STAGE = 'prod';
    try {
      await expect(authorize(`Token ${key}`)).rejects.not.toThrow('Unauthorized');
    } finally {
      logged.mockRestore();
      delete process.env.GATHER_STAGE;
    }
    expect(written).toHaveLength(1);
    expect(written[0]).toMatch(/^\{.*\}\n$/);
    const line = JSON.parse(written[0]!) as Record<string, unknown>;
    expect(line).toMatchObject({ level: 'ERROR', message: keyLookupFailedMessage, stage: 'prod' });
    expect(written[0]).not.toContain(key.slice(4, 16));
  });

  it('writes no failure line for a refused key, so refusals never raise the alarm', async () => {
    ddb.on(GetCommand).resolves({});
    const logged = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const errors = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      await expect(authorize(`Token ${generateApiKey()}`)).rejects.toThrow('Unauthorized');
      await expect(authorize('Token nope')).rejects.toThrow('Unauthorized');
      expect(logged).not.toHaveBeenCalled();
      expect(errors).not.toHaveBeenCalled();
    } finally {
      logged.mockRestore();
      errors.mockRestore();
    }
  });
});
