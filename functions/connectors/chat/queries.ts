import type { QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import type { ChatConfig } from './config';

/** Every message one of the subject's user ids sent, through the messages table's by-sender index. */
export function messagesBySenderQuery(config: ChatConfig, userId: string): QueryCommandInput {
  return {
    TableName: config.messagesTable,
    IndexName: config.bySenderIndex,
    KeyConditionExpression: '#senderId = :senderId',
    ExpressionAttributeNames: { '#senderId': 'senderId' },
    ExpressionAttributeValues: { ':senderId': userId },
  };
}

/**
 * The room Query of the mentions pass: only messages that carry mentions or reports, not written by the
 * subject, and only the attributes needed (bodies only when the policy asks for them), which keeps busy
 * public rooms cheap to read. The same conditions are checked again on what comes back.
 */
export function roomActivityQuery(
  config: ChatConfig,
  roomId: string,
  subjectIds: string[],
): QueryCommandInput {
  const names: Record<string, string> = {
    '#roomId': 'roomId',
    '#sk': 'sk',
    '#messageId': 'messageId',
    '#sentAt': 'sentAt',
    '#senderId': 'senderId',
    '#mentions': 'mentions',
    '#reports': 'reports',
  };
  const values: Record<string, unknown> = { ':roomId': roomId };
  const projection = Object.keys(names);
  if (config.includeConversationContext) {
    names['#body'] = 'body';
    projection.push('#body');
  }
  let filter = '(attribute_exists(#mentions) OR attribute_exists(#reports))';
  // DynamoDB allows up to 100 operands in IN; beyond that (never in practice) the check is client-side only.
  if (subjectIds.length > 0 && subjectIds.length < 100) {
    const placeholders = subjectIds.map((id, i) => {
      values[`:s${i}`] = id;
      return `:s${i}`;
    });
    filter += ` AND NOT (#senderId IN (${placeholders.join(', ')}))`;
  }
  return {
    TableName: config.messagesTable,
    KeyConditionExpression: '#roomId = :roomId',
    FilterExpression: filter,
    ProjectionExpression: projection.join(', '),
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: values,
    ConsistentRead: true,
  };
}
