/** The limits of SPEC section 4, in one place. */
export const limits = {
  /** A single-record request body. */
  maxBodyBytes: 1024 * 1024,
  /**
   * A batch body. SPEC says 5 MB, but bodies reach Lambda base64-encoded and a synchronous invocation carries at most
   * 6 MB, so 4 MB is the most that can arrive whole (docs/decisions.md).
   */
  maxBatchBodyBytes: 4 * 1024 * 1024,
  /** Top-level fields in one payload, set and removed together. */
  maxFieldsPerPayload: 300,
  maxFieldNameBytes: 255,
  /** Containers (objects, arrays) nested inside one field value. */
  maxNestingDepth: 16,
  maxIdBytes: 1024,
  /** The stored record, measured the way DynamoDB measures an item; DynamoDB's own ceiling is 400 KB. */
  maxRecordBytes: 350 * 1024,
} as const;

/** What a value nested deeper than {@link limits.maxNestingDepth} is refused for. */
export const nestingIssue = `values may be nested at most ${limits.maxNestingDepth} deep`;
