/** What the chat connector is configured with (built once by handler.ts, or by tests). */
export interface ChatConfig {
  roomsTable: string;
  messagesTable: string;
  /** GSI on the messages table, partition `senderId`, sort `sk`. */
  bySenderIndex: string;
  /** Bucket holding attachment objects (the media bucket). */
  mediaBucket: string;
  /** Where attachments live: `{prefix}{roomId}/{messageId}/{filename}`. */
  attachmentsPrefix: string;
  /** Per-subject media prefixes (with `{userId}`): attachments pointing there are the subject's own too. */
  subjectMediaPrefixes: readonly string[];
  /** Policy flag: include the bodies of others' messages that mention the subject (senders pseudonymised). */
  includeConversationContext: boolean;
  /** S3 versioning on the media bucket: erasing attachments then removes every version and delete marker. */
  mediaVersioned?: boolean;
  /** Rooms queried at once. */
  concurrency?: number;
}
