import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { RecordsApi } from './constructs/api.js';
import { RecordsTable } from './constructs/table.js';
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

  constructor(scope: Construct, id: string, props: GatherStackProps) {
    super(scope, id, props);
    this.table = new RecordsTable(this, 'Records', { retainData: props.config.retainData });
    this.api = new RecordsApi(this, 'RecordsApi', {
      stage: props.stage,
      table: this.table.table,
      idempotencyTable: this.table.idempotencyTable,
      authorizerCacheTtlSeconds: props.config.authorizerCacheTtlSeconds,
      logRetentionDays: props.config.logRetentionDays,
      throttle: props.config.throttle,
    });
    new CfnOutput(this, 'ApiUrl', { value: this.api.api.url, description: 'Base URL of the records API' });
    new CfnOutput(this, 'TableName', { value: this.table.table.tableName, description: 'The DynamoDB table (for the admin CLI)' });
    acknowledgeNagFindings(this);
  }
}
