// Tests for the vault emptier (node:test, a fake Backup client, no network).
// Run: node --test constructs/backup/emptier/index.test.mjs
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';

const { makeHandler } = createRequire(import.meta.url)('./index.js');

class ListRecoveryPointsByBackupVaultCommand { constructor(input) { this.input = input; } }
class DeleteRecoveryPointCommand { constructor(input) { this.input = input; } }
const commands = { ListRecoveryPointsByBackupVaultCommand, DeleteRecoveryPointCommand };

// fakeVault holds recovery points by ARN with a status; a deleted point
// shows DELETING for `lag` listings, then disappears. Pages hold 2 points.
function fakeVault(points, { lag = 1, failDelete } = {}) {
  const state = new Map(points.map(([arn, status]) => [arn, { status, left: lag }]));
  const calls = { list: [], delete: [] };
  const client = {
    async send(cmd) {
      if (cmd instanceof ListRecoveryPointsByBackupVaultCommand) {
        calls.list.push(cmd.input);
        const all = [...state.entries()];
        const start = cmd.input.NextToken ? Number(cmd.input.NextToken) : 0;
        const page = all.slice(start, start + 2).map(([RecoveryPointArn, p]) => ({ RecoveryPointArn, Status: p.status }));
        // Time passes between listings: deletions progress.
        if (start + 2 >= all.length) {
          for (const [arn, p] of state) {
            if (p.status === 'DELETING' && p.left-- <= 0) state.delete(arn);
          }
        }
        return { RecoveryPoints: page, NextToken: start + 2 < all.length ? String(start + 2) : undefined };
      }
      if (cmd instanceof DeleteRecoveryPointCommand) {
        calls.delete.push(cmd.input);
        if (failDelete) throw failDelete;
        const p = state.get(cmd.input.RecoveryPointArn);
        if (!p) throw Object.assign(new Error('gone'), { name: 'ResourceNotFoundException' });
        p.status = 'DELETING';
        return {};
      }
      throw new Error('unexpected command');
    },
  };
  return { client, state, calls };
}

function handlerFor(vault, { timeLeft = 900000 } = {}) {
  let clock = 0;
  const sleeps = [];
  const handler = makeHandler({
    client: () => ({ client: vault.client, commands }),
    now: () => clock,
    sleep: async (ms) => { sleeps.push(ms); clock += ms; },
    pollMs: 10000,
  });
  const context = { getRemainingTimeInMillis: () => timeLeft };
  return { handler, context, sleeps };
}

const event = (type) => ({ RequestType: type, ResourceProperties: { BackupVaultName: 'vault-1' } });

test('create and update touch nothing and name the vault', async () => {
  const vault = fakeVault([['arn:rp:1', 'COMPLETED']]);
  const { handler, context } = handlerFor(vault);
  for (const type of ['Create', 'Update']) {
    assert.deepEqual(await handler(event(type), context), { PhysicalResourceId: 'vault-1' });
  }
  assert.equal(vault.calls.list.length + vault.calls.delete.length, 0);
  assert.equal(vault.state.size, 1);
});

test('delete removes every recovery point across pages and waits until the vault is empty', async () => {
  const vault = fakeVault([
    ['arn:rp:1', 'COMPLETED'], ['arn:rp:2', 'EXPIRED'], ['arn:rp:3', 'PARTIAL'],
    ['arn:rp:4', 'AVAILABLE'], ['arn:rp:5', 'COMPLETED'],
  ], { lag: 2 });
  const { handler, context, sleeps } = handlerFor(vault);
  assert.deepEqual(await handler(event('Delete'), context), { PhysicalResourceId: 'vault-1' });
  assert.equal(vault.state.size, 0, 'vault empty');
  assert.deepEqual(vault.calls.delete.map((c) => c.RecoveryPointArn).sort(), ['arn:rp:1', 'arn:rp:2', 'arn:rp:3', 'arn:rp:4', 'arn:rp:5']);
  assert.ok(vault.calls.delete.every((c) => c.BackupVaultName === 'vault-1'));
  assert.ok(vault.calls.list.every((c) => c.BackupVaultName === 'vault-1'));
  assert.ok(sleeps.length >= 1, 'waited for the deletions to finish');
});

test('a recovery point still being created is waited for, then deleted', async () => {
  const vault = fakeVault([['arn:rp:new', 'CREATING']]);
  const { handler, context } = handlerFor(vault);
  const orig = vault.client.send.bind(vault.client);
  let listings = 0;
  vault.client.send = async (cmd) => {
    if (cmd instanceof ListRecoveryPointsByBackupVaultCommand && ++listings === 3) {
      vault.state.get('arn:rp:new').status = 'COMPLETED';
    }
    return orig(cmd);
  };
  await handler(event('Delete'), context);
  assert.equal(vault.state.size, 0);
  assert.equal(vault.calls.delete.length, 1, 'not deleted while CREATING');
});

test('an empty vault needs one listing and no deletion', async () => {
  const vault = fakeVault([]);
  const { handler, context, sleeps } = handlerFor(vault);
  await handler(event('Delete'), context);
  assert.equal(vault.calls.list.length, 1);
  assert.equal(vault.calls.delete.length, 0);
  assert.equal(sleeps.length, 0);
});

test('points that never go away fail the deletion with a reason before Lambda times out', async () => {
  const vault = fakeVault([['arn:rp:stuck', 'CREATING']]);
  const { handler, context } = handlerFor(vault, { timeLeft: 120000 });
  await assert.rejects(handler(event('Delete'), context), /1 recovery point\(s\) still in vault vault-1 \(CREATING\)/);
});

test('an access error is not swallowed', async () => {
  const denied = Object.assign(new Error('not authorized'), { name: 'AccessDeniedException' });
  const vault = fakeVault([['arn:rp:1', 'COMPLETED']], { failDelete: denied });
  const { handler, context } = handlerFor(vault);
  await assert.rejects(handler(event('Delete'), context), /not authorized/);
});
