/**
 * The one principal that may open what the retention vault keeps: a role for disclosure to an authority
 * that asks for a kept record (functions/lib/erasure/vault.ts VaultReader, `npm run vault-read`
 * locally). No function of the stack holds it. Only principals of this account whose own policies allow
 * them sts:AssumeRole on it can use it, for an hour at a time; every use of the key shows in CloudTrail
 * with the record's (hashed) entry.
 */
import { Duration } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { vaultReadStatements } from './access';
import type { VaultRef } from './orchestrator-state';

export class VaultReaderRole extends Construct {
  readonly role: iam.Role;

  constructor(scope: Construct, id: string, props: { vault: VaultRef }) {
    super(scope, id);
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.AccountRootPrincipal(),
      description:
        'Opens retention vault records for disclosure to an authority (GetItem + vault key Decrypt)',
      maxSessionDuration: Duration.hours(1),
    });
    // A policy of its own, as each function's Access policy: nothing of it is CDK-made.
    new iam.Policy(this, 'Access', { roles: [this.role], statements: vaultReadStatements(props.vault) });
  }
}
