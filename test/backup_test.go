package test

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/backup/backupspec"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/stacks/outputs"
)

// selectedFileSystems returns the logical IDs of the file systems a backup
// selection names (ARNs joined from the file system's Ref).
func selectedFileSystems(t *testing.T, selection resource) []string {
	t.Helper()
	var out []string
	for _, r := range list(path(selection.Properties, "BackupSelection", "Resources")) {
		for _, part := range list(path(r, "Fn::Join", 1)) {
			if id := ref(part); id != "" && !strings.HasPrefix(id, "AWS::") {
				out = append(out, id)
			}
		}
	}
	sort.Strings(out)
	return out
}

func TestBackupPlanSelectsEveryNodesFileSystem(t *testing.T) {
	for _, s := range []*synthesized{defaults, privateSwarm, operations(t)} {
		plans := s.ofType("AWS::Backup::BackupPlan")
		require.Len(t, plans, 1)
		var planID string
		for id := range plans {
			planID = id
		}
		rules := list(path(plans[planID].Properties, "BackupPlan", "BackupPlanRule"))
		require.Len(t, rules, 1, "one daily rule")
		rule := rules[0]
		assert.Equal(t, "cron(0 3 * * ? *)", path(rule, "ScheduleExpression"), "daily")
		assert.EqualValues(t, s.config.BackupRetentionDays, path(rule, "Lifecycle", "DeleteAfterDays"))

		vaults := s.ofType("AWS::Backup::BackupVault")
		require.Len(t, vaults, 1)
		for id, v := range vaults {
			assert.Equal(t, id, ref(path(rule, "TargetBackupVault")))
			assert.Contains(t, s.outputs, outputs.BackupVaultName)
			assert.Equal(t, id, ref(path(s.outputs, outputs.BackupVaultName, "Value")), "the output names this vault")
			want, _ := dataPolicies(s)
			assert.Equal(t, want, v.DeletionPolicy, "the vault follows the data's removal policy")
		}

		var wantFS []string
		for i := 0; i < s.config.NodeCount; i++ {
			id, fs := s.withPrefix(t, "AWS::EFS::FileSystem", fmt.Sprintf("Node%dFileSystem", i))
			wantFS = append(wantFS, id)
			assert.Equal(t, "DISABLED", path(fs.Properties, "BackupPolicy", "Status"), "the plan replaces EFS's automatic backups")
		}
		sort.Strings(wantFS)
		selections := s.ofType("AWS::Backup::BackupSelection")
		require.Len(t, selections, 1)
		for _, sel := range selections {
			assert.Equal(t, planID, ref(sel.Properties["BackupPlanId"]))
			assert.Equal(t, wantFS, selectedFileSystems(t, sel), "every node's file system, nothing else")
			role := s.resources[ref(path(sel.Properties, "BackupSelection", "IamRoleArn"))]
			assert.Contains(t, fmt.Sprint(role.Properties["ManagedPolicyArns"]), "AWSBackupServiceRolePolicyForRestores", "the restore runbook restores with the selection's role")
		}

		copies := list(path(rule, "CopyActions"))
		if s.config.BackupCopyRegion == "" {
			assert.Empty(t, copies)
			assert.Nil(t, s.stack.BackupCopy)
			continue
		}
		require.Len(t, copies, 1)
		arn := fmt.Sprint(path(copies[0], "DestinationBackupVaultArn"))
		assert.Contains(t, arn, ":backup:"+s.config.BackupCopyRegion+":")
		assert.Contains(t, arn, "backup-vault:"+backupspec.CopyVaultName(s.config.StackName))
		assert.EqualValues(t, s.config.BackupRetentionDays, path(copies[0], "Lifecycle", "DeleteAfterDays"))

		require.NotNil(t, s.stack.BackupCopy)
		assert.Equal(t, s.config.BackupCopyRegion, *s.stack.BackupCopy.Region())
		copyVaults := byType(resourcesOf(t, s, s.stack.BackupCopy), "AWS::Backup::BackupVault")
		require.Len(t, copyVaults, 1)
		for _, v := range copyVaults {
			assert.Equal(t, backupspec.CopyVaultName(s.config.StackName), v.Properties["BackupVaultName"])
		}
		var deps []string
		for _, d := range *s.stack.Dependencies() {
			deps = append(deps, *d.StackName())
		}
		assert.Contains(t, deps, *s.stack.BackupCopy.StackName(), "the copy vault exists before the plan's first copy")
	}
}
