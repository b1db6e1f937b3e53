/** The synthesized stack, asserted by intent: routes and their authorizer, least-privilege grants, the table, nag. */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { Bucket } from 'aws-cdk-lib/aws-s3';
import { createApp } from '../../infra/app.js';
import { lambdaRuntime } from '../../infra/constructs/api-function.js';
import { functionBundling } from '../../infra/function-bundling.js';
import { gatewayResponses } from '../../lib/http/gateway-responses.js';
import { worstCaseCallMs } from '../../lib/store/dynamodb-client.js';
import { defaultFunctionTimeoutSeconds, functionsByEntry, functionTimeoutSeconds, routes } from '../../lib/routes.js';
import { temporary } from '../support/temporary-cdk-apps.js';

/** The context the CDK CLI would pass: cdk.json's, with the stage. */
const cdkJson = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')) as { context: Record<string, unknown> };

type Resources = Record<string, { Type: string; Properties: Record<string, any>; DeletionPolicy?: string }>;

const synthesized = new Map<string, { template: Template; resources: Resources; app: App }>();
function stage(name: string) {
  let found = synthesized.get(name);
  if (!found) {
    // Bundling is skipped here (it changes no property these tests check); one test below bundles for real.
    const { app, stack } = temporary(createApp({ ...cdkJson.context, stage: name, 'aws:cdk:bundling-stacks': [] }));
    const template = Template.fromStack(stack);
    found = { template, resources: template.toJSON().Resources as Resources, app };
    synthesized.set(name, found);
  }
  return found;
}

const ofType = (resources: Resources, type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);

/**
 * The stack's Lambda functions: one per route entry, the authorizer and, where it runs, the scheduled test. Each is
 * checked to export `handler` from its bundle's index, and the count is checked, so a check that loops over them can
 * never pass by finding none (the stack has no other function: no CDK provider functions either).
 */
function ourFunctions(resources: Resources) {
  const functions = ofType(resources, 'AWS::Lambda::Function');
  const scheduled = functions.filter(([id]) => id.startsWith('ScheduledTests')).length;
  expect(scheduled).toBeLessThanOrEqual(1);
  expect(functions.length).toBe(functionsByEntry().size + 1 + scheduled);
  expect(functions.map(([id, f]) => [id, f.Properties.Handler])).toEqual(functions.map(([id]) => [id, 'index.handler']));
  return functions;
}

/** The full path of an API Gateway resource, rebuilt from the template's parent links. */
function resourcePath(resources: Resources, ref: unknown): string {
  const id = (ref as { Ref?: string }).Ref;
  if (!id) return '';
  const resource = resources[id]!;
  return `${resourcePath(resources, resource.Properties.ParentId)}/${resource.Properties.PathPart}`;
}

