/** Issue 6, on the synthesized templates: stages, monitoring, per-workspace limits, WAF, logging and outputs. */
import { readFileSync } from 'node:fs';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { createApp } from '../../infra/app.js';
import { stageConfig } from '../../infra/stage-config.js';
import { functionsByEntry } from '../../lib/routes.js';
import { temporary } from '../support/temporary-cdk-apps.js';

const cdkJson = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')) as { context: Record<string, unknown> };

function synth(stage: string, overrides: Record<string, unknown> = {}) {
  const stages = { ...(cdkJson.context.stages as Record<string, object>) };
  stages[stage] = { ...stages[stage], ...overrides };
  const { stack, app } = temporary(createApp({ ...cdkJson.context, stages, stage, 'aws:cdk:bundling-stacks': [] }));
  return { template: Template.fromStack(stack), app };
}

describe.each(['dev', 'prod'])('the %s stage', (stage) => {
  const { template } = synth(stage);
  const config = stageConfig(cdkJson.context.stages, stage);

  it('throttles the stage and each workspace through the authorizer-keyed usage plan', () => {
    template.hasResourceProperties('AWS::ApiGateway::RestApi', { ApiKeySourceType: 'AUTHORIZER' });
    template.hasResourceProperties('AWS::ApiGateway::Stage', {
      MethodSettings: Match.arrayWith([
        Match.objectLike({ ThrottlingRateLimit: config.throttle.rateLimit, ThrottlingBurstLimit: config.throttle.burstLimit, LoggingLevel: 'ERROR', MetricsEnabled: true }),
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
    const expected = ['Api5xxRate', 'ApiLatencyP99', 'AuthorizerErrors', 'DynamoDbThrottles', 'DynamoDbSystemErrors'];
    for (const [, entryRoutes] of functionsByEntry()) expected.push(`${entryRoutes[0]!.name}Errors`, `${entryRoutes[0]!.name}Throttles`);
    expect(names.sort()).toEqual(expected.map((n) => `gather-${stage}-${n}`).sort());
    for (const alarm of Object.values(alarms)) expect(JSON.stringify(alarm.Properties.AlarmActions)).toContain('AlarmTopic');
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { AlarmName: `gather-${stage}-ApiLatencyP99`, Threshold: config.latencyAlarmP99Ms, ExtendedStatistic: 'p99' });
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
  });

  it('outputs the API URL, the table, the usage plan and the alarm topic', () => {
    for (const output of ['ApiUrl', 'TableName', 'UsagePlanId', 'AlarmTopicArn']) template.hasOutput(output, {});
  });

  it('keeps logs for the stage setting and logs API access as JSON', () => {
    const groups = Object.values(template.findResources('AWS::Logs::LogGroup')) as { Properties: { RetentionInDays: number } }[];
    expect(groups.length).toBeGreaterThan(functionsByEntry().size);
    const fnGroups = groups.filter((g) => g.Properties.RetentionInDays === config.logRetentionDays);
    expect(fnGroups.length).toBe(functionsByEntry().size + 1);
  });

  it('has no WAF unless the stage asks for one', () => {
    template.resourceCountIs('AWS::WAFv2::WebACL', 0);
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
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ SMOKE_BASE_URL: Match.anyValue(), SMOKE_SECRET_ARN: { Ref: Match.stringLikeRegexp('SmokeKey') } }) },
    });
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Action: ['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue'] })]) },
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'gather-stage-SmokeFailing',
      MetricName: 'SmokeSuccess',
      ComparisonOperator: 'LessThanThreshold',
      TreatMissingData: 'breaching',
      AlarmActions: [{ Ref: Match.stringLikeRegexp('AlarmTopic') }],
    });
    template.hasOutput('SmokeKeySecretArn', {});
  });

  it('is off on stages that do not ask for it, and can be turned on for any stage', () => {
    synth('dev').template.resourceCountIs('AWS::Scheduler::Schedule', 0);
    synth('prod', { scheduledTestMinutes: 15 }).template.hasResourceProperties('AWS::Scheduler::Schedule', { ScheduleExpression: 'rate(15 minutes)' });
  });
});

describe('stage settings', () => {
  it('subscribes the alarm e-mail and turns the WAF on when configured, still nag-clean', () => {
    const { template, app } = synth('stage', { alarmEmail: 'ops@example.com', waf: true });
    template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'ops@example.com' });
    template.hasResourceProperties('AWS::WAFv2::WebACL', {
      Scope: 'REGIONAL',
      Rules: Match.arrayWith([
        Match.objectLike({ Name: 'BodyTooLarge', Action: { Block: { CustomResponse: Match.objectLike({ ResponseCode: 413 }) } } }),
        Match.objectLike({ Name: 'IpRateLimit' }),
        Match.objectLike({ Name: 'AwsCommonRules' }),
      ]),
    });
    template.resourceCountIs('AWS::WAFv2::WebACLAssociation', 1);
    expect(() => app.synth()).not.toThrow();
  });

  it('gives an unlisted stage the dev settings, and refuses bad ones', () => {
    expect(stageConfig(cdkJson.context.stages, 'alice')).toEqual(stageConfig(cdkJson.context.stages, 'dev'));
    expect(() => stageConfig({ dev: { alarmEmail: 'nope' } }, 'dev')).toThrow(/e-mail/);
    expect(() => stageConfig({ dev: { authorizerCacheTtlSeconds: 7200 } }, 'dev')).toThrow(/0 to 3600/);
    expect(() => stageConfig({}, 'Bad_Stage')).toThrow(/Stage names/);
  });
});
