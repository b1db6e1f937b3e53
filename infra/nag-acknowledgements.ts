/**
 * The cdk-nag AwsSolutions findings this stack accepts. Each is acknowledged on the one construct it concerns, for the
 * one finding it names, with the reason; nothing is acknowledged stack-wide.
 */
import { CfnElement, Stack, Validations } from 'aws-cdk-lib';
import { CfnMethod } from 'aws-cdk-lib/aws-apigateway';
import { Policy, Role } from 'aws-cdk-lib/aws-iam';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import type { IConstruct } from 'constructs';
import { ApiFunction, lambdaRuntime } from './constructs/api-function.js';
import { RecordsApi } from './constructs/api.js';
import { ScheduledTests } from './constructs/scheduled-tests.js';

function acknowledge(construct: IConstruct, id: string, reason: string): void {
  Validations.of(construct).acknowledge({ id, reason });
}

export function acknowledgeNagFindings(stack: Stack, options: { waf: boolean }): void {
  for (const construct of stack.node.findAll()) {
    if (construct instanceof ApiFunction) {
      acknowledge(
        construct,
        'AwsSolutions-L1',
        `The functions run ${lambdaRuntime.name}, the Node major the test suite runs on (package.json pins node 24); a newer runtime is adopted together with the tests.`,
      );
      const policy = construct.role?.node.tryFindChild('DefaultPolicy');
      if (policy instanceof Policy) {
        acknowledge(
          policy,
          'AwsSolutions-IAM5[Resource::*]',
          'xray:PutTraceSegments and xray:PutTelemetryRecords (active tracing) support no resource-level permissions; every other statement names its table or log group.',
        );
      }
    }
    if (construct instanceof CfnMethod) {
      acknowledge(
        construct,
        'AwsSolutions-COG4',
        'Clients are B2B integrations authenticated by API keys (SPEC section 5) through a Lambda TOKEN authorizer, not Cognito users.',
      );
      if (construct.authorizationType === 'NONE') {
        acknowledge(construct, 'AwsSolutions-APIG4', 'Public by design: /health (liveness) and /openapi.json (the API reference) read nothing and return no data.');
      }
    }
    if (construct instanceof ScheduledTests) {
      // EventBridge Scheduler's role for Lambda targets may invoke the function and its versions (`<arn>:*`).
      const fnLogicalId = stack.getLogicalId(construct.function.node.defaultChild as CfnElement);
      for (const child of stack.node.children) {
        if (!(child instanceof Role) || !child.node.id.startsWith('SchedulerRoleForTarget')) continue;
        const policy = child.node.tryFindChild('DefaultPolicy');
        if (policy instanceof Policy) {
          acknowledge(policy, `AwsSolutions-IAM5[Resource::<${fnLogicalId}.Arn>:*]`, "Scheduler's role invokes only the scheduled-test function, any of its versions.");
        }
      }
    }
    if (construct instanceof Secret) {
      acknowledge(
        construct,
        'AwsSolutions-SMG4',
        'The secret holds a Gather API key, which cannot be rotated by Secrets Manager: operators rotate it with the admin CLI (docs/operations.md).',
      );
    }
    if (construct instanceof RecordsApi) {
      acknowledge(
        construct.api,
        'AwsSolutions-APIG2',
        'API Gateway\'s request validator checks the required path parameters only; bodies are validated by the handlers, because form bodies have no JSON Schema and the handlers answer with field-level 422s in the error envelope.',
      );
      if (!options.waf) {
        acknowledge(
          construct.api.deploymentStage,
          'AwsSolutions-APIG3',
          'WAF is off for this stage by its settings (waf: false in cdk.json): clients authenticate with API keys before any handler runs, and the stage and each workspace are throttled.',
        );
      }
      const cloudWatchRole = construct.api.node.tryFindChild('CloudWatchRole');
      if (cloudWatchRole instanceof Role) {
        acknowledge(
          cloudWatchRole,
          'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
          "API Gateway's account-level logging role: AWS documents this managed policy as the way to let API Gateway write execution logs.",
        );
      }
    }
  }
}
