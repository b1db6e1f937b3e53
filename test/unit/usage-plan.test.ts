/** The admin CLI's usage-plan step, against a mocked API Gateway (no AWS account here). */
import { APIGatewayClient, ConflictException, CreateApiKeyCommand, CreateUsagePlanKeyCommand, GetApiKeysCommand } from '@aws-sdk/client-api-gateway';
import { mockClient } from 'aws-sdk-client-mock';
import { ApiGatewayUsagePlanRegistrar } from '../../lib/admin/usage-plan.js';

describe('ApiGatewayUsagePlanRegistrar', () => {
  const apigw = mockClient(APIGatewayClient);
  const registrar = new ApiGatewayUsagePlanRegistrar(new APIGatewayClient({ region: 'eu-west-1' }));
  beforeEach(() => apigw.reset());

  it('creates the workspace API key with its usage key as the value and adds it to the plan', async () => {
    apigw.on(CreateApiKeyCommand).resolves({ id: 'key-1' });
    apigw.on(CreateUsagePlanKeyCommand).resolves({});
    expect(await registrar.register('acme', 'uk_abc', 'plan-1')).toEqual({ apiKeyId: 'key-1' });
    expect(apigw.commandCalls(CreateApiKeyCommand)[0]!.args[0].input).toMatchObject({ name: 'gather-acme', value: 'uk_abc', enabled: true });
    expect(apigw.commandCalls(CreateUsagePlanKeyCommand)[0]!.args[0].input).toEqual({ usagePlanId: 'plan-1', keyId: 'key-1', keyType: 'API_KEY' });
  });

  it('is safe to repeat: an existing key and plan membership are reused', async () => {
    apigw.on(CreateApiKeyCommand).rejects(new ConflictException({ message: 'exists', $metadata: {} }));
    apigw.on(GetApiKeysCommand).resolves({ items: [{ id: 'key-9', name: 'gather-acme', value: 'uk_abc' }] });
    apigw.on(CreateUsagePlanKeyCommand).rejects(new ConflictException({ message: 'already in plan', $metadata: {} }));
    expect(await registrar.register('acme', 'uk_abc', 'plan-1')).toEqual({ apiKeyId: 'key-9' });
  });

  it("finds an existing key by its value, not by a name another stage's workspace key shares, across pages", async () => {
    // `stage` and `prod` in one account and region both have a workspace `smoke`: two keys named gather-smoke.
    apigw.on(CreateApiKeyCommand).rejects(new ConflictException({ message: 'exists', $metadata: {} }));
    apigw
      .on(GetApiKeysCommand, { position: undefined })
      .resolves({ items: [{ id: 'other-stage', name: 'gather-smoke', value: 'uk_other' }], position: 'p2' })
      .on(GetApiKeysCommand, { position: 'p2' })
      .resolves({ items: [{ id: 'this-stage', name: 'gather-smoke', value: 'uk_this' }] });
    apigw.on(CreateUsagePlanKeyCommand).resolves({});
    expect(await registrar.register('smoke', 'uk_this', 'plan-1')).toEqual({ apiKeyId: 'this-stage' });
    expect(apigw.commandCalls(GetApiKeysCommand).every((call) => call.args[0].input.includeValues === true)).toBe(true);
    expect(apigw.commandCalls(CreateUsagePlanKeyCommand)[0]!.args[0].input).toEqual({ usagePlanId: 'plan-1', keyId: 'this-stage', keyType: 'API_KEY' });
  });

  it('fails, adding nothing to the plan, when the conflicting key is not found', async () => {
    apigw.on(CreateApiKeyCommand).rejects(new ConflictException({ message: 'exists', $metadata: {} }));
    apigw.on(GetApiKeysCommand).resolves({ items: [{ id: 'other-stage', name: 'gather-smoke', value: 'uk_other' }] });
    await expect(registrar.register('smoke', 'uk_this', 'plan-1')).rejects.toThrow('Could not create or find the API key gather-smoke');
    expect(apigw.commandCalls(CreateUsagePlanKeyCommand)).toHaveLength(0);
  });
});
