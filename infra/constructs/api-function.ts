import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat, type NodejsFunctionProps } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { join } from 'node:path';
import { defaultFunctionTimeoutSeconds, type TableAction } from '../../lib/routes.js';
import { isLogRetentionPeriod } from '../stage-config.js';
import { tableDefinition, type TableIndexName } from '../../lib/store/table-definition.js';
import { functionBundling } from '../function-bundling.js';
import { repositoryRoot } from '../repository-root.js';

/** The Lambda runtime. The tests run on the same Node major (the `node` devDependency in package.json). */
export const lambdaRuntime = Runtime.NODEJS_24_X;

export interface ApiFunctionProps {
  /** Handler file relative to the repository root; it must `export const handler`. */
  readonly entry: string;
  /** The stage, as GATHER_STAGE: every metric and the authorizer's failure line carry it, so stages in one account never mix. */
  readonly stage: string;
  /** @default 30 */
  readonly logRetentionDays?: number;
  /** @default 1024 */
  readonly memorySize?: number;
  /** @default 20 seconds: two DynamoDB calls' full retry budgets (lib/store/dynamodb-client.ts), inside API Gateway's 29 s */
  readonly timeout?: Duration;
}

/**
 * Every function's defaults in one place: Node 24 on arm64, bundled as infra/function-bundling.ts says, X-Ray
 * tracing and its own log group with retention.
 */
export class ApiFunction extends NodejsFunction {
  constructor(scope: Construct, id: string, props: ApiFunctionProps) {
    const logGroup = new LogGroup(scope, `${id}Logs`, {
      retention: retentionDays(props.logRetentionDays ?? 30),
      removalPolicy: RemovalPolicy.DESTROY,
    });
    // An own role that may write only to the function's own log group, instead of AWSLambdaBasicExecutionRole's
    // logs:* on every log group in the account.
    const role = new Role(scope, `${id}Role`, { assumedBy: new ServicePrincipal('lambda.amazonaws.com') });
    logGroup.grantWrite(role);
    const functionProps: NodejsFunctionProps = {
      role,
      entry: join(repositoryRoot, props.entry),
      handler: 'handler',
      runtime: lambdaRuntime,
      architecture: Architecture.ARM_64,
      memorySize: props.memorySize ?? 1024,
      timeout: props.timeout ?? Duration.seconds(defaultFunctionTimeoutSeconds),
      tracing: Tracing.ACTIVE,
      logGroup,
      projectRoot: repositoryRoot,
      depsLockFilePath: join(repositoryRoot, 'package-lock.json'),
      // The settings of infra/function-bundling.ts, which `npm run bench` measures with.
      bundling: {
        format: OutputFormat.ESM,
        target: functionBundling.target,
        mainFields: [...functionBundling.mainFields],
        minify: false,
        esbuildArgs: { '--minify-whitespace': functionBundling.minifyWhitespace, '--minify-syntax': functionBundling.minifySyntax },
        sourceMap: functionBundling.sourcemap,
        externalModules: [],
        banner: functionBundling.banner,
      },
    };
    // Its log group (metric filters read it) is the function's own `logGroup`, which CDK returns as given here.
    super(scope, id, functionProps);
    this.addEnvironment('GATHER_STAGE', props.stage);
  }

  /**
   * Sets TABLE_NAME and grants exactly the given actions on the table, each only on items whose partition key starts
   * with the prefix it is listed under (IAM's dynamodb:LeadingKeys): the authorizer reads and touches key items (`K#`)
   * and nothing else of the table; an API function writes records (`R#`) or model definitions (`W#`), never both, and
   * reads the other only where it needs to. A Query listed under a prefix is one of those partitions of the table.
   * Queries of the `indexes` named, each by name (no `index/*` wildcard), are granted without the condition: there it
   * would be checked against the index's own partition key (`<workspace>#<model>#...`), and index entries are copies of
   * records only (key items carry no index attributes).
   */
  bindTable(table: ITableV2, grants: Readonly<Record<string, readonly TableAction[] | undefined>>, options: { readonly indexes?: readonly TableIndexName[] } = {}): this {
    this.addEnvironment('TABLE_NAME', table.tableName);
    for (const [prefix, actions] of Object.entries(grants)) {
      if (!actions || actions.length === 0) continue;
      this.addToRolePolicy(
        new PolicyStatement({
          actions: [...new Set(actions)],
          resources: [table.tableArn],
          conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [`${prefix}*`] } },
        }),
      );
    }
    const indexNames = options.indexes ?? [];
    for (const name of indexNames) {
      if (!tableDefinition.globalSecondaryIndexes.some((index) => index.indexName === name)) throw new Error(`The table has no index ${name}`);
    }
    if (indexNames.length > 0) this.addToRolePolicy(new PolicyStatement({ actions: ['dynamodb:Query'], resources: indexNames.map((name) => `${table.tableArn}/index/${name}`) }));
    return this;
  }

  /** Sets IDEMPOTENCY_TABLE_NAME and grants what the idempotency utility needs on that table, nothing more. */
  bindIdempotencyTable(table: ITableV2): this {
    this.addEnvironment('IDEMPOTENCY_TABLE_NAME', table.tableName);
    this.addToRolePolicy(new PolicyStatement({ actions: [...idempotencyTableActions], resources: [table.tableArn] }));
    return this;
  }
}

/** What the idempotency utility does to its table: read, claim, complete and release a key. */
export const idempotencyTableActions = ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'] as const;

/** A stage's `logRetentionDays` as CloudWatch Logs' retention setting; anything else CloudWatch does not offer is refused. */
export function retentionDays(days: number): RetentionDays {
  if (!isLogRetentionPeriod(days)) throw new Error(`${days} is not a CloudWatch Logs retention period`);
  return days;
}
