// Package backupspec holds the rules of the backup settings without the CDK,
// so the configuration validates with them before jsii starts.
package backupspec

import (
	"fmt"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/internal/names"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/internal/partition"
)

// DefaultRetentionDays keeps a daily recovery point for five weeks: what
// EFS's own automatic backups kept, which this plan replaces.
const DefaultRetentionDays = 35

// MaxRetentionDays is AWS Backup's limit for a rule's DeleteAfter (100 years).
const MaxRetentionDays = 36500

// CopyVaultName is the vault a copy region receives the recovery points in,
// named by convention so the cluster stack can build its ARN without a
// cross-region reference. Vault names have 2 to 50 characters of
// [A-Za-z0-9-_]; a stack name is longer or shorter, so a long one is cut
// and made unique with a digest of the whole.
func CopyVaultName(stackName string) string { return names.Fit(stackName, "-copy", 50) }

// ValidateRetentionDays checks a rule's retention.
func ValidateRetentionDays(days int) error {
	if days < 1 || days > MaxRetentionDays {
		return fmt.Errorf("%d is out of range; allowed: 1 to %d days", days, MaxRetentionDays)
	}
	return nil
}

// ValidateCopyRegion checks the region recovery points are copied to: empty
// (no copy) or another region than the cluster's.
func ValidateCopyRegion(copyRegion, region string) error {
	if copyRegion == "" {
		return nil
	}
	if err := partition.ValidateRegion(copyRegion); err != nil {
		return fmt.Errorf("%w; or empty (no copy)", err)
	}
	if copyRegion == region {
		return fmt.Errorf("%q is the cluster's own region; allowed: empty or another region (a copy in the same region survives nothing the original does not)", copyRegion)
	}
	return nil
}
