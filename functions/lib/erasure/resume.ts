/**
 * Starting a resumed erasure run: the erasure workflow again on the same request, execution
 * `<requestId>-r<N>`, input `{requestId, asOf}`. The sweep starts one when a retention period ends or a
 * hold is released; the log-erasure job when it has removed the request's log lines.
 */
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';

export interface ResumeStarter {
  /** Starts a resumed run; false when an execution of that name exists already. */
  start(executionName: string, input: { requestId: string; asOf: string }): Promise<boolean>;
}

export class StepFunctionsResumeStarter implements ResumeStarter {
  constructor(
    private readonly sfn: SFNClient,
    private readonly stateMachineArn: string,
  ) {}

  async start(executionName: string, input: { requestId: string; asOf: string }): Promise<boolean> {
    try {
      await this.sfn.send(
        new StartExecutionCommand({
          stateMachineArn: this.stateMachineArn,
          name: executionName,
          input: JSON.stringify(input),
        }),
      );
      return true;
    } catch (error) {
      if ((error as { name?: string }).name === 'ExecutionAlreadyExists') return false;
      throw error;
    }
  }
}
