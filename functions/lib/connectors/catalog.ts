/**
 * The workflow task functions, named once. CDK builds one Lambda per entry and substitutes each
 * `substitution` into the ASL files; the local stack substitutes the same keys with `localName` and
 * dispatches those names to the same handler modules. Connectors are listed by store (see STORE_NAMES):
 * a new store is a new folder under functions/connectors/ plus its name in the data map.
 */
import type { StoreName } from '../../../config/data-map';

export interface TaskFunctionSpec {
  /** Placeholder in statemachines/*.asl.json, e.g. ${RequestStatusFunction}. */
  substitution: string;
  /** Folder under functions/ holding handler.ts. */
  folder: string;
  /** Function name on the local stack. */
  localName: string;
}

export const TASK_FUNCTIONS = {
  requestStatus: {
    substitution: 'RequestStatusFunction',
    folder: 'request-status',
    localName: 'dsr-request-status',
  },
  resolveSubject: {
    substitution: 'ResolveSubjectFunction',
    folder: 'resolve-subject',
    localName: 'dsr-resolve-subject',
  },
  assembleExport: {
    substitution: 'AssembleExportFunction',
    folder: 'assemble-export',
    localName: 'dsr-assemble-export',
  },
  cleanupStaging: {
    substitution: 'CleanupStagingFunction',
    folder: 'cleanup-staging',
    localName: 'dsr-cleanup-staging',
  },
  // The erasure workflow's own steps.
  planErasure: {
    substitution: 'PlanErasureFunction',
    folder: 'plan-erasure',
    localName: 'dsr-plan-erasure',
  },
  certifyErasure: {
    substitution: 'CertifyErasureFunction',
    folder: 'certify-erasure',
    localName: 'dsr-certify-erasure',
  },
  notifyProcessors: {
    substitution: 'NotifyProcessorsFunction',
    folder: 'notify-processors',
    localName: 'dsr-notify-processors',
  },
  // The download link and the optional email to the subject (docs/downloads.md).
  notify: { substitution: 'NotifyFunction', folder: 'notify', localName: 'dsr-notify' },
  // The subject index of the logs (docs/log-index.md): S3 events, the schedule and the backfill.
  indexLogs: { substitution: 'IndexLogsFunction', folder: 'index-logs', localName: 'dsr-index-logs' },
  // The batched log-erasure job (docs/erasure.md): every step of statemachines/log-erasure.asl.json.
  eraseLogs: { substitution: 'EraseLogsFunction', folder: 'erase-logs', localName: 'dsr-erase-logs' },
  // Restriction of use (statemachines/restriction.asl.json): plan, tell recipients, record.
  restrict: { substitution: 'RestrictFunction', folder: 'restrict', localName: 'dsr-restrict' },
  // An export's transmission to another controller (GDPR Art. 20(2)): the signed notice and its link.
  transmitExport: {
    substitution: 'TransmitExportFunction',
    folder: 'transmit-export',
    localName: 'dsr-transmit-export',
  },
} as const satisfies Record<string, TaskFunctionSpec>;

export const STATE_MACHINES = {
  export: { file: 'statemachines/export.asl.json', localName: 'dsr-export' },
  erasure: { file: 'statemachines/erasure.asl.json', localName: 'dsr-erasure' },
  logIndexBackfill: {
    file: 'statemachines/log-index-backfill.asl.json',
    localName: 'dsr-log-index-backfill',
  },
  logErasure: { file: 'statemachines/log-erasure.asl.json', localName: 'dsr-log-erasure' },
  restriction: { file: 'statemachines/restriction.asl.json', localName: 'dsr-restriction' },
} as const;

export function connectorFolder(store: StoreName): string {
  return `connectors/${store}`;
}

export function connectorLocalName(store: StoreName): string {
  return `dsr-connector-${store}`;
}

/** Env var through which resolve-subject learns each connector's function name. */
export const CONNECTOR_FUNCTIONS_ENV = 'CONNECTOR_FUNCTIONS';
