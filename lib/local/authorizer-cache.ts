/**
 * API Gateway caches an authorizer's policy per identity source (the Authorization header) for the stage's TTL; the
 * local gateway does the same, so a revoked key keeps working locally exactly as long as it would on a stage.
 */
export class AuthorizerCache<T> {
  private readonly entries = new Map<string, { value: T; expiresAt: number }>();

  constructor(
    private readonly ttlSeconds: number,
    private readonly now: () => number = Date.now,
  ) {}

  get(key: string): T | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.value;
  }

  set(key: string, value: T): void {
    if (this.ttlSeconds <= 0) return;
    this.entries.set(key, { value, expiresAt: this.now() + this.ttlSeconds * 1000 });
  }
}
