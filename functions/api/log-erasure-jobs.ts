/** The log-erasure job over Step Functions: a job is an execution of its state machine, named by job id. */
import { randomBytes } from 'node:crypto';
import { DescribeExecutionCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import type { LogErasureJobs, LogErasureJobView } from './routes/log-erasure-jobs';

/** `logjob-<UTC yyyymmddThhmmss>-<8 hex>`: sortable, and a valid execution name. */
export const LOG_ERASURE_JOB_ID = /^logjob-\d{8}T\d{6}-[0-9a-f]{8}$/;

export class StepFunctionsLogErasureJobs implements LogErasureJobs {
  constructor(
    private readonly sfn: SFNClient,
    private readonly stateMachineArn: string,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  async start(): Promise<{ jobId: string; startedAt: string }> {
    const now = this.clock();
    const stamp = now.toISOString().replace(/[-:]/g, '').slice(0, 15);
    const jobId = `logjob-${stamp}-${randomBytes(4).toString('hex')}`;
    await this.sfn.send(
      new StartExecutionCommand({ stateMachineArn: this.stateMachineArn, name: jobId, input: '{}' }),
    );
    return { jobId, startedAt: now.toISOString() };
  }

  async describe(jobId: string): Promise<LogErasureJobView | undefined> {
    const executionArn = `${this.stateMachineArn.replace(':stateMachine:', ':execution:')}:${jobId}`;
    try {
      const e = await this.sfn.send(new DescribeExecutionCommand({ executionArn }));
      return {
        jobId,
        status: (e.status ?? 'RUNNING') as LogErasureJobView['status'],
        startedAt: (e.startDate ?? new Date(0)).toISOString(),
        stoppedAt: e.stopDate ? e.stopDate.toISOString() : null,
        result:
          e.status === 'SUCCEEDED' && e.output ? (JSON.parse(e.output) as Record<string, unknown>) : null,
        error: e.error ?? null,
      };
    } catch (error) {
      if ((error as { name?: string }).name === 'ExecutionDoesNotExist') return undefined;
      throw error;
    }
  }
}
