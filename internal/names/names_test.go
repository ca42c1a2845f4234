package names

import (
	"strings"
	"testing"
)

func TestFit(t *testing.T) {
	if got := Fit("IpfsCluster", "-copy", 50); got != "IpfsCluster-copy" {
		t.Errorf("short names stay whole: %q", got)
	}
	long := strings.Repeat("a", 128)
	got := Fit(long, "-edge-monitoring", 128)
	if len(got) != 128 || !strings.HasSuffix(got, "-edge-monitoring") {
		t.Errorf("Fit = %q (%d)", got, len(got))
	}
	if Fit(long, "-x", 50) == Fit(long[:100], "-x", 50) {
		t.Error("two long bases with one prefix must differ")
	}
}
