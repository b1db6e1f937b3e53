import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import type { RestApi } from 'aws-cdk-lib/aws-apigateway';
import { Alarm, ComparisonOperator, Dashboard, GraphWidget, MathExpression, TreatMissingData, type IMetric } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { FilterPattern, MetricFilter, type IFilterPattern, type ILogGroup } from 'aws-cdk-lib/aws-logs';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import { keyLookupFailedMessage } from '../../lib/auth/authorizer-log.js';
import { smokeLeftoversMetric, smokeSuccessMetric } from './scheduled-tests.js';

/** API Gateway's response types for a failed authorizer (lib/http/gateway-responses.ts answers both with a 503). */
const authorizerFailureTypes = ['AUTHORIZER_CONFIGURATION_ERROR', 'AUTHORIZER_FAILURE'] as const;

export interface MonitoringProps {
  readonly stage: string;
  readonly api: RestApi;
  readonly table: ITableV2;
  /** The Idempotency-Key table: when it throttles, keyed writes answer 503. */
  readonly idempotencyTable: ITableV2;
  /** Every API function, by a short name for its alarms. */
  readonly functions: ReadonlyMap<string, IFunction>;
  readonly authorizer: IFunction;
  /** The authorizer's log group: its key-lookup failures are counted from it. */
  readonly authorizerLogGroup: ILogGroup;
  /** The API's access log (JSON lines with `stage` and `errorType`): API Gateway's failed authorizer calls are counted from it. */
  readonly accessLogGroup: ILogGroup;
  /** @default none */
  readonly alarmEmail?: string;
  /** @default 2000 */
  readonly latencyAlarmP99Ms?: number;
}

/**
 * The stage's alarms, on one SNS topic (encrypted with a key CloudWatch may use), and a dashboard of the same
 * metrics. docs/operations.md has the runbook: what each alarm means and what to do.
 */
