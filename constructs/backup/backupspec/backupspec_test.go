package backupspec

import (
	"regexp"
	"strings"
	"testing"
)

func TestCopyVaultNameFitsAVaultName(t *testing.T) {
	vaultName := regexp.MustCompile(`^[a-zA-Z0-9-_]{2,50}$`)
	long := "A" + strings.Repeat("b", 127)
	for _, stack := range []string{"a", "IpfsCluster", long, long[:100], strings.Repeat("x", 45)} {
		if name := CopyVaultName(stack); !vaultName.MatchString(name) || !strings.HasSuffix(name, "-copy") {
			t.Errorf("CopyVaultName(%q) = %q", stack, name)
		}
	}
	if CopyVaultName(long) == CopyVaultName(long[:100]) {
		t.Error("two long stack names with one prefix must not share a copy vault")
	}
	if CopyVaultName("IpfsCluster") != "IpfsCluster-copy" {
		t.Errorf("short names stay readable: %q", CopyVaultName("IpfsCluster"))
	}
}

func TestValidateCopyRegionAndRetention(t *testing.T) {
	if ValidateCopyRegion("", "eu-west-1") != nil || ValidateCopyRegion("eu-central-1", "eu-west-1") != nil {
		t.Error("empty and another region are fine")
	}
	for _, bad := range []string{"eu-west-1", "mars", "EU-CENTRAL-1"} {
		if ValidateCopyRegion(bad, "eu-west-1") == nil {
			t.Errorf("%q must be refused", bad)
		}
	}
	for days, ok := range map[int]bool{0: false, 1: true, 35: true, MaxRetentionDays: true, MaxRetentionDays + 1: false, -3: false} {
		if (ValidateRetentionDays(days) == nil) != ok {
			t.Errorf("ValidateRetentionDays(%d): want ok=%v", days, ok)
		}
	}
}
