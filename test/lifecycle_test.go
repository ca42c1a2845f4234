package test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/config"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/backup"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/edge/edgespec"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/kmspolicy"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/loadbalancer"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/node/nodespec"
)

// Issue 14, items 3 and 7: a failed first deploy can be retried, teardown is
// defined, and the load balancer admits CloudFront's VPC origins only.

// lifecycleApps are the fixtures of both removal policies, each with and
// without a backup copy region.
func lifecycleApps(t *testing.T) []*synthesized {
	return []*synthesized{defaults, privateSwarm, keptCopy, destroyData, operations(t)}
}

// dataPolicies is what the templates must say of data-bearing resources:
// kept on update and delete but not by the rollback of a failed create
// (retain), or deleted (destroy).
func dataPolicies(s *synthesized) (deletion, updateReplace string) {
	if s.config.DataRemovalPolicy == config.RemovalDestroy {
		return "Delete", "Delete"
	}
	return "RetainExceptOnCreate", "Retain"
}

// allStacks are the templates of every stack of s's assembly.
func allStacks(s *synthesized) []*stackTemplate {
	var out []*stackTemplate
	for _, id := range sortedKeys(s.stacks) {
		out = append(out, s.stacks[id])
	}
	return out
}

func TestDataIsKeptButAFailedCreateCleansUp(t *testing.T) {
	for _, s := range lifecycleApps(t) {
		wantDeletion, wantReplace := dataPolicies(s)
		counts := map[string]int{}
		for _, st := range allStacks(s) {
			for _, resourceType := range []string{"AWS::EFS::FileSystem", "AWS::SecretsManager::Secret", "AWS::Backup::BackupVault"} {
				for id, r := range st.ofType(resourceType) {
					counts[resourceType]++
					assert.Equal(t, wantDeletion, r.DeletionPolicy, "%s %s (dataRemovalPolicy=%s)", st.artifactID, id, s.config.DataRemovalPolicy)
					assert.Equal(t, wantReplace, r.UpdateReplacePolicy, "%s %s (dataRemovalPolicy=%s)", st.artifactID, id, s.config.DataRemovalPolicy)
				}
			}
		}
		vaults := 1
		if s.config.BackupCopyRegion != "" {
			vaults = 2
		}
		assert.Equal(t, map[string]int{"AWS::EFS::FileSystem": s.config.NodeCount, "AWS::SecretsManager::Secret": 3, "AWS::Backup::BackupVault": vaults}, counts,
			"every file system, the three secrets, the vault and the copy vault (dataRemovalPolicy=%s, copy region %q)", s.config.DataRemovalPolicy, s.config.BackupCopyRegion)
		// The us-east-1 replica is a property of the credentials secret: it
		// is kept, and cleaned up by a failed create, with its primary.
		_, credentials := s.withPrefix(t, "AWS::SecretsManager::Secret", "SecretsRestApiCredentials")
		assert.Equal(t, edgespec.Region, path(credentials.Properties, "ReplicaRegions", 0, "Region"))
	}
}

// TestNothingKeptCanBlockARetry: with retain, what a failed create keeps
// (DeletionPolicy Retain) is only what has a generated name (log buckets and
// log groups), so a retry creates new ones beside them; with destroy,
// nothing at all is kept, in any stack.
func TestNothingKeptCanBlockARetry(t *testing.T) {
	nameProperty := map[string]string{"AWS::S3::Bucket": "BucketName", "AWS::Logs::LogGroup": "LogGroupName"}
	for _, s := range lifecycleApps(t) {
		destroy := s.config.DataRemovalPolicy == config.RemovalDestroy
		for _, st := range allStacks(s) {
			for _, id := range sortedKeys(st.resources) {
				r := st.resources[id]
				switch r.DeletionPolicy {
				case "", "Delete", "RetainExceptOnCreate":
				case "Retain":
					name, ok := nameProperty[r.Type]
					assert.True(t, ok, "%s %s (%s) survives a failed create", st.artifactID, id, r.Type)
					assert.Nil(t, r.Properties[name], "%s %s is kept and has a fixed name: a retry would collide", st.artifactID, id)
				default:
					t.Errorf("%s %s: DeletionPolicy %q", st.artifactID, id, r.DeletionPolicy)
				}
				if destroy {
					assert.Contains(t, []string{"", "Delete"}, r.DeletionPolicy, "%s %s (%s) outlives `cdk destroy` with dataRemovalPolicy=destroy", st.artifactID, id, r.Type)
				}
			}
		}
	}
}

