// Empties an AWS Backup vault when its custom resource is deleted, so that
// CloudFormation can then delete the vault (a vault with recovery points
// cannot be deleted). Create and Update do nothing. Inline (CommonJS) code:
// the SDK v3 client comes with the Lambda Node.js runtime.
'use strict';

// Recovery points in these states cannot be deleted yet: wait for them.
const WAIT = new Set(['CREATING', 'DELETING']);

async function list(client, commands, vault) {
  const out = [];
  let NextToken;
  do {
    const page = await client.send(new commands.ListRecoveryPointsByBackupVaultCommand({ BackupVaultName: vault, NextToken }));
    out.push(...(page.RecoveryPoints || []));
    NextToken = page.NextToken;
  } while (NextToken);
  return out;
}

// empty deletes every recovery point of vault and waits until none is left,
// or fails once deadline (ms since epoch) has passed.
async function empty({ client, commands, vault, now, sleep, deadline, pollMs }) {
  for (;;) {
    const points = await list(client, commands, vault);
    if (points.length === 0) return;
    for (const p of points) {
      if (WAIT.has(p.Status)) continue;
      try {
        await client.send(new commands.DeleteRecoveryPointCommand({ BackupVaultName: vault, RecoveryPointArn: p.RecoveryPointArn }));
      } catch (e) {
        // Gone in the meantime, or started deleting: the next listing tells.
        if (e.name !== 'ResourceNotFoundException' && e.name !== 'InvalidRequestException') throw e;
      }
    }
    if (now() + pollMs > deadline) {
      const states = points.map((p) => p.Status).join(', ');
      throw new Error(`${points.length} recovery point(s) still in vault ${vault} (${states}); run the stack deletion again once they are gone`);
    }
    await sleep(pollMs);
  }
}

function makeHandler(deps) {
  return async (event, context) => {
    const vault = event.ResourceProperties.BackupVaultName;
    if (event.RequestType === 'Delete') {
      const { client, commands } = deps.client();
      // Stop a minute before Lambda's own timeout, to fail with a reason.
      const deadline = deps.now() + context.getRemainingTimeInMillis() - 60000;
      await empty({ client, commands, vault, now: deps.now, sleep: deps.sleep, deadline, pollMs: deps.pollMs });
    }
    return { PhysicalResourceId: vault };
  };
}

function sdkClient() {
  const sdk = require('@aws-sdk/client-backup');
  return { client: new sdk.BackupClient({}), commands: sdk };
}

module.exports = {
  makeHandler,
  empty,
  handler: makeHandler({ client: sdkClient, now: Date.now, sleep: (ms) => new Promise((r) => setTimeout(r, ms)), pollMs: 10000 }),
};
