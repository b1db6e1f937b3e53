import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import type { RestApi } from 'aws-cdk-lib/aws-apigateway';
import { Alarm, ComparisonOperator, Metric, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { Schedule, ScheduleExpression } from 'aws-cdk-lib/aws-scheduler';
import { LambdaInvoke } from 'aws-cdk-lib/aws-scheduler-targets';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { scheduledTestEntry } from '../../lib/routes.js';
import { ApiFunction } from './api-function.js';

export interface ScheduledTestsProps {
  readonly stage: string;
  readonly api: RestApi;
  readonly alarmTopic: ITopic;
  /** How often the scenario runs. */
  readonly everyMinutes: number;
  /** @default 30 */
  readonly logRetentionDays?: number;
}

/** `SmokeSuccess` of one stage's scheduled test (1 passed, 0 failed), as the alarm and the dashboard read it. */
export function smokeSuccessMetric(stage: string, period: Duration): Metric {
  return new Metric({ namespace: 'Gather', metricName: 'SmokeSuccess', dimensionsMap: { service: 'gather', stage }, statistic: 'Minimum', period });
}

/** `SmokeLeftovers` of one stage's scheduled test: records its clean-up could not delete, summed per period. */
export function smokeLeftoversMetric(stage: string, period: Duration): Metric {
  return new Metric({ namespace: 'Gather', metricName: 'SmokeLeftovers', dimensionsMap: { service: 'gather', stage }, statistic: 'Sum', period });
}

/**
 * The scheduled end-to-end test of a stage: EventBridge Scheduler runs functions/scheduled-smoke.ts, which runs the
 * smoke scenario (lib/smoke/scenario.ts) against the stage's own URL with a key from Secrets Manager. An alarm goes off
 * when a run fails or when runs stop arriving.
 */
export class ScheduledTests extends Construct {
  readonly secret: Secret;
  readonly function: ApiFunction;
  readonly schedule: Schedule;
  readonly alarm: Alarm;

  constructor(scope: Construct, id: string, props: ScheduledTestsProps) {
    super(scope, id);
    // The operator stores a key here (docs/operations.md); until then the generated value fails and the alarm says so.
    this.secret = new Secret(this, 'SmokeKey', {
      description: `Gather ${props.stage}: API key (records:read,records:write) of the scheduled end-to-end test`,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.function = new ApiFunction(this, 'SmokeFunction', {
      entry: scheduledTestEntry,
      stage: props.stage,
      timeout: Duration.seconds(60),
      ...(props.logRetentionDays !== undefined ? { logRetentionDays: props.logRetentionDays } : {}),
    });
    // The Scheduler invokes the function asynchronously, so Lambda's own retries (two by default) would run a failed or
    // timed-out scenario again, leaving more test records and overlapping the next scheduled run. The next run is the
    // retry; the alarm waits for two failed periods anyway. (The target's retryAttempts below covers only the Scheduler's
    // delivery of the event.) retryAttempts covers only the function's errors: a throttled invocation stays in Lambda's
    // queue for up to 6 h by default, so after an account-wide throttle the runs held back would all start at once, on
    // an API that is recovering. A run older than the interval to the next one is dropped instead (the alarm still sees
    // the missing runs).
    this.function.configureAsyncInvoke({ retryAttempts: 0, maxEventAge: Duration.minutes(Math.min(props.everyMinutes, 360)) });
    this.function.addEnvironment('SMOKE_BASE_URL', props.api.url);
    this.function.addEnvironment('SMOKE_SECRET_ARN', this.secret.secretArn);
    this.secret.grantRead(this.function);

    this.schedule = new Schedule(this, 'Schedule', {
      description: `Gather ${props.stage}: run the end-to-end scenario`,
      schedule: ScheduleExpression.rate(Duration.minutes(props.everyMinutes)),
      target: new LambdaInvoke(this.function, { retryAttempts: 0 }),
    });

    const period = Duration.minutes(Math.max(5, props.everyMinutes));
    this.alarm = new Alarm(this, 'SmokeFailing', {
      alarmName: `gather-${props.stage}-SmokeFailing`,
      alarmDescription: 'The scheduled end-to-end test failed, or did not run. See docs/operations.md, "Runbook".',
      metric: smokeSuccessMetric(props.stage, period),
      threshold: 1,
      comparisonOperator: ComparisonOperator.LESS_THAN_THRESHOLD,
      evaluationPeriods: 2,
      datapointsToAlarm: 2,
      // No data means no run: that is a failure too.
      treatMissingData: TreatMissingData.BREACHING,
    });
    const action = new SnsAction(props.alarmTopic);
    this.alarm.addAlarmAction(action);
    this.alarm.addOkAction(action);
  }
}
