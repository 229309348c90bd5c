/**
 * Payload templates and reference paths evaluated exactly as aws-local-stepfunctions evaluates them
 * (JSONPath, `.$` fields, `$$` context, intrinsic functions): each is run as the Parameters of a
 * one-state Pass machine, so the fields the local Distributed Map evaluates itself (ItemSelector,
 * BatchInput, ItemReader and ResultWriter Parameters, ...Path fields) follow the same rules as every
 * other state.
 */
import { ExecutionError, StateMachine } from 'aws-local-stepfunctions';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

/** The context object (`$$`) of a run. */
export type ContextObject = Record<string, unknown>;

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The error a failed run was failed with (a Pass state fails only with a path or intrinsic error). */
export function stateError(error: unknown): unknown {
  return error instanceof ExecutionError ? error.cause : error;
}

export class PayloadTemplate {
  private readonly machine: StateMachine;

  /** `template` comes from a validated definition: its paths are well formed. */
  constructor(template: JsonObject) {
    this.machine = new StateMachine(
      { StartAt: 'Evaluate', States: { Evaluate: { Type: 'Pass', Parameters: template, End: true } } },
      { validationOptions: { noValidate: true } },
    );
  }

  /** A template that evaluates a reference path alone (`ItemsPath`, `MaxConcurrencyPath`, ...). */
  static ofPath(path: string): PayloadTemplate {
    return new PayloadTemplate({ 'value.$': path });
  }

  async evaluate(input: Json, context: ContextObject): Promise<Json> {
    try {
      return (await this.machine.run(input, { context }).result) as Json;
    } catch (error) {
      throw stateError(error);
    }
  }

  /** The value a template made with `ofPath` selects. */
  async select(input: Json, context: ContextObject): Promise<Json> {
    const result = await this.evaluate(input, context);
    return isJsonObject(result) ? (result.value ?? null) : null;
  }
}
