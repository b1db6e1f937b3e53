/**
 * The Lambda TOKEN authorizer. It refuses a key of the wrong shape or checksum without a table read, looks the rest up
 * by SHA-256, and passes the workspace and scopes to the handlers in the context. Its policy covers the whole API, so
 * API Gateway can cache it per key for the stage's TTL. It records when a key was last used (hour precision). It never
 * logs the key.
 */
import type { APIGatewayAuthorizerResult, APIGatewayTokenAuthorizerEvent } from 'aws-lambda';
import { hashApiKey, isWellFormedApiKey, keyFromAuthorizationHeader } from '../lib/auth/api-key.js';
import { logKeyLookupFailure, logLastUseNotRecorded } from '../lib/auth/authorizer-log.js';
import { allowPolicy } from '../lib/auth/policy.js';
import { formatScopes } from '../lib/auth/scopes.js';
import { apiKeys } from '../lib/services.js';

const store = apiKeys();

/** API Gateway turns exactly this error message into a 401. */
const unauthorized = () => new Error('Unauthorized');

export const handler = async (event: APIGatewayTokenAuthorizerEvent): Promise<APIGatewayAuthorizerResult> => {
  const key = keyFromAuthorizationHeader(event.authorizationToken);
  if (!key || !isWellFormedApiKey(key)) throw unauthorized();
  const keyHash = hashApiKey(key);
  let identity: Awaited<ReturnType<typeof store.findByHash>>;
  try {
    identity = await store.findByHash(keyHash);
  } catch (error) {
    logKeyLookupFailure(error);
    throw error;
  }
  if (!identity) throw unauthorized();
  try {
    await store.touchLastUsed(keyHash, identity);
  } catch (error) {
    // Bookkeeping must never refuse a valid key.
    logLastUseNotRecorded(identity.tokenId, error);
  }
  const result = allowPolicy(identity.tokenId, event.methodArn, {
    workspace: identity.workspace,
    scopes: formatScopes(identity.scopes),
    tokenId: identity.tokenId,
  });
  // API Gateway throttles the workspace by this key's usage plan (apiKeySourceType AUTHORIZER).
  return identity.usageKey ? { ...result, usageIdentifierKey: identity.usageKey } : result;
};