// TestLoadBalancerIsNeverCreatedWithDeletionProtection: a load balancer
// created with deletion protection on turns the rollback of a failed create
// into ROLLBACK_FAILED. The attribute is written out as false: a stack
// deployed with it on would keep it if the template only omitted it.
func TestLoadBalancerIsNeverCreatedWithDeletionProtection(t *testing.T) {
	for _, s := range lifecycleApps(t) {
		attributes := albAttributes(loadBalancer(t, s))
		assert.Equal(t, "false", attributes["deletion_protection.enabled"], "dataRemovalPolicy=%s", s.config.DataRemovalPolicy)
	}
}

// TestLogBucketsFollowTheData: with destroy, both access-log buckets are
// emptied (CDK's auto-delete custom resource) after whatever writes into
// them is gone, then deleted; with retain they are kept.
func TestLogBucketsFollowTheData(t *testing.T) {
	for _, s := range lifecycleApps(t) {
		destroy := s.config.DataRemovalPolicy == config.RemovalDestroy
		autoDelete := map[string]string{} // bucket -> custom resource
		for id, cr := range s.ofType("Custom::S3AutoDeleteObjects") {
			autoDelete[ref(cr.Properties["BucketName"])] = id
		}
		for prefix, writers := range map[string]string{
			"LoadBalancerAccessLogs": "AWS::ElasticLoadBalancingV2::LoadBalancer",
			"EdgeAccessLogs":         "AWS::CloudFront::Distribution",
		} {
			bucketID, bucket := s.withPrefix(t, "AWS::S3::Bucket", prefix)
			if !destroy {
				assert.Equal(t, "Retain", bucket.DeletionPolicy, bucketID)
				assert.Empty(t, autoDelete[bucketID], "%s is never emptied with retain", bucketID)
				continue
			}
			assert.Equal(t, "Delete", bucket.DeletionPolicy, bucketID)
			require.NotEmpty(t, autoDelete[bucketID], "%s is emptied before it is deleted", bucketID)
			found := s.ofType(writers)
			require.NotEmpty(t, found, writers)
			for id, w := range found {
				assert.Contains(t, w.DependsOn, autoDelete[bucketID], "%s is deleted before %s is emptied", id, bucketID)
			}
		}
		if !destroy {
			assert.Empty(t, autoDelete)
		}
	}
}

// statementsOf returns the statements of the IAM policies attached to a role.
func statementsOf(st *stackTemplate, roleID string) []any {
	var out []any
	for _, p := range st.ofType("AWS::IAM::Policy") {
		for _, r := range list(p.Properties["Roles"]) {
			if ref(r) == roleID {
				out = append(out, list(path(p.Properties, "PolicyDocument", "Statement"))...)
			}
		}
	}
	return out
}

// TestBackupVaultsAreEmptiedBeforeDestroy: with destroy, every vault (the
// plan's and the copy region's) has a custom resource that deletes its
// recovery points on delete, after the plan is gone; its function may list
// that vault only. With retain there is none: nothing deletes backups.
func TestBackupVaultsAreEmptiedBeforeDestroy(t *testing.T) {
	code, err := os.ReadFile(filepath.Join(absRepoRoot(t), "constructs", "backup", "emptier", "index.js"))
	require.NoError(t, err)
	for _, s := range lifecycleApps(t) {
		destroy := s.config.DataRemovalPolicy == config.RemovalDestroy
		for _, st := range allStacks(s) {
			emptiers := st.ofType(backup.EmptierResourceType)
			vaults := st.ofType("AWS::Backup::BackupVault")
			if !destroy {
				assert.Empty(t, emptiers, "%s: nothing deletes backups with retain", st.artifactID)
				continue
			}
			require.Len(t, emptiers, len(vaults), "%s: one emptier per vault", st.artifactID)
			for id, e := range emptiers {
				vault := ref(e.Properties["BackupVaultName"])
				assert.Contains(t, vaults, vault, "%s empties a vault of its stack", id)
				for planID, plan := range st.ofType("AWS::Backup::BackupPlan") {
					assert.Contains(t, plan.DependsOn, id, "%s: no backup job starts while %s empties the vault", planID, id)
				}
			}
			var handlers []resource
			for _, fn := range st.ofType("AWS::Lambda::Function") {
				if path(fn.Properties, "Code", "ZipFile") == string(code) {
					handlers = append(handlers, fn)
				}
			}
			require.Len(t, handlers, len(vaults), "%s: the emptier's code is constructs/backup/emptier/index.js", st.artifactID)
			for _, fn := range handlers {
				assert.Equal(t, "nodejs24.x", fn.Properties["Runtime"])
				actions := map[string]any{}
				for _, statement := range statementsOf(st, ref(fn.Properties["Role"])) {
					actions[fmt.Sprint(path(statement, "Action"))] = statement
				}
				require.Len(t, actions, 3, "%s: list, delete and the service-linked role only", st.artifactID)
				list := actions["backup:ListRecoveryPointsByBackupVault"]
				assert.Contains(t, vaults, fmt.Sprint(path(list, "Resource", "Fn::GetAtt", 0)), "listing is scoped to the vault")
				assert.Contains(t, fmt.Sprint(path(actions["backup:DeleteRecoveryPoint"], "Resource")), ":recovery-point:*")
				assert.Equal(t, "backup.amazonaws.com", path(actions["iam:CreateServiceLinkedRole"], "Condition", "StringEquals", "iam:AWSServiceName"))
			}
		}
	}
}

