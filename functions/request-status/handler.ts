import { ENV } from '../../config/data-map';
import { documentClient } from '../lib/aws/clients';
import { requireEnv } from '../lib/runtime/config';
import { RequestRepository } from '../lib/requests/requests';
import { taskHandler } from '../lib/runtime/task-handler';
import { recordStatus, type StatusInput, type StatusOutput } from './core';

const requests = new RequestRepository(documentClient(), requireEnv(ENV.requestsTable));

export const handler = taskHandler<StatusInput, StatusOutput>('request-status', (input) =>
  recordStatus(requests, input),
);
