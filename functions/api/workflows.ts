/** Starts workflows. In AWS, Step Functions; locally, the same SDK call against the local endpoint. */
import { SFNClient, StartExecutionCommand, ExecutionAlreadyExists } from '@aws-sdk/client-sfn';
import type { RequestType } from '../lib/requests/records';

export interface WorkflowStarter {
  /** Starts the workflow for a request; starting the same request twice is a no-op. */
  start(requestId: string, type?: RequestType): Promise<void>;
  /**
   * Whether a workflow exists for this type. The API refuses (501 UNSUPPORTED_TYPE) a type that has
   * none, rather than store a request nothing would ever process. Absent means export only.
   */
  supports?(type: RequestType): boolean;
}

export class StepFunctionsStarter implements WorkflowStarter {
  private readonly arns: Partial<Record<RequestType, string>>;

  constructor(
    private readonly sfn: SFNClient,
    /** One state machine per request type (a plain string is the export workflow). */
    stateMachines: string | Partial<Record<RequestType, string>>,
  ) {
    this.arns = typeof stateMachines === 'string' ? { export: stateMachines } : stateMachines;
  }

  supports(type: RequestType): boolean {
    return Boolean(this.arns[type]);
  }

  async start(requestId: string, type: RequestType = 'export'): Promise<void> {
    const stateMachineArn = this.arns[type];
    if (!stateMachineArn) throw new Error(`No workflow for request type ${type}`);
    try {
      // The execution name is the request id: Step Functions then refuses a second start of the same request.
      await this.sfn.send(
        new StartExecutionCommand({
          stateMachineArn,
          name: requestId,
          input: JSON.stringify({ requestId }),
        }),
      );
    } catch (error) {
      if (
        error instanceof ExecutionAlreadyExists ||
        (error as { name?: string }).name === 'ExecutionAlreadyExists'
      )
        return;
      throw error;
    }
  }
}
