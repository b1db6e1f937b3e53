/** Issue 6, on the synthesized templates: stages, monitoring, per-workspace limits, WAF, logging and outputs. */
import { readdirSync, readFileSync } from 'node:fs';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { createApp } from '../../infra/app.js';
import { defaultStageConfig, StageConfigError, stageConfig } from '../../infra/stage-config.js';
import { keyLookupFailedMessage } from '../../lib/auth/authorizer-log.js';
import { functionsByEntry } from '../../lib/routes.js';
import { temporary } from '../support/temporary-cdk-apps.js';

const cdkJson = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')) as { context: Record<string, unknown> };

function synth(stage: string, overrides: Record<string, unknown> = {}) {
  const stages = { ...(cdkJson.context.stages as Record<string, object>) };
  stages[stage] = { ...stages[stage], ...overrides };
  const { stack, app } = temporary(createApp({ ...cdkJson.context, stages, stage, 'aws:cdk:bundling-stacks': [] }));
  return { template: Template.fromStack(stack), app, stack };
}

describe.each(['dev', 'prod'])('the %s stage', (stage) => {
  const { template } = synth(stage);
  const config = stageConfig(cdkJson.context.stages, stage);

  it('throttles the stage and each workspace through the authorizer-keyed usage plan', () => {
    template.hasResourceProperties('AWS::ApiGateway::RestApi', { ApiKeySourceType: 'AUTHORIZER' });
    template.hasResourceProperties('AWS::ApiGateway::Stage', {
      MethodSettings: Match.arrayWith([
        Match.objectLike({ ThrottlingRateLimit: config.throttle.rateLimit, ThrottlingBurstLimit: config.throttle.burstLimit, LoggingLevel: 'ERROR', MetricsEnabled: false }),
      ]),
    });
    template.hasResourceProperties('AWS::ApiGateway::UsagePlan', {
      Throttle: { RateLimit: config.workspaceThrottle.rateLimit, BurstLimit: config.workspaceThrottle.burstLimit },
      ApiStages: [Match.objectLike({ Stage: Match.anyValue() })],
    });
    const methods = Object.values(template.findResources('AWS::ApiGateway::Method')) as { Properties: { AuthorizationType: string; ApiKeyRequired?: boolean } }[];
    for (const method of methods) expect(method.Properties.ApiKeyRequired ?? false).toBe(method.Properties.AuthorizationType === 'CUSTOM');
  });

  it('alarms on API 5xx rate and p99 latency, each function, the authorizer and DynamoDB, into the topic', () => {
    const alarms = template.findResources('AWS::CloudWatch::Alarm') as Record<string, { Properties: { AlarmName: string; AlarmActions: unknown[] } }>;
    const names = Object.values(alarms).map((a) => a.Properties.AlarmName);
    const expected = [
      'Api5xxRate',
      'ApiLatencyP99',
      'AuthorizerFailures',
      'AuthorizerThrottles',
      'AuthorizerUnavailable',
      'DynamoDbThrottles',
      'DynamoDbSystemErrors',
      'IdempotencyTableThrottles',
      'IdempotencyTableSystemErrors',
    ];
    if (config.scheduledTestMinutes > 0) expected.push('SmokeFailing');
    for (const [, entryRoutes] of functionsByEntry()) expected.push(`${entryRoutes[0]!.name}Errors`, `${entryRoutes[0]!.name}Throttles`);
    expect(names.sort()).toEqual(expected.map((n) => `gather-${stage}-${n}`).sort());
    for (const alarm of Object.values(alarms)) expect(JSON.stringify(alarm.Properties.AlarmActions)).toContain('AlarmTopic');
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { AlarmName: `gather-${stage}-ApiLatencyP99`, Threshold: config.latencyAlarmP99Ms, ExtendedStatistic: 'p99' });
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
  });

  it("counts throttles and system errors of every operation the code sends to the records table", () => {
    // Each command the store sends (lib/store/), by the Operation name DynamoDB publishes its metrics under.
    const operationOf: Record<string, string> = { Get: 'GetItem', Put: 'PutItem', Update: 'UpdateItem', Delete: 'DeleteItem', BatchGet: 'BatchGetItem', TransactWrite: 'TransactWriteItems', Query: 'Query' };
    // DescribeTable is a control-plane call, which only the admin CLI sends (lib/store/table-check.ts) and DynamoDB's
    // per-operation throttle and error metrics do not cover.
    const controlPlane = new Set(['DescribeTable']);
    const sent = new Set<string>();
    for (const file of readdirSync(new URL('../../lib/store/', import.meta.url))) {
      for (const [, command] of readFileSync(new URL(`../../lib/store/${file}`, import.meta.url), 'utf8').matchAll(/new (\w+?)(?:Item)?Command\(/g)) {
        if (controlPlane.has(command!)) continue;
        expect([command, operationOf[command!]]).toEqual([command, expect.any(String)]);
        sent.add(operationOf[command!]!);
      }
    }
    expect(sent).toContain('TransactWriteItems');
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')) as { Properties: { AlarmName: string; Metrics: { MetricStat?: { Metric: { Dimensions: { Name: string; Value: unknown }[] } } }[] } }[];
    for (const name of ['DynamoDbThrottles', 'DynamoDbSystemErrors']) {
      const alarm = alarms.find((a) => a.Properties.AlarmName === `gather-${stage}-${name}`)!;
      const operations = alarm.Properties.Metrics.flatMap((m) => m.MetricStat?.Metric.Dimensions.filter((d) => d.Name === 'Operation').map((d) => d.Value) ?? []);
      expect([name, [...sent].filter((operation) => !operations.includes(operation))]).toEqual([name, []]);
    }
  });

  it("lets the stage's alarms publish into the topic, whose own policy (TLS only) replaces SNS's default one", () => {
    const policies = Object.values(template.findResources('AWS::SNS::TopicPolicy')) as { Properties: { PolicyDocument: { Statement: Record<string, any>[] } } }[];
    expect(policies).toHaveLength(1);
    const statements = policies[0]!.Properties.PolicyDocument.Statement;
    const allows = statements.filter((s) => s.Effect === 'Allow');
    expect(allows).toEqual([
      expect.objectContaining({
        Action: 'sns:Publish',
        Principal: { Service: 'cloudwatch.amazonaws.com' },
        // This account's alarms, and of them this stage's only: another account's alarm must not publish here.
        Condition: {
          StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
          ArnLike: {
            'aws:SourceArn': {
              'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':cloudwatch:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, `:alarm:gather-${stage}-*`]],
            },
          },
        },
      }),
    ]);
    // The TLS-only statement is still there.
    expect(statements).toContainEqual(expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }));
  });

  it('writes metric math that CloudWatch accepts: no MAX over an array that mixes a series and a number', () => {
    // CloudWatch parses an expression only when the alarm or dashboard is created; a rejected one fails the deploy. The
    // alarms' expressions and the dashboard's body (where the same expression is written again) are both searched.
    const text = JSON.stringify(template.toJSON());
    expect(text).toMatch(/IF\(requests > 0/);
    expect(text.match(/MAX\(\[[^\]]*\]/g) ?? []).toEqual([]);
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: `gather-${stage}-Api5xxRate`,
      Metrics: Match.arrayWith([Match.objectLike({ Expression: 'IF(requests > 0, 100 * errors / requests, 0)' })]),
    });
  });

  it('fills every DynamoDB operation series with 0 before summing, so its alarms have data in every period and go back to OK', () => {
    // CloudWatch keeps an alarm on AWS/DynamoDB metrics in its state while they are missing, whatever TreatMissingData.
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')) as { Properties: { AlarmName: string; Metrics?: { Id: string; Expression?: string; MetricStat?: { Metric: { Namespace: string } } }[] } }[];
    const dynamo = alarms.filter((a) => /DynamoDb|IdempotencyTable/.test(a.Properties.AlarmName));
    expect(dynamo).toHaveLength(4);
    for (const alarm of dynamo) {
      const metrics = alarm.Properties.Metrics!;
      const ids = metrics.filter((m) => m.MetricStat?.Metric.Namespace === 'AWS/DynamoDB').map((m) => m.Id);
      const [expression] = metrics.filter((m) => m.Expression).map((m) => m.Expression!);
      expect(ids.length).toBeGreaterThanOrEqual(4);
      expect(expression!.split(' + ').sort()).toEqual(ids.map((id) => `FILL(${id}, 0)`).sort());
    }
  });

  /** The stage's access-log line, as its JSON format names each field. */
  const accessLogFormat = () => {
    const [stageResource] = Object.values(template.findResources('AWS::ApiGateway::Stage')) as { Properties: { AccessLogSetting: { Format: string } } }[];
    return JSON.parse(stageResource!.Properties.AccessLogSetting.Format) as Record<string, string>;
  };

  /** A count into `Gather` of a log group's lines matching a pattern, per stage, and the alarm on one such line. */
  const expectAlarmOnLogLines = (logGroupId: string, filterPattern: string, metricName: string) => {
    template.hasResourceProperties('AWS::Logs::MetricFilter', {
      LogGroupName: { Ref: Match.stringLikeRegexp(`^${logGroupId}`) },
      FilterPattern: filterPattern,
      MetricTransformations: [Match.objectLike({ MetricNamespace: 'Gather', MetricName: metricName, MetricValue: '1', Dimensions: [{ Key: 'stage', Value: '$.stage' }] })],
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: `gather-${stage}-${metricName}`,
      Namespace: 'Gather',
      MetricName: metricName,
      Dimensions: [{ Name: 'stage', Value: stage }],
      Threshold: 1,
    });
  };

  it('logs who called what: the token id and workspace of every request, the route as a template, never a record id', () => {
    const format = accessLogFormat();
    expect(format).toMatchObject({
      tokenId: '$context.authorizer.principalId',
      workspace: '$context.authorizer.workspace',
      resourcePath: '$context.resourcePath',
      status: '$context.status',
      errorType: '$context.error.responseType',
    });
    expect(Object.values(format)).not.toContain('$context.path');
  });

  it("alarms on the authorizer's key-table failures from its log, not on Lambda Errors, which every refused key raises", () => {
    expectAlarmOnLogLines('RecordsApiAuthorizerLogs', `{ $.message = "${keyLookupFailedMessage}" }`, 'AuthorizerFailures');
  });

  it('alarms on every 503 API Gateway answers for a failed authorizer, from the access log: it counts them as 4xx, not 5xx', () => {
    expect(accessLogFormat()).toMatchObject({ stage: '$context.stage', errorType: '$context.error.responseType' });
    expectAlarmOnLogLines('RecordsApiAccessLogs', '{ ($.errorType = "AUTHORIZER_CONFIGURATION_ERROR") || ($.errorType = "AUTHORIZER_FAILURE") }', 'AuthorizerUnavailable');
  });

  it("gives every function its stage, which every metric carries, so stages sharing an account never mix", () => {
    const functions = Object.values(template.findResources('AWS::Lambda::Function')).filter((f) => (f as { Properties: { Handler?: string } }).Properties.Handler === 'index.handler');
    expect(functions.length).toBeGreaterThan(0);
    for (const fn of functions) expect((fn as { Properties: { Environment: { Variables: Record<string, unknown> } } }).Properties.Environment.Variables.GATHER_STAGE).toBe(stage);
  });

  it('shows on the dashboard what the runbook asks for: refusals by error code, authorizer failures, the scheduled test, DynamoDB latency', () => {
    const [dashboard] = Object.values(template.findResources('AWS::CloudWatch::Dashboard')) as { Properties: { DashboardBody: unknown } }[];
    const body = JSON.stringify(dashboard!.Properties.DashboardBody);
    for (const expected of ['Refused requests by error code', "SEARCH('{Gather,code,service,stage}", 'AuthorizerFailures', 'AuthorizerUnavailable', 'SmokeSuccess', 'SmokeLeftovers', 'SuccessfulRequestLatency', 'UpdateItem']) {
      expect([expected, body.includes(expected)]).toEqual([expected, true]);
    }
    // The search is this stage's only (its quotes arrive escaped, once per level of JSON).
    expect(body).toMatch(new RegExp(`MetricName=\\\\+"Errors\\\\+" stage=\\\\+"${stage}\\\\+"`));
  });

  it("retains the account's API Gateway logging role when the stage's stack is deleted (other stages share it)", () => {
    const roles = Object.entries(template.findResources('AWS::IAM::Role')).filter(([id]) => id.includes('CloudWatchRole'));
    expect(roles).toHaveLength(1);
    expect((roles[0]![1] as { DeletionPolicy?: string }).DeletionPolicy).toBe('Retain');
  });

  it('outputs the API URL, the table, the usage plan and the alarm topic', () => {
    for (const output of ['ApiUrl', 'TableName', 'UsagePlanId', 'AlarmTopicArn']) template.hasOutput(output, {});
  });

  it('keeps logs for the stage setting and logs API access as JSON', () => {
    const groups = Object.values(template.findResources('AWS::Logs::LogGroup')) as { Properties: { RetentionInDays: number } }[];
    expect(groups.length).toBeGreaterThan(functionsByEntry().size);
    // Every function's (the authorizer's too) and the API's access logs: all at the stage's setting.
    // Plus the authorizer's, the access logs, API Gateway's execution logs and, where it runs, the scheduled test's.
    const fnGroups = groups.filter((g) => g.Properties.RetentionInDays === config.logRetentionDays);
    expect(fnGroups.length).toBe(functionsByEntry().size + 3 + (config.scheduledTestMinutes > 0 ? 1 : 0));
    expect(fnGroups.length).toBe(groups.length);
    template.hasResourceProperties('AWS::Logs::LogGroup', {
      LogGroupName: { 'Fn::Join': ['', ['API-Gateway-Execution-Logs_', { Ref: Match.stringLikeRegexp('^RecordsApi[0-9A-F]{8}$') }, `/${stage}`]] },
      RetentionInDays: config.logRetentionDays,
    });
  });

  it('has a WAF in front of the stage exactly when its settings ask for one (prod does, dev does not)', () => {
    expect(config.waf).toBe(stage === 'prod');
    template.resourceCountIs('AWS::WAFv2::WebACL', config.waf ? 1 : 0);
    template.resourceCountIs('AWS::WAFv2::WebACLAssociation', config.waf ? 1 : 0);
  });
});

