// Package backup provides the AWS Backup plan of a cluster: a vault, a daily
// rule, an optional copy of every recovery point to a vault in another
// region, and a selection of every node's file system. It replaces EFS's
// automatic backups (node.Props.BackedUpByPlan), so there is one chain of
// recovery points, in a vault whose removal policy is the data's.
package backup

import (
	"errors"
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsbackup"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsefs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/backup/backupspec"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/propcheck"
)

// Props configure the backup plan.
type Props struct {
	// FileSystems to back up, every node's. Required.
	FileSystems []awsefs.IFileSystem
	// RetentionDays of every recovery point, copies included. Default 35.
	RetentionDays int
	// CopyVaultArn, when set, receives a copy of every recovery point (a
	// vault in another region: NewCopyVault).
	CopyVaultArn *string
	// RemovalPolicy of the vault: the data's. Default
	// RETAIN_ON_UPDATE_OR_DELETE. With DESTROY the vault is emptied of its
	// recovery points before it is deleted (NewVaultEmptier).
	RemovalPolicy awscdk.RemovalPolicy
}

// Validate reports every problem at once.
func (p *Props) Validate() error {
	if p == nil {
		return errors.New("backup.Props: required (nil)")
	}
	l := propcheck.New("backup.Props")
	if len(p.FileSystems) == 0 {
		l.Add("FileSystems", "required: at least one")
	}
	for i, fs := range p.FileSystems {
		if fs == nil {
			l.Add(fmt.Sprintf("FileSystems[%d]", i), "required")
		}
	}
	if p.RetentionDays != 0 {
		if err := backupspec.ValidateRetentionDays(p.RetentionDays); err != nil {
			l.Add("RetentionDays", "%v", err)
		}
	}
	return l.Err()
}

// Backup is the vault and the plan.
type Backup struct {
	constructs.Construct
	Vault awsbackup.BackupVault
	Plan  awsbackup.BackupPlan
	// Role backs up the selected file systems and restores them.
	Role awsiam.IRole
}

// New creates the vault, the plan and its selection.
func New(scope constructs.Construct, id string, props *Props) (*Backup, error) {
	if err := props.Validate(); err != nil {
		return nil, err
	}
	p := *props
	if p.RetentionDays == 0 {
		p.RetentionDays = backupspec.DefaultRetentionDays
	}
	if p.RemovalPolicy == "" {
		p.RemovalPolicy = awscdk.RemovalPolicy_RETAIN_ON_UPDATE_OR_DELETE
	}
	this := constructs.NewConstruct(scope, jsii.String(id))
	// Encrypted, like every backup vault: with AWS Backup's own key here,
	// which needs no key policy for EFS's fully managed backups and costs
	// nothing; a customer key would add a key per region to manage.
	// Its name is generated (vault names are shorter than stack names);
	// the stack outputs it.
	vault := awsbackup.NewBackupVault(this, jsii.String("Vault"), &awsbackup.BackupVaultProps{
		RemovalPolicy: p.RemovalPolicy,
	})
	retention := awscdk.Duration_Days(jsii.Number(float64(p.RetentionDays)))
	rule := &awsbackup.BackupPlanRuleProps{
		RuleName: jsii.String("Daily"),
		// 03:00 UTC, a quiet hour for most of Europe; EFS backups are
		// incremental and need no quiescing.
		ScheduleExpression: awsevents.Schedule_Cron(&awsevents.CronOptions{Hour: jsii.String("3"), Minute: jsii.String("0")}),
		StartWindow:        awscdk.Duration_Hours(jsii.Number(1)),
		CompletionWindow:   awscdk.Duration_Hours(jsii.Number(24)),
		DeleteAfter:        retention,
	}
	if p.CopyVaultArn != nil {
		rule.CopyActions = &[]*awsbackup.BackupPlanCopyActionProps{{
			DestinationBackupVault: awsbackup.BackupVault_FromBackupVaultArn(this, jsii.String("CopyVault"), p.CopyVaultArn),
			DeleteAfter:            retention,
		}}
	}
	plan := awsbackup.NewBackupPlan(this, jsii.String("Plan"), &awsbackup.BackupPlanProps{
		BackupVault:     vault,
		BackupPlanRules: &[]awsbackup.BackupPlanRule{awsbackup.NewBackupPlanRule(rule)},
	})
	if p.RemovalPolicy == awscdk.RemovalPolicy_DESTROY {
		// The plan (and its selection) goes first, so no new job starts
		// while the vault is being emptied.
		plan.Node().AddDependency(NewVaultEmptier(this, "VaultEmptier", vault))
	}
	var resources []awsbackup.BackupResource
	for _, fs := range p.FileSystems {
		resources = append(resources, awsbackup.BackupResource_FromEfsFileSystem(fs))
	}
	// The role CDK would make for the selection, made here so that the
	// stack can output it: the restore runbook starts its restore jobs
	// with it.
	role := awsiam.NewRole(this, jsii.String("Role"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("backup.amazonaws.com"), nil),
		Description: jsii.String("AWS Backup: backs up and restores the cluster's file systems"),
		ManagedPolicies: &[]awsiam.IManagedPolicy{
			awsiam.ManagedPolicy_FromAwsManagedPolicyName(jsii.String("service-role/AWSBackupServiceRolePolicyForBackup")),
			awsiam.ManagedPolicy_FromAwsManagedPolicyName(jsii.String("service-role/AWSBackupServiceRolePolicyForRestores")),
		},
	})
	plan.AddSelection(jsii.String("FileSystems"), &awsbackup.BackupSelectionOptions{
		Resources: &resources,
		Role:      role,
	})
	cdknag.NagSuppressions_AddResourceSuppressions(role, &[]*cdknag.NagPackSuppression{{
		Id: jsii.String("AwsSolutions-IAM4"),
		Reason: jsii.String("AWS Backup's own service role policies (backup and restore) are what AWS Backup documents for its selections; " +
			"they follow the service's API changes, which a hand-written copy would not."),
		AppliesTo: &[]any{
			"Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup",
			"Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForRestores",
		},
	}}, jsii.Bool(true))
	return &Backup{Construct: this, Vault: vault, Plan: plan, Role: role}, nil
}

// NewCopyVault creates the vault another region keeps the copies in, named
// by convention (backupspec.CopyVaultName) so the plan's stack can name it
// without a cross-region reference. With DESTROY it is emptied before it is
// deleted, like the plan's vault.
func NewCopyVault(scope constructs.Construct, id, vaultName string, removal awscdk.RemovalPolicy) awsbackup.BackupVault {
	vault := awsbackup.NewBackupVault(scope, jsii.String(id), &awsbackup.BackupVaultProps{
		BackupVaultName: jsii.String(vaultName),
		RemovalPolicy:   removal,
	})
	if removal == awscdk.RemovalPolicy_DESTROY {
		NewVaultEmptier(scope, id+"Emptier", vault)
	}
	return vault
}
