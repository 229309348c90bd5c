/** The request settings in force (deployment values over the defaults) and the API's clock. */
import { DEFAULT_DEADLINE_CONFIG } from '../lib/requests/deadlines';
import type { ApiDeps, RequestSettings } from './deps';

export const DEFAULT_REQUEST_SETTINGS: RequestSettings = {
  deadlines: DEFAULT_DEADLINE_CONFIG,
  // The shortest deadline we know (Korea, 10 days) when nothing names a jurisdiction: never late by default.
  defaultJurisdiction: 'KR',
  allowPrivateCallbacks: false,
  processorDomain: 'dsr.example',
};

export function settingsOf(deps: ApiDeps): RequestSettings {
  return { ...DEFAULT_REQUEST_SETTINGS, ...(deps.settings ?? {}) };
}

export const clockOf = (deps: ApiDeps): Date => (deps.clock ?? (() => new Date()))();
