/**
 * Which table the admin CLI works on: the local stack found through `$DATA_DIR/dev.json` by default, or a deployed
 * stage's table with `--table` (and the usual AWS_REGION / AWS_PROFILE / credential settings). The same store code
 * runs either way.
 */
import { pathFromCaller } from '../cli-options.js';
import { devJsonPath, noLocalStackFound, readDevJson } from '../local/dev-json.js';
import { AdminError, ApiKeyStore } from '../store/api-key-store.js';
import { createDocumentClient, createDynamoDbClient } from '../store/dynamodb-client.js';
import { tableShape } from '../store/table-check.js';

export interface TargetOptions {
  readonly table?: string;
  readonly region?: string;
  readonly endpoint?: string;
  readonly dataDir?: string;
}

export interface AdminTarget {
  readonly store: ApiKeyStore;
  readonly description: string;
  /** Refuses a table that is not Gather's records table, before any command reads or writes it. */
  readonly check?: () => Promise<void>;
  close(): void;
}

/** The table named is another than Gather's records table (the stage's Idempotency-Key table, another application's). */
export function notRecordsTable(description: string, options: TargetOptions): AdminError {
  return new AdminError(
    `${description} is not a Gather records table (its key is not pk and sk, or it has no list and link indexes)` +
      (options.table !== undefined ? ": check --table (the stack's TableName output)" : ''),
    'table_unavailable',
  );
}

export function connectAdminTarget(options: TargetOptions): AdminTarget {
  let tableName: string;
  let endpoint: string | undefined = options.endpoint;
  let description: string;
  if (options.table) {
    tableName = options.table;
    description = `table ${tableName}${endpoint ? ` at ${endpoint}` : options.region ? ` in ${options.region}` : ''}`;
  } else {
    // --data-dir as typed, from where `npm run` was typed (as the importer's paths are).
    const dataDir = options.dataDir !== undefined ? pathFromCaller(options.dataDir) : undefined;
    const devJson = devJsonPath(dataDir);
    const info = readDevJson(dataDir);
    if (!info) {
      throw new AdminError(`${noLocalStackFound(devJson, ' (or --data-dir <dir>)')}; or name a deployed stage's table with --table <name>`, 'table_unavailable');
    }
    tableName = info.tableName;
    description = endpoint ? `the local stack's table ${tableName} (${devJson}) at ${endpoint}` : `the local stack (${devJson})`;
    endpoint ??= info.dynamodbEndpoint;
  }
  const raw = createDynamoDbClient({ ...(endpoint ? { endpoint } : {}), ...(options.region ? { region: options.region } : {}) });
  const check = async () => {
    if ((await tableShape(raw, tableName)) === 'another table') throw notRecordsTable(description, options);
  };
  return { store: new ApiKeyStore(createDocumentClient(raw), tableName), description, check, close: () => raw.destroy() };
}
