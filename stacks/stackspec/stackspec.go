// Package stackspec says how the cluster's nodes are spread over
// CloudFormation stacks and how many nodes that allows. It has no CDK
// dependency, so the configuration bounds nodeCount with the same numbers
// the stacks are built from, and the tests check them against synthesized
// templates.
package stackspec

import "github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/node/nodespec"

// CloudFormation's quotas per template (nested templates included).
const (
	MaxResources  = 500
	MaxOutputs    = 200
	MaxParameters = 200
	// MaxTemplateBytes is CloudFormation's "1 MB" read as cfn-lint's
	// E1002 reads it (1,000,000 bytes), the stricter of the two readings.
	MaxTemplateBytes = 1_000_000
)

// ClusterStackNodes is how many nodes live in the cluster stack itself;
// node i >= ClusterStackNodes gets a nested stack of its own, with its
// alarms beside it.
//
// 12 is the largest nodeCount any earlier version could deploy (everything
// in one stack: 13 nodes made 513 resources), so updating a deployed
// cluster never moves a node: its file system, access points and mount
// target keep their logical IDs, and the fixed-name resources (Cloud Map
// names, alarm names) are never created twice. Nodes never move later
// either, whatever nodeCount or the features become: a node's stack depends
// on its index only.
const ClusterStackNodes = 12

// Resource budgets with every optional feature on (the heaviest legal
// configuration; test/limits_test.go synthesizes it at MaxNodes and checks
// that the measured counts stay within these).
const (
	// FixedResources is what the cluster stack holds besides its nodes.
	FixedResources = 118
	// NodeResources is one node with its alarms, metric filters and
	// maintenance task definition.
	NodeResources = 30
	// NestedNodeResources is what a node in a nested stack costs the cluster
	// stack: the AWS::CloudFormation::Stack resource.
	NestedNodeResources = 1
	// SecondRegionResources is what a second region adds to the cluster
	// stack's fixed resources: the peering connection and its routes, the
	// gateway's failover VPC origin, CDK's reader and writer of the
	// cross-region references (9 measured) and the standby REST API
	// distribution (its distribution, headers policy and two VPC origins:
	// 4). The cross-region pinset check has a stack of its own beside it.
	// With it the cluster stack holds fewer nested node stacks:
	// MaxNodesWithSecondRegion.
	SecondRegionResources = 13
	// SecondRegionFixedResources is what the second region's cluster stack
	// holds besides its nodes, which it places as the cluster stack does
	// (ClusterStackNodes, NodeResources, NestedNodeResources) by their
	// index within the region.
	SecondRegionFixedResources = 60
)

// MaxWebsiteNamesLength bounds websiteDomains joined with commas: kubo
// needs the list in its environment, so each task definition of the
// cluster stack repeats it and it decides, with the names that recur per
// node (stack name, Cloud Map namespace, gateway domains), whether the
// cluster stack stays within MaxTemplateBytes. test/limits_test.go
// synthesizes every one of them at its longest.
const MaxWebsiteNamesLength = 1000

// MaxCloudMapNamespaceLength bounds cloudMapNamespace below DNS's 253: every
// task definition of the cluster stack lists every peer's address
// (node<i>.<namespace>), so at MaxNodes the namespace recurs 30 times in
// each of ClusterStackNodes task definitions; 64 characters keep the
// cluster stack within MaxTemplateBytes with every other name at its
// longest (test/limits_test.go).
const MaxCloudMapNamespaceLength = 64

// MaxNodes is the largest nodeCount: the peer mesh's bound
// (nodespec.MaxPeers), or fewer if the cluster stack could not hold the
// nested stacks of more nodes within MaxResources.
func MaxNodes() int {
	fits := ClusterStackNodes + (MaxResources-FixedResources-ClusterStackNodes*NodeResources)/NestedNodeResources
	return min(fits, nodespec.MaxPeers)
}

// MaxNodesWithSecondRegion is the largest nodeCount beside a second region:
// the cluster stack then holds SecondRegionResources more, and so fewer
// nested node stacks. The second region's cluster stack, whose fixed part
// is smaller, holds as many nodes as nodespec.MaxPeers allows.
func MaxNodesWithSecondRegion() int {
	fits := ClusterStackNodes + (MaxResources-FixedResources-SecondRegionResources-ClusterStackNodes*NodeResources)/NestedNodeResources
	return min(fits, nodespec.MaxPeers)
}

// InClusterStack reports whether node index lives in the cluster stack
// itself rather than in a nested stack of its own.
func InClusterStack(index int) bool { return index < ClusterStackNodes }