// isGrantGuard is CT.KMS.PR.3's rule (Control Tower proactive control,
// kms_create_grant_aws_service_check): a Deny of kms:CreateGrant only, to
// every principal, on "*", when both conditions are false (BoolIfExists, no
// other key).
func isGrantGuard(statement any) bool {
	principal := path(statement, "Principal")
	if principal != "*" && path(principal, "AWS") != "*" {
		return false
	}
	action := path(statement, "Action")
	if a, ok := action.([]any); ok && len(a) == 1 {
		action = a[0]
	}
	condition, _ := path(statement, "Condition").(map[string]any)
	return path(statement, "Effect") == "Deny" && action == "kms:CreateGrant" && path(statement, "Resource") == "*" &&
		len(condition) == 1 && fmt.Sprint(condition["BoolIfExists"]) == "map[aws:PrincipalIsAWSService:false kms:GrantIsForAWSResource:false]"
}

// TestEveryKMSKeyLimitsGrantsToAWSServices: the alarm topics' keys (both
// regions) and the keys CDK Pipelines creates (artifact bucket, us-east-1
// replication bucket) refuse grants that no AWS service asks for; the alarm
// keys still let CloudWatch publish.
func TestEveryKMSKeyLimitsGrantsToAWSServices(t *testing.T) {
	check := func(where string, key map[string]any) {
		var guards int
		for _, statement := range list(path(key, "Properties", "KeyPolicy", "Statement")) {
			if isGrantGuard(statement) {
				guards++
			}
		}
		assert.Equal(t, 1, guards, "%s: one CT.KMS.PR.3 statement", where)
	}
	var alarmKeys int
	for _, s := range []*synthesized{defaults, destroyData} {
		for _, st := range allStacks(s) {
			for id, key := range st.ofType("AWS::KMS::Key") {
				check(st.artifactID+" "+id, map[string]any{"Properties": key.Properties})
				if strings.HasPrefix(id, "MonitoringAlarmTopicKey") || strings.HasPrefix(id, "EdgeMonitoringAlarmTopicKey") {
					alarmKeys++
					var publish bool
					for _, statement := range list(path(key.Properties, "KeyPolicy", "Statement")) {
						publish = publish || (path(statement, "Principal", "Service") == "cloudwatch.amazonaws.com" && path(statement, "Effect") == "Allow")
					}
					assert.True(t, publish, "%s: CloudWatch alarms may still publish", id)
				}
			}
		}
	}
	assert.Equal(t, 4, alarmKeys, "the alarm keys of both regions, in both fixtures")
	var pipelineKeys int
	d := delivery(t)
	for _, id := range sortedKeys(d.stacks) {
		for keyID, key := range d.stacks[id].resources("AWS::KMS::Key") {
			pipelineKeys++
			check(id+" "+keyID, key)
		}
	}
	// Per pipeline: the artifact key and the us-east-1 replication key, and
	// the alarm keys of its stage's two regions.
	assert.GreaterOrEqual(t, pipelineKeys, 8)
}

