import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { withoutSdkLogging } from '../../functions/lib/aws/clients';

describe('withoutSdkLogging', () => {
  it("takes the SDK's logger middleware out of a client's stack, and only that", () => {
    const names = (client: DynamoDBClient) => client.middlewareStack.identify().map((m) => m.split(' ')[0]);
    const plain = new DynamoDBClient({ region: 'us-east-1' });
    expect(names(plain)).toContain('loggerMiddleware');
    const quiet = withoutSdkLogging(new DynamoDBClient({ region: 'us-east-1' }));
    expect(names(quiet)).not.toContain('loggerMiddleware');
    expect(names(quiet)).toEqual(names(plain).filter((name) => name !== 'loggerMiddleware'));
  });
});
