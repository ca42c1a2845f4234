package node

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsefs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/node/nodespec"
)

// MaintenanceContainerName is the container of the maintenance task (a
// run-task override names it).
const MaintenanceContainerName = "restore"

// maintenanceProps are what the maintenance task shares with the node's own
// task: nothing of its own but the task definition.
type maintenanceProps struct {
	name          string
	image         awsecs.ContainerImage
	fileSystem    awsefs.FileSystem
	fileSystemID  *string
	taskRole      awsiam.IRole
	executionRole awsiam.IRole
	logGroup      awslogs.ILogGroup
}

// newMaintenanceTask is the task definition an operator runs once, with
// the node stopped, to put a backup restored by AWS Backup in place
// (docs/runbooks.md "Restore a node from a backup"). AWS Backup restores
// into aws-backup-restore_<time>/ at the file system's root, which the
// node's access points hide, and the data must end up owned by the node's
// user: so this task mounts the root itself and runs as root. It runs the
// kubo image's restore-from-backup script and nothing else; no service
// starts it.
//
// It borrows the node's task role, which gains ClientRootAccess on this
// file system only, and the node's execution role and kubo log group: one
// resource per node instead of four. The node's containers cannot use the
// root access: ECS mounts their volumes through the access points, which
// force uid 1000, and a Fargate container cannot mount anything itself.
func newMaintenanceTask(scope constructs.Construct, p maintenanceProps) awsecs.FargateTaskDefinition {
	p.fileSystem.GrantRootAccess(p.taskRole)
	const volume = "file-system-root"
	task := awsecs.NewFargateTaskDefinition(scope, jsii.String("MaintenanceTask"), &awsecs.FargateTaskDefinitionProps{
		Cpu:            jsii.Number(256),
		MemoryLimitMiB: jsii.Number(512),
		TaskRole:       p.taskRole,
		ExecutionRole:  p.executionRole,
		RuntimePlatform: &awsecs.RuntimePlatform{
			CpuArchitecture:       awsecs.CpuArchitecture_X86_64(),
			OperatingSystemFamily: awsecs.OperatingSystemFamily_LINUX(),
		},
		Volumes: &[]*awsecs.Volume{{
			Name: jsii.String(volume),
			EfsVolumeConfiguration: &awsecs.EfsVolumeConfiguration{
				FileSystemId:      p.fileSystemID,
				RootDirectory:     jsii.String("/"),
				TransitEncryption: jsii.String("ENABLED"),
				AuthorizationConfig: &awsecs.AuthorizationConfig{
					Iam: jsii.String("ENABLED"),
				},
			},
		}},
	})
	restore := task.AddContainer(jsii.String(MaintenanceContainerName), &awsecs.ContainerDefinitionOptions{
		Image:     p.image,
		Essential: jsii.Bool(true),
		// Root, to move directories in the file system's root and give
		// them to the node's user; the root file system stays read-only.
		User:                   jsii.String("0:0"),
		ReadonlyRootFilesystem: jsii.Bool(true),
		EntryPoint:             jsii.Strings(nodespec.RestoreCommand),
		Command:                jsii.Strings(nodespec.MaintenanceMountPath),
		Environment:            environment(map[string]string{nodespec.RestoreOwnerVariable: nodespec.User}),
		Logging: awsecs.LogDrivers_AwsLogs(&awsecs.AwsLogDriverProps{
			StreamPrefix: jsii.String(fmt.Sprintf("%s-maintenance", p.name)),
			LogGroup:     p.logGroup,
		}),
	})
	cdknag.NagSuppressions_AddResourceSuppressions(task, &[]*cdknag.NagPackSuppression{{
		Id:     jsii.String("AwsSolutions-ECS2"),
		Reason: jsii.String("The only environment variable is " + nodespec.RestoreOwnerVariable + ", the node containers' uid:gid, which is no secret."),
	}}, jsii.Bool(false))
	restore.AddMountPoints(&awsecs.MountPoint{ContainerPath: jsii.String(nodespec.MaintenanceMountPath), SourceVolume: jsii.String(volume), ReadOnly: jsii.Bool(false)})
	return task
}
