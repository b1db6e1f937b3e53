import { Annotations, CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { RecordsApi } from './constructs/api.js';
import { RecordsTable } from './constructs/table.js';
import { Monitoring } from './constructs/monitoring.js';
import { ApiWaf, wafIpRateLimit } from './constructs/waf.js';
import { ScheduledTests } from './constructs/scheduled-tests.js';
import { acknowledgeNagFindings } from './nag-acknowledgements.js';
import type { StageConfig } from './stage-config.js';

export interface GatherStackProps extends StackProps {
  readonly stage: string;
  readonly config: StageConfig;
}

/** One stage of Gather: composes the constructs; no business logic here. */
export class GatherStack extends Stack {
  readonly table: RecordsTable;
  readonly api: RecordsApi;
  readonly monitoring: Monitoring;
  readonly scheduledTests?: ScheduledTests;

  constructor(scope: Construct, id: string, props: GatherStackProps) {
    super(scope, id, props);
    this.table = new RecordsTable(this, 'Records', { retainData: props.config.retainData });
    this.api = new RecordsApi(this, 'RecordsApi', {
      stage: props.stage,
      table: this.table.table,
      idempotencyTable: this.table.idempotencyTable,
      authorizerCacheTtlSeconds: props.config.authorizerCacheTtlSeconds,
      logRetentionDays: props.config.logRetentionDays,
      retainData: props.config.retainData,
      throttle: props.config.throttle,
      workspaceThrottle: props.config.workspaceThrottle,
    });
    const functions = new Map([...this.api.functions.values()].map((fn) => [fn.node.id.replace(/Function$/, ''), fn] as const));
    this.monitoring = new Monitoring(this, 'Monitoring', {
      stage: props.stage,
      api: this.api.api,
      table: this.table.table,
      idempotencyTable: this.table.idempotencyTable,
      functions,
      authorizer: this.api.authorizerFunction,
      authorizerLogGroup: this.api.authorizerFunction.logGroup,
      accessLogGroup: this.api.accessLogs,
      ...(props.config.alarmEmail ? { alarmEmail: props.config.alarmEmail } : {}),
      latencyAlarmP99Ms: props.config.latencyAlarmP99Ms,
    });
    // A stage that keeps data or runs the scheduled test is one someone must hear about: without a subscriber its
    // alarms go to a topic nobody reads, and a warning scrolls by in a deploy's log. An error stops synth and deploy
    // until the stage names an e-mail, or says that the topic is subscribed to outside the stack.
    if (!props.config.alarmEmail && !props.config.alarmsSubscribedOutsideStack && (props.config.retainData || props.config.scheduledTestMinutes > 0)) {
      Annotations.of(this).addError(
        `Stage ${props.stage} has no alarmEmail, so its alarms would reach nobody. Set stages.${props.stage}.alarmEmail in cdk.json ` +
          `(or set stages.${props.stage}.alarmsSubscribedOutsideStack to true if you subscribe to the AlarmTopicArn topic another way): docs/operations.md.`,
      );
    }
    // One address may send what one route of the stage may (API Gateway throttles each method separately): far more
    // than a workspace's usage plan allows, so one integrator's server syncing several workspaces, one address, is
    // refused by their plans before this rule; it stops a flood spread over every route.
    if (props.config.waf) new ApiWaf(this, 'Waf', { stage: this.api.api.deploymentStage, ipRateLimit: wafIpRateLimit(props.config.throttle.rateLimit) });
    if (props.config.scheduledTestMinutes > 0) {
      this.scheduledTests = new ScheduledTests(this, 'ScheduledTests', {
        stage: props.stage,
        api: this.api.api,
        alarmTopic: this.monitoring.topic,
        everyMinutes: props.config.scheduledTestMinutes,
        logRetentionDays: props.config.logRetentionDays,
      });
      new CfnOutput(this, 'SmokeKeySecretArn', { value: this.scheduledTests.secret.secretArn, description: 'Store the scheduled test key here' });
    }
    new CfnOutput(this, 'ApiUrl', { value: this.api.api.url, description: 'Base URL of the records API' });
    new CfnOutput(this, 'TableName', { value: this.table.table.tableName, description: 'The DynamoDB table (for the admin CLI)' });
    new CfnOutput(this, 'UsagePlanId', { value: this.api.usagePlan.usagePlanId, description: 'The per-workspace usage plan (admin CLI --usage-plan)' });
    new CfnOutput(this, 'AlarmTopicArn', { value: this.monitoring.topic.topicArn, description: 'Where the alarms go' });
    acknowledgeNagFindings(this, { waf: props.config.waf });
  }
}
