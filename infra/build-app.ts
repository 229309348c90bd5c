/**
 * Builds the CDK app the same way for `cdk synth` (infra/app.ts) and for the stack test: context from
 * cdk.json plus any overrides, the stack, and cdk-nag's AwsSolutions checks as a validation plugin,
 * which fails the synth on any finding that is not acknowledged with a reason.
 */
import { App, Validations, type AppProps } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { readDeploymentConfig } from './config';
import { DsrStack } from './stack';

export const STACK_ID = 'DsrOrchestrator';

export interface BuiltApp {
  app: App;
  stack: DsrStack;
  nag: AwsSolutionsChecks;
}

export function buildApp(props: AppProps = {}): BuiltApp {
  const app = new App(props);
  const nag = new AwsSolutionsChecks(app);
  Validations.of(app).addPlugins(nag);
  const stack = new DsrStack(app, STACK_ID, {
    config: readDeploymentConfig(app.node),
    description: 'DSR orchestrator: user-data export and erasure',
    // Account and region come from the CLI's credentials when there are any; nothing is looked up,
    // so synth works offline and without an account.
    env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  });
  return { app, stack, nag };
}
