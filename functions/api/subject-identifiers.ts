/** The identifier key of a subject as given to the API: what its keyed hash (subjectHash) is taken of. */
import { externalAccountKey, identifierKey } from '../lib/crypto/subject-hash';
import type { SubjectInput } from '../lib/requests/records';

export function identifierOf(subject: SubjectInput): string {
  if ('userId' in subject) return identifierKey('userId', subject.userId);
  if ('email' in subject) return identifierKey('email', subject.email);
  if ('phone' in subject) return identifierKey('phone', subject.phone);
  if ('deviceId' in subject) return identifierKey('deviceId', subject.deviceId);
  return externalAccountKey(subject.externalAccount);
}
