import { ENV, platformStores } from '../../../config/data-map';
import { documentClient, s3Client } from '../../lib/aws/clients';
import { optionalEnv, requireEnv } from '../../lib/runtime/config';
import { connectorHandler } from '../../lib/connectors/connector-handler';
import { perServiceConnector } from '../../lib/connectors/service-connectors';
import { DynamoVault, vaultKeysFromEnv } from '../../lib/erasure/vault';
import { mediaBucketVersioned } from '../../lib/connectors/media-objects';
import { createChatConnector } from './core';

/** Policy flag (default off): include bodies of others' messages that mention the subject. */
const INCLUDE_CONVERSATION_CONTEXT_ENV = 'CHAT_INCLUDE_CONVERSATION_CONTEXT';

const shared = {
  bySenderIndex: platformStores.chat.messagesTable.indexes[0].indexName,
  mediaBucket: requireEnv(ENV.mediaBucket),
  // Attachments are erased like the media connector's objects: every version where versioned.
  mediaVersioned: mediaBucketVersioned(),
  attachmentsPrefix: platformStores.media.chatAttachmentsPrefix,
  subjectMediaPrefixes: platformStores.media.subjectPrefixes,
  includeConversationContext: optionalEnv(INCLUDE_CONVERSATION_CONTEXT_ENV, 'false') === 'true',
};
const stagingBucket = requireEnv(ENV.stagingBucket);
// Reported messages are complaint records: a jurisdiction may require them kept (KR: 3 years).
const vault = new DynamoVault(documentClient(), {
  tableName: requireEnv(ENV.vaultTable),
  keys: vaultKeysFromEnv('write'),
});

// Each service's rooms and messages: the shared tables, or the service's own; attachments stay in the
// shared media bucket.
export const handler = connectorHandler(
  perServiceConnector('chat', [ENV.chatRoomsTable, ENV.chatMessagesTable], (nameOf) =>
    createChatConnector(
      documentClient(),
      { ...shared, roomsTable: nameOf(ENV.chatRoomsTable), messagesTable: nameOf(ENV.chatMessagesTable) },
      s3Client(),
    ),
  ),
  () => ({ s3: s3Client(), stagingBucket, vault }),
);
