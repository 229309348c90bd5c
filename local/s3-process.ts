/**
 * The local S3 process: s3rver behind the key guard (local/stores.ts), started by `startS3Local` with
 * its options as the one argument. Tells the parent its port (or why it could not start) over IPC,
 * then serves until SIGTERM/SIGINT, or until the parent is gone.
 */
import { serveS3Local, type S3LocalOptions, type S3ProcessMessage } from './stores';

const tell = (message: S3ProcessMessage) => process.send?.(message);

async function main(): Promise<void> {
  const options = JSON.parse(process.argv[2] ?? '{}') as S3LocalOptions;
  let store: Awaited<ReturnType<typeof serveS3Local>>;
  try {
    store = await serveS3Local(options);
  } catch (error) {
    tell({ type: 'error', message: error instanceof Error ? error.message : String(error) });
    process.exit(1);
  }
  const stop = () => void store.stop().finally(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  tell({ type: 'ready', port: store.port, repair: store.repair });
  // The parent closes the channel once started; from then on, poll that it is still alive.
  const parent = process.ppid;
  setInterval(() => {
    try {
      process.kill(parent, 0);
    } catch {
      stop();
    }
  }, 1000).unref();
}

void main();
