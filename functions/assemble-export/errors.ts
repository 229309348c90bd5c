import { AppError } from '../lib/runtime/errors';

/**
 * The archive could not be built (a staged file or media object could not be read, or the upload
 * failed). Nothing was published under the archive's key. The message names no file: keys and file
 * names can carry personal data.
 */
export class ArchiveAssemblyError extends AppError {
  override name = 'ArchiveAssemblyError';
  constructor(message: string) {
    super(message, 'ARCHIVE_ASSEMBLY_FAILED');
  }
}
