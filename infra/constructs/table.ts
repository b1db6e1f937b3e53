import { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, Billing, ProjectionType, TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import { idempotencyTableDefinition, tableDefinition } from '../../lib/store/table-definition.js';

export interface RecordsTableProps {
  /** Retain the table and protect it from deletion (prod). @default false */
  readonly retainData?: boolean;
}

/** The one table (docs/data-model.md): on-demand, point-in-time recovery on, keys from lib/store/table-definition.ts. */
export class RecordsTable extends Construct {
  readonly table: TableV2;
  /** Idempotency-Key records, expiring through TTL (lib/http/idempotency.ts). */
  readonly idempotencyTable: TableV2;

  constructor(scope: Construct, id: string, props: RecordsTableProps = {}) {
    super(scope, id);
    const attributeType = (type: 'S') => (type === 'S' ? AttributeType.STRING : AttributeType.STRING);
    this.table = new TableV2(this, 'Table', {
      partitionKey: { name: tableDefinition.partitionKey.name, type: attributeType(tableDefinition.partitionKey.type) },
      sortKey: { name: tableDefinition.sortKey.name, type: attributeType(tableDefinition.sortKey.type) },
      billing: Billing.onDemand(),
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: props.retainData ?? false,
      removalPolicy: props.retainData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
      globalSecondaryIndexes: tableDefinition.globalSecondaryIndexes.map((index) => ({
        indexName: index.indexName,
        partitionKey: { name: index.partitionKey.name, type: attributeType(index.partitionKey.type) },
        sortKey: { name: index.sortKey.name, type: attributeType(index.sortKey.type) },
        projectionType: ProjectionType.ALL,
      })),
    });
    this.idempotencyTable = new TableV2(this, 'IdempotencyTable', {
      partitionKey: { name: idempotencyTableDefinition.partitionKey.name, type: AttributeType.STRING },
      timeToLiveAttribute: idempotencyTableDefinition.ttlAttribute,
      billing: Billing.onDemand(),
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      removalPolicy: RemovalPolicy.DESTROY,
    });
  }
}
