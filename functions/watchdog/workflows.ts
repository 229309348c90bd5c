/** The watchdog's view of Step Functions: DescribeExecution and StartExecution by execution name. */
import { DescribeExecutionCommand, StartExecutionCommand, type SFNClient } from '@aws-sdk/client-sfn';
import type { RequestType } from '../lib/requests/records';
import type { ExecutionView, WorkflowControl } from './core';

const errorName = (error: unknown) => (error as { name?: string }).name;

export class StepFunctionsControl implements WorkflowControl {
  constructor(
    private readonly sfn: SFNClient,
    private readonly stateMachines: Record<RequestType, string>,
  ) {}

  /** An execution's ARN is its state machine's, with `execution` for `stateMachine` and its name after. */
  private executionArn(type: RequestType, name: string): string {
    return `${this.stateMachines[type].replace(':stateMachine:', ':execution:')}:${name}`;
  }

  async describe(type: RequestType, name: string): Promise<ExecutionView | undefined> {
    try {
      const out = await this.sfn.send(
        new DescribeExecutionCommand({ executionArn: this.executionArn(type, name) }),
      );
      return {
        status: (out.status ?? 'FAILED') as ExecutionView['status'],
        input: out.input,
        ...(out.error === undefined ? {} : { error: out.error }),
      };
    } catch (error) {
      if (errorName(error) === 'ExecutionDoesNotExist') return undefined;
      throw error;
    }
  }

  async start(type: RequestType, name: string, input: string): Promise<boolean> {
    try {
      await this.sfn.send(
        new StartExecutionCommand({ stateMachineArn: this.stateMachines[type], name, input }),
      );
      return true;
    } catch (error) {
      if (errorName(error) === 'ExecutionAlreadyExists') return false;
      throw error;
    }
  }
}
