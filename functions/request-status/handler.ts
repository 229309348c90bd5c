import { ENV } from '../../config/data-map';
import { documentClient } from '../shared/clients';
import { requireEnv } from '../shared/config';
import { RequestRepository } from '../shared/requests';
import { taskHandler } from '../shared/task-handler';
import { recordStatus, type StatusInput, type StatusOutput } from './core';

const requests = new RequestRepository(documentClient(), requireEnv(ENV.requestsTable));

export const handler = taskHandler<StatusInput, StatusOutput>('request-status', (input) =>
  recordStatus(requests, input),
);
