package test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// deployedDefaultData are the data-bearing resources of a default cluster
// (cdk.json as shipped) as the first deployable version synthesized them
// (main at 64f06c8, before nested stacks): their stack and logical IDs.
// CloudFormation replaces a resource whose logical ID or stack changes, so
// an update that changes one of these creates an empty file system, access
// point or mount target, a new seed (new peer identities) or a new vault.
// This list is literal on purpose: never regenerate it from the code.
var deployedDefaultData = map[string]string{
	"Node0FileSystem6A720998":                              "AWS::EFS::FileSystem",
	"Node1FileSystemE16D1189":                              "AWS::EFS::FileSystem",
	"Node2FileSystemFD87777A":                              "AWS::EFS::FileSystem",
	"Node0FileSystemKuboRepo52817BB1":                      "AWS::EFS::AccessPoint",
	"Node0FileSystemClusterState2C50522D":                  "AWS::EFS::AccessPoint",
	"Node1FileSystemKuboRepo1ABDDA5D":                      "AWS::EFS::AccessPoint",
	"Node1FileSystemClusterState137438CC":                  "AWS::EFS::AccessPoint",
	"Node2FileSystemKuboRepo97D0EEC9":                      "AWS::EFS::AccessPoint",
	"Node2FileSystemClusterStateCB234B44":                  "AWS::EFS::AccessPoint",
	"Node0FileSystemEfsMountTargetisolatedSubnet130966644": "AWS::EFS::MountTarget",
	"Node1FileSystemEfsMountTargetisolatedSubnet236DF07AB": "AWS::EFS::MountTarget",
	"Node2FileSystemEfsMountTargetisolatedSubnet380DB9AB7": "AWS::EFS::MountTarget",
	"SecretsIdentitySeed41A51230":                          "AWS::SecretsManager::Secret",
	"SecretsRestApiCredentialsD4418A16":                    "AWS::SecretsManager::Secret",
	"BackupVaultADF21B19":                                  "AWS::Backup::BackupVault",
}

// deployedDefaultNames are resources with fixed names in a default cluster:
// moved to another logical ID, the new one's creation would collide with
// the old one ("already exists") before the old one is deleted.
var deployedDefaultNames = map[string]string{
	"Node0ServiceCloudmapServiceC232ED02": "AWS::ServiceDiscovery::Service",
	"Node1ServiceCloudmapService23E86D42": "AWS::ServiceDiscovery::Service",
	"Node2ServiceCloudmapService2EA38E8D": "AWS::ServiceDiscovery::Service",
	// Added with the Pinning Service API (issue 17): generated at its
	// creation, named after the credentials secret.
	"SecretsPsaTokenKeyC16687AC": "AWS::SecretsManager::Secret",
}

func TestDefaultDataKeepsItsStackAndLogicalIDs(t *testing.T) {
	require.Equal(t, "IpfsCluster", *defaults.stack.StackName(), "the stack a deployed default cluster updates")
	for _, pinned := range []map[string]string{deployedDefaultData, deployedDefaultNames} {
		for id, resourceType := range pinned {
			r, ok := defaults.resources[id]
			if assert.True(t, ok, "%s %s is gone from the cluster stack: CloudFormation would delete it and create another", resourceType, id) {
				assert.Equal(t, resourceType, r.Type, id)
			}
		}
	}
	// And nothing of these types besides them: a new one would be an empty
	// one created beside the data.
	for _, resourceType := range []string{"AWS::EFS::FileSystem", "AWS::EFS::AccessPoint", "AWS::EFS::MountTarget", "AWS::SecretsManager::Secret", "AWS::Backup::BackupVault", "AWS::ServiceDiscovery::Service"} {
		for id := range defaults.ofType(resourceType) {
			_, data := deployedDefaultData[id]
			_, named := deployedDefaultNames[id]
			assert.True(t, data || named, "new %s %s in the default cluster stack", resourceType, id)
		}
	}
	assert.Empty(t, defaults.nested, "a default cluster has no nested stacks")
}