describe.each(['dev', 'prod'])('the %s stage', (stageName) => {
  it('has every route of lib/routes.ts, with the token authorizer on each route that has a scope', () => {
    const { resources } = stage(stageName);
    const methods = ofType(resources, 'AWS::ApiGateway::Method').map(([, m]) => ({
      method: m.Properties.HttpMethod,
      path: resourcePath(resources, m.Properties.ResourceId),
      auth: m.Properties.AuthorizationType,
      authorizer: m.Properties.AuthorizerId,
    }));
    expect(methods).toHaveLength(routes.length);
    for (const route of routes) {
      const method = methods.find((m) => m.method === route.method && m.path === route.path);
      expect(method).toBeDefined();
      if (route.scope === null) {
        expect(method!.auth).toBe('NONE');
        expect(method!.authorizer).toBeUndefined();
      } else {
        expect(method!.auth).toBe('CUSTOM');
        expect(method!.authorizer).toEqual({ Ref: expect.stringMatching(/TokenAuthorizer/) });
      }
    }
  });

  it('configures a TOKEN authorizer on the Authorization header with the stage TTL', () => {
    stage(stageName).template.hasResourceProperties('AWS::ApiGateway::Authorizer', {
      Type: 'TOKEN',
      IdentitySource: 'method.request.header.Authorization',
      AuthorizerResultTtlInSeconds: (cdkJson.context.stages as Record<string, { authorizerCacheTtlSeconds: number }>)[stageName]!.authorizerCacheTtlSeconds,
    });
  });

  it('grants each function exactly the DynamoDB actions it needs, on each table, partition by partition', () => {
    const { resources } = stage(stageName);
    // Written out here on purpose, not derived from lib/routes.ts: an over-grant added there must fail this test. By
    // where each action applies: the records table's items whose partition key starts with R# (records), W# (model
    // definitions) or K# (keys), the records table's indexes, and the Idempotency-Key table.
    const idempotency = ['dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'];
    const get = ['dynamodb:GetItem'];
    type Grants = Partial<Record<'R#' | 'W#' | 'K#' | 'indexes' | 'idempotency', string[]>>;
    const expected: Record<string, Grants> = {
      Authorizer: { 'K#': ['dynamodb:GetItem', 'dynamodb:UpdateItem'] },
      UpsertRecordFunction: { 'R#': ['dynamodb:GetItem', 'dynamodb:UpdateItem'], 'W#': get, idempotency },
      ListRecordsFunction: { 'R#': ['dynamodb:BatchGetItem'], 'W#': get, indexes: ['dynamodb:Query on list'] },
      GetRecordFunction: { 'R#': get, 'W#': get },
      OpenApiFunction: {},
      DeleteRecordFunction: { 'R#': ['dynamodb:DeleteItem'], 'W#': get, idempotency },
      ListLinkedCustomersFunction: { 'R#': get, 'W#': get, indexes: ['dynamodb:Query on link'] },
      BatchRecordsFunction: { 'R#': ['dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:UpdateItem'], 'W#': get, idempotency },
      ListModelsFunction: { 'W#': ['dynamodb:GetItem', 'dynamodb:Query'] },
      DefineModelFunction: { 'W#': ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query'], indexes: ['dynamodb:Query on list'], idempotency },
      DeleteModelFunction: { 'W#': ['dynamodb:DeleteItem', 'dynamodb:GetItem'], indexes: ['dynamodb:Query on list'], idempotency },
    };
    const functions = ourFunctions(resources);
    const seen: string[] = [];
    for (const [logicalId, fn] of functions) {
      const roleId = fn.Properties.Role['Fn::GetAtt'][0] as string;
      const statements = ofType(resources, 'AWS::IAM::Policy')
        .filter(([, p]) => p.Properties.Roles.some((r: { Ref: string }) => r.Ref === roleId))
        .flatMap(([, p]) => p.Properties.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown; Condition?: Record<string, Record<string, string[]>> }[])
        .filter((statement) => [statement.Action].flat().some((action) => action.startsWith('dynamodb:')));
      const actual: Grants = {};
      const add = (where: keyof Grants, actions: string[]) => (actual[where] = [...new Set([...(actual[where] ?? []), ...actions])].sort());
      for (const statement of statements) {
        const actions = [statement.Action].flat();
        if (JSON.stringify(statement.Resource).includes('IdempotencyTable')) add('idempotency', actions);
        else if (JSON.stringify(statement.Resource).includes('/index/')) {
          const names = [statement.Resource].flat().map((resource) => /\/index\/(\w+)/.exec(JSON.stringify(resource))?.[1]);
          add('indexes', names.flatMap((name) => actions.map((action) => `${action} on ${name}`)));
        } else {
          // Every statement on the table's items holds to one kind of partition.
          const prefixes = statement.Condition?.['ForAllValues:StringLike']?.['dynamodb:LeadingKeys'] ?? [];
          expect([logicalId, prefixes.length]).toEqual([logicalId, 1]);
          add(prefixes[0]!.replace(/\*$/, '') as keyof Grants, actions);
        }
      }
      const name = Object.keys(expected).find((key) => new RegExp(`^RecordsApi${key}[0-9A-F]{8}$`).test(logicalId));
      if (name) {
        seen.push(name);
        const want = Object.fromEntries(Object.entries(expected[name]!).map(([where, actions]) => [where, [...actions].sort()]));
        expect([name, actual]).toEqual([name, want]);
      } else {
        expect([logicalId, actual]).toEqual([logicalId, {}]);
      }
    }
    expect(seen.sort()).toEqual(Object.keys(expected).sort());
  });

  it("limits the authorizer to the key items of the table (partition keys K#...), not every record's", () => {
    const { resources } = stage(stageName);
    const [, authorizer] = ofType(resources, 'AWS::Lambda::Function').find(([id]) => /^RecordsApiAuthorizer[0-9A-F]{8}$/.test(id))!;
    const roleId = authorizer.Properties.Role['Fn::GetAtt'][0] as string;
    const statements = ofType(resources, 'AWS::IAM::Policy')
      .filter(([, p]) => p.Properties.Roles.some((r: { Ref: string }) => r.Ref === roleId))
      .flatMap(([, p]) => p.Properties.PolicyDocument.Statement as { Action: string | string[]; Condition?: unknown }[])
      .filter((s) => [s.Action].flat().some((a) => a.startsWith('dynamodb:')));
    expect(statements).toHaveLength(1);
    expect(statements[0]!.Condition).toEqual({ 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['K#*'] } });
  });

  it('limits every other function to record or model-definition items (partition keys R# or W#), queries of the table too', () => {
    const { resources } = stage(stageName);
    const statements = ofType(resources, 'AWS::IAM::Policy')
      .filter(([id]) => !/Authorizer/.test(id))
      .flatMap(([, p]) => p.Properties.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown; Condition?: unknown }[])
      // The records table's statements (the Idempotency-Key table is a table of its own, with no other items).
      .filter((s) => [s.Action].flat().some((a) => a.startsWith('dynamodb:')) && !JSON.stringify(s.Resource).includes('Idempotency'));
    // Every statement on the table itself, each to one kind of partition; only the indexes' own statement (Query of
    // index entries) is left without it.
    const onTheTable = statements.filter((s) => !JSON.stringify(s.Resource).includes('/index/'));
    expect(onTheTable.length).toBeGreaterThanOrEqual(functionsByEntry().size - 2);
    const held = (prefix: string) => ({ 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [`${prefix}*`] } });
    for (const statement of onTheTable) expect([held('R#'), held('W#')]).toContainEqual(statement.Condition);
    expect(onTheTable.some((s) => [s.Action].flat().includes('dynamodb:Query'))).toBe(true);
    // ... and the indexes' statement names indexes only, not the table beside them.
    for (const statement of statements.filter((s) => JSON.stringify(s.Resource).includes('/index/'))) {
      for (const resource of [statement.Resource].flat()) expect(JSON.stringify(resource)).toContain('/index/');
    }
  });

  it('runs every function on the runtime whose Node major the tests use, on arm64, traced', () => {
    const { resources } = stage(stageName);
    expect(lambdaRuntime.name).toBe(`nodejs${process.versions.node.split('.')[0]}.x`);
    const functions = ourFunctions(resources);
    for (const [, fn] of functions) {
      expect(fn.Properties.Runtime).toBe(lambdaRuntime.name);
      expect(fn.Properties.Architectures).toEqual(['arm64']);
      expect(fn.Properties.TracingConfig).toEqual({ Mode: 'Active' });
      expect(fn.Properties.LoggingConfig.LogGroup).toBeDefined();
    }
  });

  it("gives every function a timeout that holds two DynamoDB calls' retry budgets and ends inside API Gateway's 29 s", () => {
    const { resources } = stage(stageName);
    expect(worstCaseCallMs).toBe(3 * (1000 + 2000) + 600);
    for (const [logicalId, fn] of ourFunctions(resources)) {
      const timeoutMs = fn.Properties.Timeout * 1000;
      expect([logicalId, timeoutMs >= 2 * worstCaseCallMs]).toEqual([logicalId, true]);
      // The scheduled test is invoked by EventBridge Scheduler, not through API Gateway, so 29 s does not bind it.
      if (!logicalId.startsWith('ScheduledTests')) expect([logicalId, timeoutMs < 29_000]).toEqual([logicalId, true]);
    }
  });

  it('gives the function behind each route the timeout lib/routes.ts names, the one the local gateway gives it too', () => {
    const { resources } = stage(stageName);
    const seen = new Set<number>();
    for (const route of routes) {
      const [, method] = ofType(resources, 'AWS::ApiGateway::Method').find(
        ([, m]) => m.Properties.HttpMethod === route.method && resourcePath(resources, m.Properties.ResourceId) === route.path,
      )!;
      // The proxy integration's URI names the function it invokes: Fn::Join [..., {Fn::GetAtt: [id, 'Arn']}, ...].
      const functionId = (JSON.stringify(method.Properties.Integration.Uri).match(/"Fn::GetAtt":\["([^"]+)","Arn"\]/) ?? [])[1];
      expect([route.name, functionId !== undefined]).toEqual([route.name, true]);
      const timeout = resources[functionId!]!.Properties.Timeout as number;
      expect([route.name, timeout]).toEqual([route.name, functionTimeoutSeconds(route.entry)]);
      seen.add(timeout);
    }
    // Not every route at the default: the batch needs longer, so a stack that ignored the table would fail above.
    expect(seen.has(defaultFunctionTimeoutSeconds)).toBe(true);
    expect(seen.size).toBeGreaterThan(1);
  });

  it('has the records table with the key schema of lib/store/table-definition.ts and point-in-time recovery', () => {
    const { template, resources } = stage(stageName);
    template.resourceCountIs('AWS::DynamoDB::GlobalTable', 2);
    template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      TimeToLiveSpecification: { AttributeName: 'expiration', Enabled: true },
      BillingMode: 'PAY_PER_REQUEST',
    });
    template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      Replicas: [Match.objectLike({ PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true } })],
      GlobalSecondaryIndexes: [
        { IndexName: 'list', KeySchema: [{ AttributeName: 'lpk', KeyType: 'HASH' }, { AttributeName: 'lsk', KeyType: 'RANGE' }], Projection: { ProjectionType: 'ALL' } },
        { IndexName: 'link', KeySchema: [{ AttributeName: 'apk', KeyType: 'HASH' }, { AttributeName: 'ask', KeyType: 'RANGE' }], Projection: { ProjectionType: 'ALL' } },
      ],
    });
    const [, table] = ofType(resources, 'AWS::DynamoDB::GlobalTable').find(([id]) => !id.includes('Idempotency'))!;
    const retained = stageName === 'prod';
    expect(table.DeletionPolicy).toBe(retained ? 'Retain' : 'Delete');
    expect(table.Properties.Replicas[0].DeletionProtectionEnabled ?? false).toBe(retained);
    // The access logs, who called what, stay with the data (and age out by their retention).
    const accessLogs = ofType(resources, 'AWS::Logs::LogGroup').filter(([id]) => id.includes('AccessLogs'));
    expect(accessLogs).toHaveLength(1);
    expect(accessLogs[0]![1].DeletionPolicy).toBe(retained ? 'Retain' : 'Delete');
  });

  it('rewrites every API Gateway error to the error envelope', () => {
    const { template } = stage(stageName);
    for (const definition of gatewayResponses) {
      template.hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
        ResponseType: definition.type,
        ...(definition.statusCode !== undefined ? { StatusCode: String(definition.statusCode) } : {}),
        ResponseTemplates: { 'application/json': Match.stringLikeRegexp(`"code":"${definition.code}".*"request_id":"\\$context.requestId"`) },
      });
    }
  });

  // SPEC's error table, written out here rather than read from lib/http/gateway-responses.ts (the list the stack is
  // built from), so a row dropped or changed there fails this test.
  it.each([
    ['UNAUTHORIZED', '401', 'unauthorized', undefined],
    ['ACCESS_DENIED', '403', 'forbidden', undefined],
    // API Gateway's other 403s, which DEFAULT_4XX would have answered as `bad_request`.
    ['WAF_FILTERED', '403', 'forbidden', undefined],
    ['INVALID_SIGNATURE', '403', 'forbidden', undefined],
    ['EXPIRED_TOKEN', '403', 'forbidden', undefined],
    ['MISSING_AUTHENTICATION_TOKEN', '404', 'route_not_found', undefined],
    ['RESOURCE_NOT_FOUND', '404', 'route_not_found', undefined],
    ['REQUEST_TOO_LARGE', '413', 'payload_too_large', undefined],
    ['UNSUPPORTED_MEDIA_TYPE', '415', 'unsupported_media_type', undefined],
    ['THROTTLED', '429', 'rate_limited', "'1'"],
    ['QUOTA_EXCEEDED', '429', 'rate_limited', "'60'"],
    // An authorizer that throws (its key table unreadable) is API Gateway's AUTHORIZER_CONFIGURATION_ERROR.
    ['AUTHORIZER_CONFIGURATION_ERROR', '503', 'unavailable', "'1'"],
    ['AUTHORIZER_FAILURE', '503', 'unavailable', "'1'"],
  ])('answers API Gateway\'s %s with %s %s in the envelope', (type, status, code, retryAfter) => {
    const responses = ofType(stage(stageName).resources, 'AWS::ApiGateway::GatewayResponse').filter(([, r]) => r.Properties.ResponseType === type);
    expect(responses).toHaveLength(1);
    const [, response] = responses[0]!;
    expect(response.Properties.StatusCode).toBe(status);
    const body = JSON.parse(response.Properties.ResponseTemplates['application/json']) as { error: { code: string; message: string; request_id: string } };
    expect(body.error).toMatchObject({ code, request_id: '$context.requestId' });
    expect(body.error.message.length).toBeGreaterThan(0);
    expect(response.Properties.ResponseParameters?.['gatewayresponse.header.Retry-After']).toBe(retryAfter);
  });

  it('passes every body to the handlers as bytes, and logs access as JSON', () => {
    const { template } = stage(stageName);
    template.hasResourceProperties('AWS::ApiGateway::RestApi', { BinaryMediaTypes: ['*/*'] });
    template.hasResourceProperties('AWS::ApiGateway::Stage', {
      StageName: stageName,
      TracingEnabled: true,
      AccessLogSetting: Match.objectLike({ Format: Match.stringLikeRegexp('requestId') }),
    });
  });

  it('reaches the indexes only with Query, each by name, and only from the functions that query it', () => {
    const { resources } = stage(stageName);
    const statements = ofType(resources, 'AWS::IAM::Policy').flatMap(
      ([, policy]) => policy.Properties.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown }[],
    );
    const reachingAnIndex = statements.filter((statement) => JSON.stringify(statement.Resource).includes('/index/'));
    for (const statement of reachingAnIndex) expect(statement.Action).toBe('dynamodb:Query');
    // An index's partition key starts with the workspace, so IAM cannot hold a query of it to one workspace: only a
    // function that reads an index may query it. Written out here, not derived from lib/routes.ts.
    const expected: Record<string, string[]> = {
      ListRecordsFunction: ['list'],
      ListLinkedCustomersFunction: ['link'],
      DefineModelFunction: ['list'],
      DeleteModelFunction: ['list'],
    };
    const indexesOf = (logicalId: string) => {
      const roleId = resources[logicalId]!.Properties.Role['Fn::GetAtt'][0] as string;
      const own = ofType(resources, 'AWS::IAM::Policy')
        .filter(([, p]) => p.Properties.Roles.some((r: { Ref: string }) => r.Ref === roleId))
        .flatMap(([, p]) => p.Properties.PolicyDocument.Statement as { Resource: unknown }[]);
      return [...new Set(own.flatMap((statement) => [...JSON.stringify(statement.Resource).matchAll(/\/index\/([^"]*)/g)].map((m) => m[1]!)))].sort();
    };
    const byFunction: Record<string, string[]> = {};
    for (const [logicalId, fn] of ofType(resources, 'AWS::Lambda::Function')) {
      if (fn.Properties.Role?.['Fn::GetAtt'] === undefined) continue;
      const indexes = indexesOf(logicalId);
      if (indexes.length > 0) byFunction[logicalId.replace(/^RecordsApi/, '').replace(/[0-9A-F]{8}$/, '')] = indexes;
    }
    expect(byFunction).toEqual(expected);
    // No DynamoDB action on every resource, which would reach the indexes (and every table) without naming them.
    const onEverything = statements.filter((statement) => [statement.Action].flat().some((action) => action.startsWith('dynamodb:')) && JSON.stringify(statement.Resource).includes('"*"'));
    expect(onEverything).toEqual([]);
  });

  it('synthesizes with cdk-nag AwsSolutions and no unacknowledged finding', () => {
    // A fresh app (bundling skipped: it does not change what nag checks), so this synth runs the checks itself.
    const { app } = temporary(createApp({ ...cdkJson.context, stage: stageName, 'aws:cdk:bundling-stacks': [] }));
    expect(() => app.synth()).not.toThrow();
  });
});

describe('bundling', () => {
  it('bundles every function as one ESM file with esbuild', () => {
    const { app } = temporary(createApp({ ...cdkJson.context, stage: 'dev' }));
    const assembly = app.synth();
    const bundles = readdirSync(assembly.directory)
      .filter((name) => name.startsWith('asset.'))
      .map((name) => join(assembly.directory, name, 'index.mjs'))
      .filter((file) => existsSync(file));
    expect(bundles).toHaveLength(functionsByEntry().size + 1);
    for (const file of bundles) {
      const code = readFileSync(file, 'utf8');
      expect(code.startsWith('import { createRequire as __createRequire }')).toBe(true);
      // Asserted as booleans: a failure must not print a whole bundle.
      expect(/export\s*\{[^}]*\bhandler\b[^}]*\}/.test(code)).toBe(true);
      // infra/function-bundling.ts: no source map (its cold-start price), but real names for stack traces.
      expect(code.includes('sourceMappingURL')).toBe(false);
      expect(existsSync(`${file}.map`)).toBe(false);
    }
    expect(bundles.some((file) => readFileSync(file, 'utf8').includes('DynamoDbRecordStore=class'))).toBe(true);
  });

  it('targets the Node major of the Lambda runtime and runs without --enable-source-maps', () => {
    expect(lambdaRuntime.name).toBe(`nodejs${functionBundling.target.replace('node', '')}.x`);
    const { stack } = temporary(createApp({ ...cdkJson.context, stage: 'dev', 'aws:cdk:bundling-stacks': [] }));
    const functions = Template.fromStack(stack).findResources('AWS::Lambda::Function');
    expect(Object.keys(functions).length).toBeGreaterThan(0);
    for (const resource of Object.values(functions)) {
      expect(JSON.stringify(resource.Properties.Environment ?? {})).not.toContain('enable-source-maps');
    }
  });
});

describe('the cdk-nag check itself', () => {
  it('runs on the app that `cdk synth` builds, and fails its synthesis on an unacknowledged finding', () => {
    // What makes the clean synths above (and production.test.ts's) mean "nag-clean": createApp applies the checks.
    const { app, stack } = temporary(createApp({ ...cdkJson.context, stage: 'dev', 'aws:cdk:bundling-stacks': [] }));
    new Bucket(stack, 'UnacknowledgedBucket');
    expect(() => app.synth()).toThrow(/AwsSolutions-S1/);
  });
});
