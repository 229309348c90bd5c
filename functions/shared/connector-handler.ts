/**
 * The handler every connector Lambda exports: load the staged subject, run the connector's operation
 * into a staging area, write the store index, and return a pointer with counts.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import type { CollectResult, Connector, ConnectorTaskInput, StagedSubject } from './contract';
import { ContractError } from './errors';
import { getJson, putJson, stagingKeys } from './s3-objects';
import { StagingArea } from './staging';
import { taskHandler } from './task-handler';

export interface ConnectorRuntime {
  s3: S3Client;
  stagingBucket: string;
  clock?: () => Date;
}

export async function runCollect(
  connector: Connector,
  runtime: ConnectorRuntime,
  input: ConnectorTaskInput,
): Promise<CollectResult> {
  if (input.store !== connector.store) {
    throw new ContractError(`Connector ${connector.store} was asked to serve ${input.store}`);
  }
  const subject = await getJson<StagedSubject>(runtime.s3, {
    bucket: runtime.stagingBucket,
    key: stagingKeys.subject(input.requestId),
  });
  const staging = new StagingArea(runtime.s3, runtime.stagingBucket, connector.store, subject, runtime.clock);
  // An unknown subject has nothing to collect; its store index is still written, empty, so the
  // archive says so explicitly.
  if (subject.found) {
    try {
      await connector.collect(staging.context());
    } catch (error) {
      await staging.abort();
      throw error;
    }
  }
  const index = await staging.finish();
  const pointer = {
    bucket: runtime.stagingBucket,
    key: stagingKeys.storeIndex(input.requestId, connector.store),
  };
  await putJson(runtime.s3, pointer, index);
  return {
    store: connector.store,
    index: pointer,
    records: index.collections.reduce((sum, c) => sum + c.records, 0),
    mediaFiles: index.media.length,
    bytes:
      index.collections.reduce((sum, c) => sum + c.bytes, 0) +
      index.media.reduce((sum, m) => sum + m.bytes, 0),
  };
}

export function connectorHandler(connector: Connector, runtime: () => ConnectorRuntime) {
  return taskHandler<ConnectorTaskInput, CollectResult>(`connector-${connector.store}`, async (input) => {
    switch (input.operation) {
      case 'collect':
        return runCollect(connector, runtime(), input);
      default:
        throw new ContractError(`Unknown connector operation`);
    }
  });
}
