/** What the logs connector is configured with (built once by handler.ts, or by tests). */
export interface LogsConfig {
  bucket: string;
  accessPrefix: string;
  voiceSessionsPrefix: string;
  /** Objects read (and, erasing, rewritten) at once. */
  concurrency?: number;
  /**
   * Erase: write rewritten objects with `If-Match` on the ETag read (default true). S3 honours it; the
   * local s3rver does not, so the local stack sets false and gets a weaker check (see erasure.ts).
   */
  conditionalWrites?: boolean;
  /** Erase: attempts per object when it keeps changing between read and write (default 5). */
  maxWriteAttempts?: number;
}
