/**
 * On a deployed stage each workspace is throttled by the stage's usage plan through its own API Gateway API key, whose
 * value is the workspace's usage key (the authorizer hands it to API Gateway). The admin CLI registers it with
 * `--usage-plan <UsagePlanId output>`. Locally there is no usage plan: the local gateway throttles each workspace only
 * when told to (LOCAL_RATE_LIMIT, lib/local/workspace-rate-limit.ts).
 */
import { APIGatewayClient, ConflictException, CreateApiKeyCommand, CreateUsagePlanKeyCommand, GetApiKeysCommand } from '@aws-sdk/client-api-gateway';

export interface UsagePlanRegistrar {
  /** Creates the workspace's API key (or finds it) and adds it to the usage plan; safe to repeat. */
  register(workspace: string, usageKey: string, usagePlanId: string): Promise<{ apiKeyId: string }>;
}

export class ApiGatewayUsagePlanRegistrar implements UsagePlanRegistrar {
  constructor(private readonly client: APIGatewayClient) {}

  async register(workspace: string, usageKey: string, usagePlanId: string): Promise<{ apiKeyId: string }> {
    const name = `gather-${workspace}`;
    let apiKeyId: string | undefined;
    try {
      const created = await this.client.send(
        new CreateApiKeyCommand({ name, value: usageKey, enabled: true, description: `Usage key of the Gather workspace ${workspace}` }),
      );
      apiKeyId = created.id;
    } catch (error) {
      if (!isConflict(error)) throw error;
      apiKeyId = await this.findKeyByValue(name, usageKey);
    }
    if (!apiKeyId) throw new Error(`Could not create or find the API key ${name}`);
    try {
      await this.client.send(new CreateUsagePlanKeyCommand({ usagePlanId, keyId: apiKeyId, keyType: 'API_KEY' }));
    } catch (error) {
      // Already in the plan: nothing to do.
      if (!isConflict(error)) throw error;
    }
    return { apiKeyId };
  }

  /**
   * The key whose value is this workspace's usage key: API Gateway refuses a second key with the same value (the
   * conflict that brings us here), but not a second key with the same name, and every stage in an account and region
   * names a workspace's key `gather-<workspace>`. Taking the first key of that name could add another stage's key to
   * this stage's plan, leaving the workspace's own key outside it (every request of the workspace a 403).
   */
  private async findKeyByValue(name: string, usageKey: string): Promise<string | undefined> {
    let position: string | undefined;
    do {
      const page = await this.client.send(new GetApiKeysCommand({ nameQuery: name, includeValues: true, limit: 500, ...(position ? { position } : {}) }));
      const match = page.items?.find((item) => item.value === usageKey);
      if (match) return match.id;
      position = page.position;
    } while (position);
    return undefined;
  }
}

const isConflict = (error: unknown) => error instanceof ConflictException || (error as Error).name === 'ConflictException';

export function usagePlanRegistrar(region?: string): UsagePlanRegistrar {
  return new ApiGatewayUsagePlanRegistrar(new APIGatewayClient(region ? { region } : {}));
}
