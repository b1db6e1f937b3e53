import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import {
  AccessLogField,
  AccessLogFormat,
  ApiKeySourceType,
  UsagePlan,
  AuthorizationType,
  EndpointType,
  IdentitySource,
  LambdaIntegration,
  LogGroupLogDestination,
  MethodLoggingLevel,
  ResponseType,
  RestApi,
  TokenAuthorizer,
} from 'aws-cdk-lib/aws-apigateway';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import { apiKeyItemPrefix } from '../../lib/store/keys.js';
import { Construct } from 'constructs';
import { gatewayResponses, gatewayResponseTemplate } from '../../lib/http/gateway-responses.js';
import { authorizerEntry, authorizerTableActions, functionsByEntry, functionTimeoutSeconds, routes, type TableAction } from '../../lib/routes.js';
import { ApiFunction, retentionDays } from './api-function.js';

export interface RecordsApiProps {
  readonly stage: string;
  readonly table: ITableV2;
  readonly idempotencyTable: ITableV2;
  /** @default 60 */
  readonly authorizerCacheTtlSeconds?: number;
  /** @default 30 */
  readonly logRetentionDays?: number;
  /**
   * The stage keeps its data when the stack is deleted: the access logs, the record of who called what, stay too.
   * @default false
   */
  readonly retainData?: boolean;
  readonly throttle: { readonly rateLimit: number; readonly burstLimit: number };
  /** Each workspace's own rate and burst: the usage plan every workspace's usage key joins. */
  readonly workspaceThrottle: { readonly rateLimit: number; readonly burstLimit: number };
}

/**
 * The REST API: every route of lib/routes.ts with its function, the token authorizer on every route that has a scope
 * (the default method option, so a new route is protected unless it says otherwise), and API Gateway's own errors
 * rewritten to the error envelope.
 */
export class RecordsApi extends Construct {
  readonly api: RestApi;
  readonly authorizerFunction: ApiFunction;
  /** One function per handler file, keyed by entry. */
  readonly functions: ReadonlyMap<string, ApiFunction>;
  /** The per-workspace rate limit: the admin CLI adds each workspace's usage key to it (docs/operations.md). */
  readonly usagePlan: UsagePlan;
  /** The stage's access log, one JSON line per request: the monitoring counts API Gateway's own failures from it. */
  readonly accessLogs: LogGroup;