export class Monitoring extends Construct {
  readonly topic: Topic;
  readonly alarms: Alarm[] = [];
  readonly dashboard: Dashboard;

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    const key = new Key(this, 'TopicKey', { enableKeyRotation: true, removalPolicy: RemovalPolicy.DESTROY, description: `Gather ${props.stage} alarm topic` });
    // CloudWatch publishes alarms into the encrypted topic, so it must be able to use the key.
    key.grant(new ServicePrincipal('cloudwatch.amazonaws.com'), 'kms:Decrypt', 'kms:GenerateDataKey*');
    this.topic = new Topic(this, 'AlarmTopic', { displayName: `Gather ${props.stage} alarms`, masterKey: key, enforceSSL: true });
    // enforceSSL gives the topic a policy of its own, which replaces SNS's default one (that let the account's own
    // services publish): without this statement every alarm would change state and notify no one ("... is not
    // authorized to perform: SNS:Publish ... because no resource-based policy allows the SNS:Publish action"). Only
    // this stage's alarms, of this account, may publish.
    const { account, region, partition } = Stack.of(this);
    this.topic.addToResourcePolicy(
      new PolicyStatement({
        sid: 'AllowThisStagesAlarmsToPublish',
        principals: [new ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [this.topic.topicArn],
        conditions: {
          StringEquals: { 'aws:SourceAccount': account },
          ArnLike: { 'aws:SourceArn': `arn:${partition}:cloudwatch:${region}:${account}:alarm:gather-${props.stage}-*` },
        },
      }),
    );
    if (props.alarmEmail) this.topic.addSubscription(new EmailSubscription(props.alarmEmail));
    const action = new SnsAction(this.topic);
    const alarm = (name: string, metric: IMetric, threshold: number, description: string, periods = 1) => {
      const created = new Alarm(this, name, {
        alarmName: `gather-${props.stage}-${name}`,
        alarmDescription: `${description} See docs/operations.md, "Runbook".`,
        metric,
        threshold,
        evaluationPeriods: periods,
        datapointsToAlarm: periods,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      });
      created.addAlarmAction(action);
      created.addOkAction(action);
      this.alarms.push(created);
      return created;
    };

    const fiveMinutes = Duration.minutes(5);
    const serverErrorRate = new MathExpression({
      // Not `MAX([requests, 1])`: CloudWatch refuses a number beside a series in MAX's array ("Unsupported operand
      // type(s) for MAX: '[Array[TimeSeries, Scalar]]'") when the alarm is created, which `cdk synth` cannot see.
      expression: 'IF(requests > 0, 100 * errors / requests, 0)',
      usingMetrics: {
        errors: props.api.metricServerError({ period: fiveMinutes, statistic: 'Sum' }),
        requests: props.api.metricCount({ period: fiveMinutes, statistic: 'Sum' }),
      },
      label: '5xx %',
      period: fiveMinutes,
    });
    alarm('Api5xxRate', serverErrorRate, 1, 'More than 1% of API answers were 5xx for 10 minutes.', 2);
    alarm('ApiLatencyP99', props.api.metricLatency({ period: fiveMinutes, statistic: 'p99' }), props.latencyAlarmP99Ms ?? 2000, 'API p99 latency was above the stage threshold for 15 minutes.', 3);

    const functionErrors: IMetric[] = [];
    const functionThrottles: IMetric[] = [];
    for (const [name, fn] of props.functions) {
      const errors = fn.metricErrors({ period: fiveMinutes, statistic: 'Sum' });
      const throttles = fn.metricThrottles({ period: fiveMinutes, statistic: 'Sum' });
      functionErrors.push(errors);
      functionThrottles.push(throttles);
      alarm(`${name}Errors`, errors, 1, `The ${name} function failed (an unhandled error or a timeout).`);
      alarm(`${name}Throttles`, throttles, 1, `Lambda throttled the ${name} function (concurrency limit).`);
    }
    /**
     * A count of the log lines of a group that match a pattern, per five minutes, into `Gather` with this stage as its
     * dimension: every line names its stage, so stages that share an account keep their own counts.
     */
    const countOfLines = (id: string, logGroup: ILogGroup, filterPattern: IFilterPattern, metricName: string) =>
      new MetricFilter(this, id, { logGroup, filterPattern, metricNamespace: 'Gather', metricName, metricValue: '1', dimensions: { stage: '$.stage' } }).metric({
        dimensionsMap: { stage: props.stage },
        period: fiveMinutes,
        statistic: 'Sum',
      });
    // Not the authorizer's Lambda `Errors`: a refused key is a thrown `Unauthorized` and counts there, so every typo or
    // scanner would page. What makes clients get 503 is a key table that cannot be read, which the authorizer logs.
    const authorizerFailures = countOfLines(
      'AuthorizerFailureFilter',
      props.authorizerLogGroup,
      FilterPattern.stringValue('$.message', '=', keyLookupFailedMessage),
      'AuthorizerFailures',
    );
    alarm('AuthorizerFailures', authorizerFailures, 1, 'The authorizer could not read the key table: clients get 503s instead of answers.');
    alarm('AuthorizerThrottles', props.authorizer.metricThrottles({ period: fiveMinutes, statistic: 'Sum' }), 1, 'Lambda throttled the authorizer (concurrency limit): clients get 5xx.');
    // Every request API Gateway answered 503 because its authorizer failed, whatever the cause: the key table (above),
    // or an authorizer it could not run at all (a missing permission, a timeout, an answer it cannot read), which leaves
    // no line of ours. Counted from the access log's errorType, because API Gateway counts a gateway response whose
    // status the stack changed (these answer 503, not 500) as a 4XXError, so Api5xxRate never sees them.
    const authorizerUnavailable = countOfLines(
      'AuthorizerUnavailableFilter',
      props.accessLogGroup,
      FilterPattern.any(...authorizerFailureTypes.map((type) => FilterPattern.stringValue('$.errorType', '=', type))),
      'AuthorizerUnavailable',
    );
    alarm('AuthorizerUnavailable', authorizerUnavailable, 1, 'API Gateway answered requests 503 because the authorizer failed or could not be run.');

    // DynamoDB publishes ThrottledRequests and SystemErrors only for periods that had some, and CloudWatch keeps an
    // alarm on an AWS/DynamoDB metric in its current state while the metric is missing, whatever TreatMissingData
    // says: summed as they are, the alarms would go to ALARM and never back to OK. Each operation's series is filled
    // with 0 before the sum, so every period has a value for every operation (not verifiable here: no AWS account).
    // The ids get a prefix per table, so both tables' sums can share a dashboard graph.
    const filledSum = (metric: MathExpression, prefix: string, label: string) => {
      const usingMetrics = Object.fromEntries(Object.entries(metric.usingMetrics).map(([id, m]) => [`${prefix}${id}`, m]));
      return new MathExpression({
        expression: Object.keys(usingMetrics).map((id) => `FILL(${id}, 0)`).join(' + '),
        usingMetrics,
        period: fiveMinutes,
        label,
      });
    };
    // Every operation the functions send to the records table: model PUTs write in a transaction.
    const operations = ['GetItem', 'UpdateItem', 'DeleteItem', 'Query', 'BatchGetItem', 'PutItem', 'TransactWriteItems'];
    const tableMetrics = (table: ITableV2, ops: readonly string[], prefix: string, name: string) => ({
      throttled: filledSum(table.metricThrottledRequestsForOperations({ operations: ops as never, period: fiveMinutes }) as MathExpression, prefix, name),
      systemErrors: filledSum(table.metricSystemErrorsForOperations({ operations: ops as never, period: fiveMinutes }) as MathExpression, prefix, name),
    });
    const records = tableMetrics(props.table, operations, 'records_', 'records table');
    alarm('DynamoDbThrottles', records.throttled, 1, 'DynamoDB throttled requests of the records table.');
    alarm('DynamoDbSystemErrors', records.systemErrors, 1, 'DynamoDB answered requests of the records table with system errors.');
    // Powertools' idempotency store: GetItem, PutItem, UpdateItem and DeleteItem on its own table.
    const keys = tableMetrics(props.idempotencyTable, ['GetItem', 'PutItem', 'UpdateItem', 'DeleteItem'], 'keys_', 'Idempotency-Key table');
    alarm('IdempotencyTableThrottles', keys.throttled, 1, 'DynamoDB throttled requests of the Idempotency-Key table: keyed writes answer 503.');
    alarm('IdempotencyTableSystemErrors', keys.systemErrors, 1, 'DynamoDB answered requests of the Idempotency-Key table with system errors.');

    // Dashboards are global to the account, not regional: the region in the name lets one stage run in two regions.
    this.dashboard = new Dashboard(this, 'Dashboard', { dashboardName: `gather-${props.stage}-${Stack.of(this).region}` });
    this.dashboard.addWidgets(
      new GraphWidget({ title: 'Requests and 5xx %', left: [props.api.metricCount({ period: fiveMinutes })], right: [serverErrorRate] }),
      new GraphWidget({ title: 'Latency p50 / p99 (ms)', left: [props.api.metricLatency({ statistic: 'p50' }), props.api.metricLatency({ statistic: 'p99' })] }),
      new GraphWidget({ title: 'API 4xx', left: [props.api.metricClientError({ period: fiveMinutes })] }),
    );
    this.dashboard.addWidgets(
      new GraphWidget({ title: 'Function errors', left: functionErrors }),
      new GraphWidget({ title: 'Function throttles', left: functionThrottles }),
      new GraphWidget({ title: 'DynamoDB throttled requests', left: [records.throttled, keys.throttled] }),
      new GraphWidget({ title: 'DynamoDB system errors', left: [records.systemErrors, keys.systemErrors] }),
      // Where X-Ray shows a function's time as one block (no Powertools Tracer: docs/decisions.md, "Tracing"), the
      // share of it spent in DynamoDB.
      new GraphWidget({
        title: 'DynamoDB latency, records table (ms, average)',
        left: ['UpdateItem', 'GetItem', 'Query', 'DeleteItem'].map((operation) =>
          props.table.metricSuccessfulRequestLatency({ dimensionsMap: { TableName: props.table.tableName, Operation: operation }, statistic: 'Average', period: fiveMinutes, label: operation }),
        ),
      }),
    );
    // What the runbook asks an operator to look at: refusals by error code (503s against 500s), the authorizer's
    // failures, and the scheduled end-to-end test (on stages that run it).
    this.dashboard.addWidgets(
      new GraphWidget({
        title: 'Refused requests by error code',
        left: [new MathExpression({ expression: `SEARCH('{Gather,code,service,stage} MetricName="Errors" stage="${props.stage}"', 'Sum', 300)`, label: '', period: fiveMinutes })],
      }),
      new GraphWidget({ title: 'Authorizer failures: key table unreadable, and all 503s for a failed authorizer', left: [authorizerFailures, authorizerUnavailable] }),
      new GraphWidget({
        title: 'Scheduled end-to-end test (1 = passed), and the records its clean-up left behind',
        left: [smokeSuccessMetric(props.stage, fiveMinutes)],
        right: [smokeLeftoversMetric(props.stage, fiveMinutes)],
      }),
    );
  }
}
