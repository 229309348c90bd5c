/** What the logs connector is configured with (built once by handler.ts, or by tests). */
export interface LogsConfig {
  bucket: string;
  accessPrefix: string;
  voiceSessionsPrefix: string;
  /** Objects read at once. */
  concurrency?: number;
}
