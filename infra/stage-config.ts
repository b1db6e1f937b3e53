/**
 * Per-stage settings, from the `stages` context in cdk.json (override any with `-c stages='{...}'`). A listed stage
 * gets its own settings over the defaults below, never another stage's: prod must not pick up dev's alarm e-mail or
 * log retention because it did not repeat them. A stage name that is not listed (a developer's own stage, say) gets
 * the `dev` settings.
 */
import { RetentionDays } from 'aws-cdk-lib/aws-logs';

/** A stage setting that cannot be used: `cdk synth` says so in one line (infra/app.ts), without a stack trace. */
export class StageConfigError extends Error {}

/** Whether CloudWatch Logs offers a retention of this many days. */
export function isLogRetentionPeriod(days: number): days is RetentionDays {
  return (Object.values(RetentionDays) as unknown[]).includes(days);
}

export interface StageConfig {
  /** How long API Gateway caches the authorizer's answer for one key; a revoked key works at most this long. @default 60 */
  readonly authorizerCacheTtlSeconds: number;
  /** Keep the table (and protect it from deletion), and the API's access logs, when the stack is deleted. @default false */
  readonly retainData: boolean;
  /** Days of Lambda and API logs. @default 30 */
  readonly logRetentionDays: number;
  /**
   * Each method's steady-state request rate and burst on the stage: API Gateway applies a stage's throttle to every
   * method (route) separately, so the stage as a whole can take this on each route at once, up to the account's
   * regional quota, which all stages in the account share.
   */
  readonly throttle: { readonly rateLimit: number; readonly burstLimit: number };
  /** Each workspace's own rate and burst (the usage plan that every workspace's usage key joins). */
  readonly workspaceThrottle: { readonly rateLimit: number; readonly burstLimit: number };
  /**
   * Where alarms are e-mailed. A stage that retains data or runs the scheduled test must have one, or say with
   * {@link alarmsSubscribedOutsideStack} that its topic is subscribed to another way. @default none
   */
  readonly alarmEmail?: string;
  /**
   * The alarm topic is subscribed to outside this stack (a chat or paging integration, say), so a stage that retains data
   * or runs the scheduled test may go without {@link alarmEmail}. @default false
   */
  readonly alarmsSubscribedOutsideStack: boolean;
  /** API p99 latency that raises the latency alarm, in ms. @default 2000 */
  readonly latencyAlarmP99Ms: number;
  /** Put an AWS WAF web ACL (a body-size rule, a per-IP rate rule, AWS's common rules counting only) in front of the stage. @default false (cdk.json: true for stage and prod) */
  readonly waf: boolean;
  /** How often the scheduled end-to-end test runs, in minutes; 0 turns it off. @default 0 */
  readonly scheduledTestMinutes: number;
}

export const defaultStageConfig: StageConfig = {
  authorizerCacheTtlSeconds: 60,
  retainData: false,
  logRetentionDays: 30,
  throttle: { rateLimit: 500, burstLimit: 1000 },
  workspaceThrottle: { rateLimit: 100, burstLimit: 200 },
  latencyAlarmP99Ms: 2000,
  waf: false,
  scheduledTestMinutes: 0,
  alarmsSubscribedOutsideStack: false,
};

/** Each setting's type: a misspelt name, or `"false"` in quotes (a truthy string), would otherwise pass without a word. */
const settingTypes: Readonly<Record<keyof StageConfig, 'number' | 'boolean' | 'string' | 'throttle'>> = {
  authorizerCacheTtlSeconds: 'number',
  retainData: 'boolean',
  logRetentionDays: 'number',
  throttle: 'throttle',
  workspaceThrottle: 'throttle',
  alarmEmail: 'string',
  latencyAlarmP99Ms: 'number',
  waf: 'boolean',
  scheduledTestMinutes: 'number',
  alarmsSubscribedOutsideStack: 'boolean',
};

