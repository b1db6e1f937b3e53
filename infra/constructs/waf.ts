import { CfnWebACL, CfnWebACLAssociation } from 'aws-cdk-lib/aws-wafv2';
import type { Stage } from 'aws-cdk-lib/aws-apigateway';
import { Construct } from 'constructs';

export interface ApiWafProps {
  readonly stage: Stage;
  /** Requests per 5 minutes from one IP before it is blocked (the stack passes the stage throttle's 5 minutes). @default 150000 */
  readonly ipRateLimit?: number;
}

/**
 * The per-IP limit for a stage whose throttle takes `rateLimit` requests a second: what the stage takes on one route in
 * the rule's 5 minutes, as the whole number of at least 10 that WAF's rate-based rules require.
 */
export const wafIpRateLimit = (rateLimit: number) => Math.max(10, Math.ceil(rateLimit * 300));

/**
 * The WAF web ACL of a stage (`waf: true` in the stage's settings; on in `stage` and `prod`, cdk.json). Two rules block,
 * each with an answer in the API's error envelope:
 * - bodies over 4.4 MB get a 413 `payload_too_large` before they reach Lambda's 6 MB invocation limit, which API
 *   Gateway would report as a 5xx (docs/decisions.md);
 * - one IP sending more than `ipRateLimit` requests in 5 minutes gets a 429 `rate_limited` with `Retry-After`.
 * AWS's common rule set runs in count mode only (labels and metrics, no blocking): this API stores its clients' data
 * in bodies, paths and query strings, and the set's pattern and size rules would refuse real records (a note holding
 * `<script>` or `../`, an id such as `backup.ini`, a 1,024-byte id in a path, a body over 8 KB) or a client that sends
 * no User-Agent, with WAF's bare 403.
 */
export class ApiWaf extends Construct {
  constructor(scope: Construct, id: string, props: ApiWafProps) {
    super(scope, id);
    // No request sampling: WAF's samples hold every header of a request, `Authorization: Token gth_...` included, for
    // anyone allowed to read them, and no logging redaction applies to them (SPEC: the key never appears in a log).
    // The metrics stay, per rule; to look at what a rule matched, turn on WAF logging with the `authorization` header
    // in its redacted fields (docs/decisions.md).
    const visibility = (metricName: string) => ({ cloudWatchMetricsEnabled: true, sampledRequestsEnabled: false, metricName });
    const acl = new CfnWebACL(this, 'WebAcl', {
      scope: 'REGIONAL',
      defaultAction: { allow: {} },
      visibilityConfig: visibility('gather-waf'),
      customResponseBodies: {
        tooLarge: { contentType: 'APPLICATION_JSON', content: '{"error":{"code":"payload_too_large","message":"The request body is larger than the API accepts","request_id":"waf"}}' },
        rateLimited: {
          contentType: 'APPLICATION_JSON',
          content: '{"error":{"code":"rate_limited","message":"Too many requests from this address; retry after the Retry-After seconds","request_id":"waf"}}',
        },
      },
      rules: [
        {
          name: 'BodyTooLarge',
          priority: 0,
          // Content-Length of 7 digits from 4400000 up, or 8 and more digits. Written without a group: AWS WAF refuses
          // "capturing subexpressions", so each alternative carries its own anchors instead.
          statement: {
            regexMatchStatement: {
              fieldToMatch: { singleHeader: { Name: 'content-length' } },
              regexString: '^4[4-9]\\d{5}$|^[5-9]\\d{6}$|^\\d{8,}$',
              textTransformations: [{ priority: 0, type: 'NONE' }],
            },
          },
          action: { block: { customResponse: { responseCode: 413, customResponseBodyKey: 'tooLarge' } } },
          visibilityConfig: visibility('gather-body-too-large'),
        },
        {
          name: 'IpRateLimit',
          priority: 1,
          statement: { rateBasedStatement: { limit: props.ipRateLimit ?? 150_000, aggregateKeyType: 'IP' } },
          // WAF checks the rate about every 30 s over the last 5 minutes: a minute is a fair first wait.
          action: { block: { customResponse: { responseCode: 429, customResponseBodyKey: 'rateLimited', responseHeaders: [{ name: 'Retry-After', value: '60' }] } } },
          visibilityConfig: visibility('gather-ip-rate'),
        },
        {
          name: 'AwsCommonRules',
          priority: 2,
          overrideAction: { count: {} },
          statement: { managedRuleGroupStatement: { vendorName: 'AWS', name: 'AWSManagedRulesCommonRuleSet' } },
          visibilityConfig: visibility('gather-common'),
        },
      ],
    });
    new CfnWebACLAssociation(this, 'Association', { resourceArn: props.stage.stageArn, webAclArn: acl.attrArn });
  }
}
