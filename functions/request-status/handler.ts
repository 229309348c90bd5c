import { requestTableFromEnv } from '../lib/requests/request-table';
import { RequestRepository } from '../lib/requests/requests';
import { taskHandler } from '../lib/runtime/task-handler';
import { recordStatus, type StatusInput, type StatusOutput } from './core';

const table = requestTableFromEnv();
const deps = { requests: new RequestRepository(table) };

export const handler = taskHandler<StatusInput, StatusOutput>('request-status', (input) =>
  recordStatus(deps, input),
);
