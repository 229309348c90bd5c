/**
 * A small structured logger. It takes a message and a few named, non-personal fields; it has no way
 * to log a whole event, and callers pass request ids and counts, never identifiers of people.
 */
type Field = string | number | boolean | null | undefined;

function emit(level: 'info' | 'warn' | 'error', message: string, fields: Record<string, Field> = {}): void {
  if (process.env.LOG_LEVEL === 'silent') return;
  const line = JSON.stringify({ level, message, time: new Date().toISOString(), ...fields });
  if (level === 'error') console.error(line);
  else console.log(line);
}

export const log = {
  info: (message: string, fields?: Record<string, Field>) => emit('info', message, fields),
  warn: (message: string, fields?: Record<string, Field>) => emit('warn', message, fields),
  error: (message: string, fields?: Record<string, Field>) => emit('error', message, fields),
};

/** The name and code of an error, never its message or stack (which can echo data). */
export function errorFields(error: unknown): Record<string, Field> {
  const err = error as { name?: unknown; code?: unknown };
  return {
    errorName: typeof err?.name === 'string' ? err.name : 'Error',
    errorCode: typeof err?.code === 'string' ? err.code : undefined,
  };
}