// TestLoadBalancerAdmitsOnlyCloudFrontVpcOrigins: the listeners' only
// sources are the security group CloudFront manages for VPC origins in this
// VPC, looked up once the distributions (and their VPC origins) exist; the
// VPC's range is not admitted.
func TestLoadBalancerAdmitsOnlyCloudFrontVpcOrigins(t *testing.T) {
	for _, s := range []*synthesized{defaults, privateSwarm} {
		sgID, sg := s.withPrefix(t, "AWS::EC2::SecurityGroup", "LoadBalancerSecurityGroup")
		assert.Empty(t, sg.Properties["SecurityGroupIngress"], "no inline rule")

		lookups := s.exactly(t, 1, "Custom::AWS")
		var lookupID string
		for id, lookup := range lookups {
			lookupID = id
			create := fmt.Sprint(path(lookup.Properties, "Create"))
			assert.Contains(t, create, `"action":"DescribeSecurityGroups"`)
			assert.Contains(t, create, `{"Name":"group-name","Values":["`+loadbalancer.VpcOriginSecurityGroupName+`"]}`)
			assert.Contains(t, create, `{"Name":"vpc-id","Values":["`)
			parts := list(path(lookup.Properties, "Create", "Fn::Join", 1))
			require.Len(t, parts, 3)
			assert.Equal(t, ref(subnetVpc(t, s)), ref(parts[1]), "the VPC of this cluster")
			for _, resourceType := range []string{"AWS::CloudFront::Distribution", "AWS::CloudFront::VpcOrigin"} {
				found := s.ofType(resourceType)
				require.NotEmpty(t, found)
				for id := range found {
					assert.Contains(t, lookup.DependsOn, id, "the group exists once %s does", id)
				}
			}
		}

		ports := map[string]bool{}
		for id, rule := range s.ofType("AWS::EC2::SecurityGroupIngress") {
			if path(rule.Properties, "GroupId", "Fn::GetAtt", 0) != sgID {
				continue
			}
			ports[fmt.Sprintf("%v-%v", rule.Properties["FromPort"], rule.Properties["ToPort"])] = true
			assert.Equal(t, []any{lookupID, "SecurityGroups.0.GroupId"}, path(rule.Properties, "SourceSecurityGroupId", "Fn::GetAtt"), "%s admits CloudFront's group only", id)
			assert.Nil(t, rule.Properties["CidrIp"], id)
		}
		// One rule over the listeners' ports, lowest to highest (the load
		// balancer answers on its listeners only).
		assert.Equal(t, map[string]bool{fmt.Sprintf("%d-%d", nodespec.GatewayPort, nodespec.PinningServicePort): true}, ports)
	}
}

// subnetVpc returns the VpcId of the cluster's subnets (the one VPC).
func subnetVpc(t *testing.T, s *synthesized) any {
	t.Helper()
	vpcs := s.exactly(t, 1, "AWS::EC2::VPC")
	for id := range vpcs {
		return map[string]any{"Ref": id}
	}
	return nil
}

// The kmspolicy statement is what isGrantGuard accepts (the test above
// would pass vacuously if the guard matched nothing).
func TestGrantGuardMatchesControlTowersRule(t *testing.T) {
	pass := map[string]any{
		"Sid": kmspolicy.GrantsSid, "Effect": "Deny", "Principal": "*", "Action": "kms:CreateGrant", "Resource": "*",
		"Condition": map[string]any{"BoolIfExists": map[string]any{"kms:GrantIsForAWSResource": "false", "aws:PrincipalIsAWSService": "false"}},
	}
	assert.True(t, isGrantGuard(pass))
	for name, change := range map[string]func(m map[string]any){
		"allow":         func(m map[string]any) { m["Effect"] = "Allow" },
		"more actions":  func(m map[string]any) { m["Action"] = []any{"kms:CreateGrant", "kms:ListGrants"} },
		"one principal": func(m map[string]any) { m["Principal"] = map[string]any{"AWS": "arn:aws:iam::111111111111:root"} },
		"one condition": func(m map[string]any) {
			m["Condition"] = map[string]any{"BoolIfExists": map[string]any{"kms:GrantIsForAWSResource": "false"}}
		},
		"bool operator": func(m map[string]any) {
			m["Condition"] = map[string]any{"Bool": pass["Condition"].(map[string]any)["BoolIfExists"]}
		},
		"other resource": func(m map[string]any) { m["Resource"] = "arn:aws:kms:eu-west-1:111111111111:key/x" },
	} {
		m := map[string]any{}
		for k, v := range pass {
			m[k] = v
		}
		change(m)
		assert.False(t, isGrantGuard(m), name)
	}
}
