/**
 * The ASL files' invariants: every Task state retries and catches (one error path records the failure),
 * every ${Substitution} is a known task function, and the definitions validate as the local runner and
 * Step Functions load them.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { StateMachine } from 'aws-local-stepfunctions';
import { STATE_MACHINES, TASK_FUNCTIONS } from '../../functions/lib/connectors/catalog';
import { substitutedDefinition } from '../../local/workflows';

type State = Record<string, unknown> & { Type?: string };

function tasks(states: Record<string, State>, prefix = ''): [string, State][] {
  const found: [string, State][] = [];
  for (const [name, state] of Object.entries(states)) {
    if (state.Type === 'Task') found.push([`${prefix}${name}`, state]);
    const nested = (state.ItemProcessor ?? state.Iterator) as { States: Record<string, State> } | undefined;
    if (nested) found.push(...tasks(nested.States, `${prefix}${name}/`));
    for (const branch of (state.Branches ?? []) as { States: Record<string, State> }[]) {
      found.push(...tasks(branch.States, `${prefix}${name}/`));
    }
  }
  return found;
}

describe.each(Object.values(STATE_MACHINES).map((m) => [m.file]))('%s', (file) => {
  const definition = substitutedDefinition(file) as { States: Record<string, State> };

  test('every Task state has Retry and a Catch that leads somewhere', () => {
    const found = tasks(definition.States);
    expect(found.length).toBeGreaterThan(3);
    for (const [name, state] of found) {
      const retry = (state.Retry ?? []) as unknown[];
      const catchers = (state.Catch ?? []) as { Next?: string }[];
      expect({ name, retries: retry.length > 0, catches: catchers.length > 0 }).toEqual({
        name,
        retries: true,
        catches: true,
      });
      for (const catcher of catchers) expect(typeof catcher.Next).toBe('string');
    }
  });

  test('every Task retries a Lambda that died (Lambda.Unknown: a crash, a timeout, out of memory)', () => {
    // Every task is idempotent, so a crashed attempt is retried like a transient error: a fault
    // campaign (docs/chaos.md) found a single crash failing the whole request otherwise.
    for (const [name, state] of tasks(definition.States)) {
      const retried = ((state.Retry ?? []) as { ErrorEquals: string[] }[]).flatMap((r) => r.ErrorEquals);
      expect({ name, crash: retried.includes('Lambda.Unknown') || retried.includes('States.ALL') }).toEqual({
        name,
        crash: true,
      });
    }
  });

  test('every substitution names a task function', () => {
    const raw = readFileSync(join(__dirname, '..', '..', file), 'utf8');
    const known = new Set<string>(Object.values(TASK_FUNCTIONS).map((f) => f.substitution));
    const used = [...raw.matchAll(/\$\{([A-Za-z0-9]+)\}/g)].map((m) => m[1]);
    expect(used.length).toBeGreaterThan(0);
    expect(used.filter((u) => !known.has(u ?? ''))).toEqual([]);
  });

  test('validates as an ASL definition', () => {
    expect(
      () => new StateMachine(definition as never, { validationOptions: { checkArn: true } }),
    ).not.toThrow();
  });
});
