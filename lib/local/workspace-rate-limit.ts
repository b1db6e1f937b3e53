/**
 * The local gateway's optional per-workspace rate limit, as a deployed stage's usage plan applies it (SPEC section 6:
 * "no rate limit unless told to"): a token bucket per workspace that refills at `rateLimit` requests per second and
 * holds at most `burstLimit`. A request that finds the bucket empty gets API Gateway's THROTTLED answer, 429
 * `rate_limited` with `Retry-After: 1`, and never reaches the handler, so an integrator can test a client's backoff
 * against `npm start`. Off unless set: `LOCAL_RATE_LIMIT=<rate>[/<burst>]` (burst defaults to twice the rate, as the
 * stage default of 100/200 does).
 */

export interface RateLimit {
  /** Requests per second, refilled continuously. */
  readonly rateLimit: number;
  /** The most requests at once. */
  readonly burstLimit: number;
}

/** `100` or `100/200` from LOCAL_RATE_LIMIT; anything else is an error at start, not a silent "unlimited". */
export function parseRateLimit(text: string): RateLimit {
  // At most nine digits each: a number past that is a typo, not a limit (and past 2^53 it would not even be exact).
  const match = /^\s*(\d{1,9})(?:\s*\/\s*(\d{1,9}))?\s*$/.exec(text);
  const rateLimit = match ? Number(match[1]) : NaN;
  const burstLimit = match?.[2] !== undefined ? Number(match[2]) : rateLimit * 2;
  if (!match || rateLimit < 1 || burstLimit < 1) {
    throw new Error(`LOCAL_RATE_LIMIT must be <requests per second>[/<burst>], both whole numbers from 1 to 999,999,999, e.g. 100/200; got "${text}"`);
  }
  return { rateLimit, burstLimit };
}

export class WorkspaceRateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly limit: RateLimit,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Takes one request from the workspace's bucket: false when it is empty (the request is to be refused). */
  take(workspace: string): boolean {
    const now = this.now();
    const bucket = this.buckets.get(workspace) ?? { tokens: this.limit.burstLimit, at: now };
    bucket.tokens = Math.min(this.limit.burstLimit, bucket.tokens + ((now - bucket.at) / 1000) * this.limit.rateLimit);
    bucket.at = now;
    this.buckets.set(workspace, bucket);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }
}
