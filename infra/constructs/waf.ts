import { CfnWebACL, CfnWebACLAssociation } from 'aws-cdk-lib/aws-wafv2';
import type { Stage } from 'aws-cdk-lib/aws-apigateway';
import { Construct } from 'constructs';

export interface ApiWafProps {
  readonly stage: Stage;
  /** Requests per 5 minutes from one IP before it is blocked. @default 6000 */
  readonly ipRateLimit?: number;
}

/**
 * An optional WAF web ACL for the stage (`waf: true` in the stage's settings): AWS's common rule set (its 8 KB body
 * rule only counts, since record and batch bodies are larger by design), a per-IP rate rule, and a rule that answers
 * bodies over 4.4 MB with a 413 before they reach Lambda's 6 MB invocation limit (docs/decisions.md).
 */
export class ApiWaf extends Construct {
  constructor(scope: Construct, id: string, props: ApiWafProps) {
    super(scope, id);
    const visibility = (metricName: string) => ({ cloudWatchMetricsEnabled: true, sampledRequestsEnabled: true, metricName });
    const acl = new CfnWebACL(this, 'WebAcl', {
      scope: 'REGIONAL',
      defaultAction: { allow: {} },
      visibilityConfig: visibility('gather-waf'),
      customResponseBodies: {
        tooLarge: { contentType: 'APPLICATION_JSON', content: '{"error":{"code":"payload_too_large","message":"The request body is larger than the API accepts","request_id":"waf"}}' },
      },
      rules: [
        {
          name: 'BodyTooLarge',
          priority: 0,
          // Content-Length of 7 digits from 4400000 up, or 8 and more digits.
          statement: {
            regexMatchStatement: {
              fieldToMatch: { singleHeader: { Name: 'content-length' } },
              regexString: '^(4[4-9]\\d{5}|[5-9]\\d{6}|\\d{8,})$',
              textTransformations: [{ priority: 0, type: 'NONE' }],
            },
          },
          action: { block: { customResponse: { responseCode: 413, customResponseBodyKey: 'tooLarge' } } },
          visibilityConfig: visibility('gather-body-too-large'),
        },
        {
          name: 'IpRateLimit',
          priority: 1,
          statement: { rateBasedStatement: { limit: props.ipRateLimit ?? 6000, aggregateKeyType: 'IP' } },
          action: { block: {} },
          visibilityConfig: visibility('gather-ip-rate'),
        },
        {
          name: 'AwsCommonRules',
          priority: 2,
          overrideAction: { none: {} },
          statement: {
            managedRuleGroupStatement: {
              vendorName: 'AWS',
              name: 'AWSManagedRulesCommonRuleSet',
              ruleActionOverrides: [{ name: 'SizeRestrictions_BODY', actionToUse: { count: {} } }],
            },
          },
          visibilityConfig: visibility('gather-common'),
        },
      ],
    });
    new CfnWebACLAssociation(this, 'Association', { resourceArn: props.stage.stageArn, webAclArn: acl.attrArn });
  }
}