describe('the scheduled end-to-end test', () => {
  it('runs on the `stage` stage at its rate, with its key from Secrets Manager, and alarms when it fails or stops', () => {
    const { template } = synth('stage');
    const config = stageConfig(cdkJson.context.stages, 'stage');
    expect(config.scheduledTestMinutes).toBeGreaterThan(0);
    template.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: `rate(${config.scheduledTestMinutes} minutes)`,
      State: 'ENABLED',
      Target: Match.objectLike({ Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('ScheduledTestsSmokeFunction'), 'Arn'] }, RoleArn: Match.anyValue() }),
    });
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Action: 'lambda:InvokeFunction' })]) },
      Roles: [{ Ref: Match.stringLikeRegexp('SchedulerRoleForTarget') }],
    });
    // A failed run is not run again by Lambda's asynchronous retries: the next scheduled run is the retry.
    // A throttled run is held by Lambda no longer than the interval to the next run (6 h by default), and the
    // Scheduler does not send a run again either (185 times over 24 h by default).
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: Match.stringLikeRegexp('ScheduledTestsSmokeFunction') },
      MaximumRetryAttempts: 0,
      // The stage runs the test every 5 minutes (cdk.json).
      MaximumEventAgeInSeconds: 300,
    });
    template.hasResourceProperties('AWS::Scheduler::Schedule', { Target: Match.objectLike({ RetryPolicy: { MaximumRetryAttempts: 0 } }) });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ SMOKE_BASE_URL: Match.anyValue(), SMOKE_SECRET_ARN: { Ref: Match.stringLikeRegexp('SmokeKey') } }) },
    });
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Action: ['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue'] })]) },
    });
    // What makes it fire, all of it: a period whose worst run failed (Minimum < 1), or that had no run (missing data
    // breaches), twice in a row; and it says so again when it clears. The metric is the one the function writes
    // (test/integration/smoke.test.ts checks its namespace and dimensions against smokeSuccessMetric).
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'gather-stage-SmokeFailing',
      Namespace: 'Gather',
      MetricName: 'SmokeSuccess',
      Dimensions: [
        { Name: 'service', Value: 'gather' },
        { Name: 'stage', Value: 'stage' },
      ],
      Statistic: 'Minimum',
      Period: 300,
      Threshold: 1,
      ComparisonOperator: 'LessThanThreshold',
      EvaluationPeriods: 2,
      DatapointsToAlarm: 2,
      TreatMissingData: 'breaching',
      AlarmActions: [{ Ref: Match.stringLikeRegexp('AlarmTopic') }],
      OKActions: [{ Ref: Match.stringLikeRegexp('AlarmTopic') }],
    });
    template.hasOutput('SmokeKeySecretArn', {});
  });

  it('is off on stages that do not ask for it, and can be turned on for any stage', () => {
    synth('dev').template.resourceCountIs('AWS::Scheduler::Schedule', 0);
    synth('prod', { scheduledTestMinutes: 15 }).template.hasResourceProperties('AWS::Scheduler::Schedule', { ScheduleExpression: 'rate(15 minutes)' });
    synth('prod', { scheduledTestMinutes: 0 }).template.resourceCountIs('AWS::Scheduler::Schedule', 0);
  });

  it('watches prod too (SPEC 1.3: an alarm when the API stops doing its job)', () => {
    expect(stageConfig(cdkJson.context.stages, 'prod').scheduledTestMinutes).toBeGreaterThan(0);
    synth('prod').template.hasResourceProperties('AWS::CloudWatch::Alarm', { AlarmName: 'gather-prod-SmokeFailing' });
  });
});