  constructor(scope: Construct, id: string, props: RecordsApiProps) {
    super(scope, id);
    const logRetentionDays = props.logRetentionDays ?? 30;

    this.authorizerFunction = new ApiFunction(this, 'Authorizer', { entry: authorizerEntry, stage: props.stage, logRetentionDays }).bindTable(props.table, {
      [apiKeyItemPrefix]: authorizerTableActions,
    });
    const authorizer = new TokenAuthorizer(this, 'TokenAuthorizer', {
      handler: this.authorizerFunction,
      identitySource: IdentitySource.header('Authorization'),
      resultsCacheTtl: Duration.seconds(props.authorizerCacheTtlSeconds ?? 60),
    });

    // The stage's retention, as the functions' logs have (docs/operations.md: `logRetentionDays` is Lambda and API logs).
    // Where the stage retains its data, a deleted stack leaves its access logs behind too, to age out by that retention.
    this.accessLogs = new LogGroup(this, 'AccessLogs', {
      retention: retentionDays(logRetentionDays),
      removalPolicy: props.retainData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    this.api = new RestApi(this, 'Api', {
      restApiName: `gather-${props.stage}`,
      description: 'Gather records API',
      endpointTypes: [EndpointType.REGIONAL],
      // Every body reaches the handlers base64-encoded, so they can refuse invalid UTF-8 instead of receiving it mangled.
      binaryMediaTypes: ['*/*'],
      // The authorizer names the workspace's usage key, so each workspace is throttled by its own usage plan key.
      apiKeySourceType: ApiKeySourceType.AUTHORIZER,
      // The role API Gateway logs with is one setting per account and region, shared by every stage's stack: deleting
      // one stage's stack must not take it from the others, so it is retained (CDK's own default).
      cloudWatchRole: true,
      cloudWatchRoleRemovalPolicy: RemovalPolicy.RETAIN,
      defaultMethodOptions: { authorizer, authorizationType: AuthorizationType.CUSTOM },
      deployOptions: {
        stageName: props.stage,
        tracingEnabled: true,
        // Detailed (per-method) metrics cost about $31 a month per stage (15 methods, 7 metrics each) and no alarm or
        // widget reads them: the API-wide metrics, which the alarms use, come without them (docs/capacity.md).
        metricsEnabled: false,
        loggingLevel: MethodLoggingLevel.ERROR,
        dataTraceEnabled: false,
        throttlingRateLimit: props.throttle.rateLimit,
        throttlingBurstLimit: props.throttle.burstLimit,
        accessLogDestination: new LogGroupLogDestination(this.accessLogs),
        // Who called what: the key's token id (the authorizer's principal; the key itself never) and its workspace, the
        // route as a template (`/models/{model}/records/{id}`: never a record id, which may be an e-mail address), the
        // status, the latencies, and for API Gateway's own refusals (401, 429, 413...) their response type.
        accessLogFormat: AccessLogFormat.custom(
          JSON.stringify({
            requestId: AccessLogField.contextRequestId(),
            // Named on each line, so the metrics counted from it keep stages that share an account apart.
            stage: AccessLogField.contextStage(),
            requestTime: AccessLogField.contextRequestTime(),
            ip: AccessLogField.contextIdentitySourceIp(),
            tokenId: AccessLogField.contextAuthorizerPrincipalId(),
            workspace: AccessLogField.contextAuthorizer('workspace'),
            httpMethod: AccessLogField.contextHttpMethod(),
            resourcePath: AccessLogField.contextResourcePath(),
            protocol: AccessLogField.contextProtocol(),
            status: AccessLogField.contextStatus(),
            responseLength: AccessLogField.contextResponseLength(),
            responseLatency: AccessLogField.contextResponseLatency(),
            integrationLatency: AccessLogField.contextIntegrationLatency(),
            errorType: AccessLogField.contextErrorResponseType(),
          }),
        ),
      },
    });

    // API Gateway writes its execution logs (ERROR level) to a group it would create itself, with no retention and
    // outliving the stack. Declared here, before the stage, it gets the stage's retention and goes with the stack.
    const executionLogs = new LogGroup(this, 'ExecutionLogs', {
      logGroupName: `API-Gateway-Execution-Logs_${this.api.restApiId}/${props.stage}`,
      retention: retentionDays(logRetentionDays),
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.api.deploymentStage.node.addDependency(executionLogs);

    // Path parameters are declared required and checked by API Gateway before a function is invoked. Bodies are not
    // validated here: form bodies have no JSON schema, and the handlers give field-level errors.
    const validator = this.api.addRequestValidator('ParameterValidator', { validateRequestParameters: true, validateRequestBody: false });

    const functions = new Map<string, ApiFunction>();
    for (const [entry, entryRoutes] of functionsByEntry()) {
      // The function's routes' grants together, partition by partition.
      const grants: Record<string, TableAction[]> = {};
      for (const route of entryRoutes) {
        for (const [prefix, actions] of Object.entries(route.tableActions)) grants[prefix] = [...new Set([...(grants[prefix] ?? []), ...actions])];
      }
      const fn = new ApiFunction(this, `${entryRoutes[0]!.name}Function`, {
        entry,
        stage: props.stage,
        logRetentionDays,
        timeout: Duration.seconds(functionTimeoutSeconds(entry)),
      }).bindTable(props.table, grants, { indexes: [...new Set(entryRoutes.flatMap((route) => route.indexes ?? []))] });
      // Write routes take an Idempotency-Key.
      if (entryRoutes.some((route) => route.method !== 'GET')) fn.bindIdempotencyTable(props.idempotencyTable);
      functions.set(entry, fn);
    }
    this.functions = functions;

    for (const route of routes) {
      const resource = this.api.root.resourceForPath(route.path);
      const integration = new LambdaIntegration(functions.get(route.entry)!, { proxy: true, allowTestInvoke: false });
      const pathParameters = [...route.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!);
      resource.addMethod(route.method, integration, {
        ...(route.scope === null ? { authorizationType: AuthorizationType.NONE, authorizer: undefined } : { apiKeyRequired: true }),
        requestValidator: validator,
        requestParameters: Object.fromEntries(pathParameters.map((name) => [`method.request.path.${name}`, true])),
      });
    }

    this.usagePlan = this.api.addUsagePlan('WorkspacePlan', {
      name: `gather-${props.stage}-workspace`,
      description: 'Every workspace: its usage key (from the authorizer) is throttled at this rate',
      throttle: props.workspaceThrottle,
      apiStages: [{ api: this.api, stage: this.api.deploymentStage }],
    });

    for (const definition of gatewayResponses) {
      const headers: Record<string, string> = { 'Content-Type': "'application/json'" };
      for (const [name, value] of Object.entries(definition.headers ?? {})) headers[name] = `'${value}'`;
      this.api.addGatewayResponse(`${definition.type}Response`, {
        type: ResponseType.of(definition.type),
        ...(definition.statusCode !== undefined ? { statusCode: String(definition.statusCode) } : {}),
        responseHeaders: headers,
        templates: { 'application/json': gatewayResponseTemplate(definition) },
      });
    }
  }
}