/** Refuses a stage's settings that name no setting, or give one a value of the wrong type. */
function checkSettings(name: string, settings: unknown): asserts settings is Partial<StageConfig> | undefined {
  if (settings === undefined) return;
  const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
  if (!isObject(settings)) throw new StageConfigError(`stages.${name} must be an object of settings`);
  for (const [key, value] of Object.entries(settings)) {
    if (!Object.hasOwn(settingTypes, key)) throw new StageConfigError(`stages.${name}.${key} is not a stage setting: the settings are ${Object.keys(settingTypes).join(', ')}`);
    const type = settingTypes[key as keyof StageConfig];
    if (type !== 'throttle') {
      if (typeof value !== type) throw new StageConfigError(`stages.${name}.${key} must be a ${type}, not ${JSON.stringify(value)}`);
      continue;
    }
    if (!isObject(value)) throw new StageConfigError(`stages.${name}.${key} must be an object with rateLimit and burstLimit`);
    for (const [limit, number] of Object.entries(value)) {
      if (limit !== 'rateLimit' && limit !== 'burstLimit') throw new StageConfigError(`stages.${name}.${key}.${limit} is not a throttle setting: they are rateLimit and burstLimit`);
      if (typeof number !== 'number') throw new StageConfigError(`stages.${name}.${key}.${limit} must be a number, not ${JSON.stringify(number)}`);
    }
  }
}

export function stageConfig(stages: unknown, stage: string): StageConfig {
  if (!/^[a-z][a-z0-9-]{0,20}$/.test(stage)) {
    throw new StageConfigError(`Stage names are 1 to 21 lower-case letters, digits and dashes, starting with a letter; got "${stage}"`);
  }
  let parsed: unknown;
  try {
    parsed = typeof stages === 'string' ? JSON.parse(stages) : (stages ?? {});
  } catch (error) {
    throw new StageConfigError(`The stages setting (-c stages=...) is not JSON: ${(error as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new StageConfigError('The stages setting must be a JSON object of stage settings by stage name');
  }
  const table = parsed as Record<string, unknown>;
  const listed = Object.hasOwn(table, stage);
  const from = listed ? stage : 'dev';
  const settings = table[from];
  checkSettings(from, settings);
  // An unlisted stage takes dev's settings over the defaults, each throttle key by key, as dev itself does.
  const config = overlay(defaultStageConfig, settings);
  if (config.alarmEmail !== undefined && !/^[^\s@]+@[^\s@]+$/.test(config.alarmEmail)) throw new StageConfigError(`alarmEmail "${config.alarmEmail}" is not an e-mail address`);
  if (!Number.isInteger(config.authorizerCacheTtlSeconds) || config.authorizerCacheTtlSeconds < 0 || config.authorizerCacheTtlSeconds > 3600) {
    throw new StageConfigError(`authorizerCacheTtlSeconds must be a whole number from 0 to 3600 (API Gateway's range)`);
  }
  // What AWS would refuse only at deploy time is refused here, at synth.
  for (const [name, limits] of [['throttle', config.throttle], ['workspaceThrottle', config.workspaceThrottle]] as const) {
    if (!(typeof limits.rateLimit === 'number' && limits.rateLimit > 0 && Number.isFinite(limits.rateLimit))) throw new StageConfigError(`${name}.rateLimit must be a number of requests per second above 0`);
    // A burst of 0 leaves the token bucket no room for one request: every request would be a 429.
    if (!Number.isInteger(limits.burstLimit) || limits.burstLimit < 1) throw new StageConfigError(`${name}.burstLimit must be a whole number of requests, 1 or more`);
  }
  if (!isLogRetentionPeriod(config.logRetentionDays)) {
    throw new StageConfigError(`logRetentionDays ${config.logRetentionDays} is not a CloudWatch Logs retention period (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, ... days)`);
  }
  // The SmokeFailing alarm waits for two periods of the test's cadence, and CloudWatch allows one day in all.
  if (!Number.isInteger(config.scheduledTestMinutes) || config.scheduledTestMinutes < 0 || config.scheduledTestMinutes > 720) {
    throw new StageConfigError('scheduledTestMinutes must be a whole number of minutes from 0 (off) to 720');
  }
  if (!(typeof config.latencyAlarmP99Ms === 'number' && config.latencyAlarmP99Ms > 0 && Number.isFinite(config.latencyAlarmP99Ms))) {
    throw new StageConfigError('latencyAlarmP99Ms must be a number of milliseconds above 0');
  }
  return config;
}

/** `settings` over `base`, the two throttles merged key by key (a stage may set only a throttle's rate). */
function overlay(base: StageConfig, settings: Partial<StageConfig> | undefined): StageConfig {
  return {
    ...base,
    ...settings,
    throttle: { ...base.throttle, ...settings?.throttle },
    workspaceThrottle: { ...base.workspaceThrottle, ...settings?.workspaceThrottle },
  };
}