describe('stage settings', () => {
  it('subscribes the alarm e-mail and turns the WAF on when configured, still nag-clean', () => {
    const { template, app } = synth('dev', { alarmEmail: 'ops@example.com', waf: true });
    template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'ops@example.com' });
    template.resourceCountIs('AWS::WAFv2::WebACLAssociation', 1);
    expect(() => app.synth()).not.toThrow();
    expect(() => synth('prod', { waf: false }).app.synth()).not.toThrow();
  });

  it('stops synth when a stage that keeps data or runs the scheduled test has no alarm e-mail, unless its topic is subscribed elsewhere', () => {
    const errors = (stage: string, overrides: Record<string, unknown> = {}) =>
      Annotations.fromStack(synth(stage, overrides).stack).findError('*', Match.stringLikeRegexp('no alarmEmail'));
    expect(errors('prod')).toHaveLength(1);
    expect(errors('stage')).toHaveLength(1);
    expect(errors('prod', { alarmEmail: 'ops@example.com' })).toHaveLength(0);
    expect(errors('prod', { alarmsSubscribedOutsideStack: true })).toHaveLength(0);
    expect(errors('dev')).toHaveLength(0);
    expect(errors('dev', { scheduledTestMinutes: 5 })).toHaveLength(1);
  });

  it("makes a new API deployment when the authorizer's cache TTL changes, so the stage serves the new TTL", () => {
    // API Gateway serves a stage from a snapshot (a deployment), which CDK replaces only when its logical id changes.
    const deployments = (ttl: number) => Object.keys(synth('dev', { authorizerCacheTtlSeconds: ttl }).template.findResources('AWS::ApiGateway::Deployment'));
    const [at60, at300] = [deployments(60), deployments(300)];
    expect(at60).toHaveLength(1);
    expect(at300).toHaveLength(1);
    expect(at300).not.toEqual(at60);
    expect(deployments(60)).toEqual(at60);
  });

  it('blocks only oversized bodies (413) and one IP over its rate (429 with Retry-After), each in the error envelope', () => {
    const { template } = synth('stage');
    const [acl] = Object.values(template.findResources('AWS::WAFv2::WebACL')) as { Properties: Record<string, any> }[];
    const rules = acl!.Properties.Rules as { Name: string; Action?: any; OverrideAction?: any }[];
    expect(rules.map((rule) => rule.Name)).toEqual(['BodyTooLarge', 'IpRateLimit', 'AwsCommonRules']);
    const bodies = acl!.Properties.CustomResponseBodies as Record<string, { Content: string }>;
    const answer = (rule: string) => rules.find((r) => r.Name === rule)!.Action.Block.CustomResponse;
    expect(answer('BodyTooLarge')).toMatchObject({ ResponseCode: 413 });
    expect(JSON.parse(bodies[answer('BodyTooLarge').CustomResponseBodyKey]!.Content).error.code).toBe('payload_too_large');
    expect(answer('IpRateLimit')).toMatchObject({ ResponseCode: 429, ResponseHeaders: [{ Name: 'Retry-After', Value: '60' }] });
    // One address may use the stage's whole rate for the five minutes the rule counts, so it never refuses what the
    // stage and workspace throttles let through.
    const config = stageConfig(cdkJson.context.stages, 'stage');
    const ipRule = rules.find((r) => r.Name === 'IpRateLimit') as unknown as { Statement: { RateBasedStatement: { Limit: number } } };
    expect(ipRule.Statement.RateBasedStatement.Limit).toBe(config.throttle.rateLimit * 300);
    expect(ipRule.Statement.RateBasedStatement.Limit).toBeGreaterThanOrEqual(config.workspaceThrottle.rateLimit * 300);
    expect(JSON.parse(bodies[answer('IpRateLimit').CustomResponseBodyKey]!.Content).error.code).toBe('rate_limited');
    // The common rule set only counts: its rules would refuse real records (markup in a value, long ids, big bodies).
    const common = rules.find((r) => r.Name === 'AwsCommonRules')!;
    expect(common.OverrideAction).toEqual({ Count: {} });
    expect(common.Action).toBeUndefined();
  });

  it('samples no request, since a sample holds the Authorization header (SPEC: the key never appears in a log)', () => {
    const { template } = synth('stage');
    const [acl] = Object.values(template.findResources('AWS::WAFv2::WebACL')) as { Properties: Record<string, any> }[];
    const configs = [acl!.Properties.VisibilityConfig, ...(acl!.Properties.Rules as { VisibilityConfig: unknown }[]).map((rule) => rule.VisibilityConfig)];
    expect(configs).toHaveLength(4);
    for (const config of configs) expect(config).toMatchObject({ SampledRequestsEnabled: false, CloudWatchMetricsEnabled: true });
  });

  it("matches the body-size rule's Content-Length pattern to 4,400,000 bytes and up", () => {
    const { template } = synth('stage');
    const [acl] = Object.values(template.findResources('AWS::WAFv2::WebACL')) as { Properties: Record<string, any> }[];
    const rule = (acl!.Properties.Rules as { Name: string; Statement: any }[]).find((r) => r.Name === 'BodyTooLarge')!;
    const pattern = new RegExp(rule.Statement.RegexMatchStatement.RegexString);
    // No group at all, capturing or not: AWS WAF refuses capturing subexpressions (a failed deploy synth cannot see).
    expect(rule.Statement.RegexMatchStatement.RegexString).not.toContain('(');
    for (const length of [0, 1024, 1_048_576, 4_194_304, 4_399_999]) expect([length, pattern.test(String(length))]).toEqual([length, false]);
    for (const length of [4_400_000, 4_999_999, 5_000_000, 9_999_999, 10_485_760, 123_456_789]) expect([length, pattern.test(String(length))]).toEqual([length, true]);
  });

  it("caches the authorizer's answer for the stage's own TTL (SPEC: configurable per stage)", () => {
    for (const ttl of [0, 15, 300]) {
      const authorizers = Object.values(synth('stage', { authorizerCacheTtlSeconds: ttl }).template.findResources('AWS::ApiGateway::Authorizer'));
      expect(authorizers.map((a) => (a as { Properties: { AuthorizerResultTtlInSeconds: number } }).Properties.AuthorizerResultTtlInSeconds)).toEqual([ttl]);
    }
  });

  it('gives an unlisted stage the dev settings, and refuses bad ones', () => {
    expect(stageConfig(cdkJson.context.stages, 'alice')).toEqual(stageConfig(cdkJson.context.stages, 'dev'));
    // A listed stage takes its own settings over the defaults, never dev's.
    const stages = { dev: { alarmEmail: 'dev@example.com', scheduledTestMinutes: 1, logRetentionDays: 14 }, prod: { retainData: true } };
    expect(stageConfig(stages, 'prod')).toEqual({ ...defaultStageConfig, retainData: true });
    expect(stageConfig(stages, 'alice')).toMatchObject({ alarmEmail: 'dev@example.com', scheduledTestMinutes: 1, logRetentionDays: 14 });
    // dev may set only part of a throttle: an unlisted stage merges it key by key, as dev does.
    const partial = { dev: { throttle: { rateLimit: 10 }, workspaceThrottle: { burstLimit: 5 } } };
    expect(stageConfig(partial, 'alice')).toEqual(stageConfig(partial, 'dev'));
    expect(stageConfig(partial, 'alice')).toMatchObject({ throttle: { rateLimit: 10, burstLimit: 1000 }, workspaceThrottle: { rateLimit: 100, burstLimit: 5 } });
    expect(() => stageConfig({ dev: { alarmEmail: 'nope' } }, 'dev')).toThrow(/e-mail/);
    // A misspelt setting, or a boolean in quotes (a truthy string), is refused, never taken as nothing or as true.
    expect(() => stageConfig({ prod: { alarmEmial: 'ops@example.com' } }, 'prod')).toThrow(/stages.prod.alarmEmial is not a stage setting/);
    expect(() => stageConfig({ prod: { authorizerCacheTTLSeconds: 5 } }, 'prod')).toThrow(/not a stage setting/);
    expect(() => stageConfig({ dev: { waf: 'false' } }, 'alice')).toThrow(/stages.dev.waf must be a boolean/);
    expect(() => stageConfig({ prod: { retainData: 'false' } }, 'prod')).toThrow(/must be a boolean/);
    expect(() => stageConfig({ prod: { logRetentionDays: '90' } }, 'prod')).toThrow(/must be a number/);
    expect(() => stageConfig({ prod: { throttle: { rate: 10 } } }, 'prod')).toThrow(/throttle.rate is not a throttle setting/);
    expect(() => stageConfig({ prod: { throttle: { rateLimit: '10' } } }, 'prod')).toThrow(/throttle.rateLimit must be a number/);
    expect(() => stageConfig({ prod: 'retain' }, 'prod')).toThrow(/must be an object/);
    expect(() => stageConfig({ prod: { alarmEmail: 42 } }, 'prod')).toThrow(/must be a string/);
    expect(() => stageConfig({ prod: { logRetentionDays: 10 } }, 'prod')).toThrow(/logRetentionDays 10 is not a CloudWatch Logs retention period/);
    expect(() => stageConfig('{"prod": {', 'prod')).toThrow(/is not JSON/);
    for (const stages of ['null', '5', '[]', '"x"']) expect(() => stageConfig(stages, 'prod')).toThrow(/must be a JSON object of stage settings/);
    // Each as the operator's to mend (cdk synth prints its message alone: test/infra/cdk-app-entry.test.ts).
    expect(() => stageConfig({ prod: { waf: 'false' } }, 'prod')).toThrow(StageConfigError);
    expect(() => stageConfig({ dev: { authorizerCacheTtlSeconds: 7200 } }, 'dev')).toThrow(/0 to 3600/);
    expect(() => stageConfig({}, 'Bad_Stage')).toThrow(/Stage names/);
    // What AWS would refuse only at deploy time is refused at synth.
    expect(() => stageConfig({ dev: { throttle: { rateLimit: 0, burstLimit: 10 } } }, 'dev')).toThrow(/throttle.rateLimit/);
    expect(() => stageConfig({ dev: { workspaceThrottle: { rateLimit: 10, burstLimit: 2.5 } } }, 'dev')).toThrow(/workspaceThrottle.burstLimit/);
    expect(() => stageConfig({ dev: { throttle: { rateLimit: 10, burstLimit: 0 } } }, 'dev')).toThrow(/throttle.burstLimit must be a whole number of requests, 1 or more/);
    expect(() => stageConfig({ dev: { scheduledTestMinutes: 721 } }, 'dev')).toThrow(/0 \(off\) to 720/);
    expect(() => stageConfig({ dev: { scheduledTestMinutes: 1.5 } }, 'dev')).toThrow(/scheduledTestMinutes/);
    expect(() => stageConfig({ dev: { latencyAlarmP99Ms: -1 } }, 'dev')).toThrow(/latencyAlarmP99Ms/);
    expect(stageConfig({ dev: { scheduledTestMinutes: 720, throttle: { rateLimit: 0.5, burstLimit: 1 } } }, 'dev')).toMatchObject({ scheduledTestMinutes: 720 });
  });

  it("gives WAF's rate rule a whole number of at least 10 requests per 5 minutes, whatever the stage throttle", () => {
    const limitFor = (rateLimit: number) => {
      const { template } = synth('prod', { throttle: { rateLimit, burstLimit: 10 } });
      const [acl] = Object.values(template.findResources('AWS::WAFv2::WebACL')) as { Properties: { Rules: { Name: string; Statement: any }[] } }[];
      return acl!.Properties.Rules.find((r) => r.Name === 'IpRateLimit')!.Statement.RateBasedStatement.Limit as number;
    };
    expect([limitFor(1000), limitFor(0.5), limitFor(0.01)]).toEqual([300_000, 150, 10]);
  });
});
