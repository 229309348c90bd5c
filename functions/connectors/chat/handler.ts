import { ENV, platformStores } from '../../../config/data-map';
import { documentClient, s3Client } from '../../shared/clients';
import { optionalEnv, requireEnv } from '../../shared/config';
import { connectorHandler } from '../../shared/connector-handler';
import { createChatConnector } from './core';

/** Policy flag (default off): include bodies of others' messages that mention the subject. */
export const INCLUDE_CONVERSATION_CONTEXT_ENV = 'CHAT_INCLUDE_CONVERSATION_CONTEXT';

const config = {
  roomsTable: requireEnv(ENV.chatRoomsTable),
  messagesTable: requireEnv(ENV.chatMessagesTable),
  bySenderIndex: platformStores.chat.messagesTable.indexes[0].indexName,
  mediaBucket: requireEnv(ENV.mediaBucket),
  attachmentsPrefix: platformStores.media.chatAttachmentsPrefix,
  subjectMediaPrefixes: platformStores.media.subjectPrefixes,
  includeConversationContext: optionalEnv(INCLUDE_CONVERSATION_CONTEXT_ENV, 'false') === 'true',
};
const stagingBucket = requireEnv(ENV.stagingBucket);

export const handler = connectorHandler(createChatConnector(documentClient(), config), () => ({
  s3: s3Client(),
  stagingBucket,
}));
