package config

import (
	"strings"
	"testing"
)

func TestOperationsSettings(t *testing.T) {
	c, err := Parse(map[string]any{})
	if err != nil {
		t.Fatal(err)
	}
	if c.BackupRetentionDays != 35 || c.AlarmEmail != "" || c.BackupCopyRegion != "" {
		t.Errorf("defaults: retention %d, e-mail %q, copy region %q", c.BackupRetentionDays, c.AlarmEmail, c.BackupCopyRegion)
	}
	if !c.NodeSettings(0).ClusterMetrics {
		t.Error("every node exports its cluster metrics (the collector scrapes them)")
	}
	c, err = Parse(map[string]any{KeyAlarmEmail: "ops@example.com", KeyBackupRetentionDays: "7", KeyBackupCopyRegion: "eu-central-1"})
	if err != nil || c.AlarmEmail != "ops@example.com" || c.BackupRetentionDays != 7 || c.BackupCopyRegion != "eu-central-1" {
		t.Errorf("parsed %+v, %v", c, err)
	}

	_, err = Parse(map[string]any{KeyAlarmEmail: "not-an-address", KeyBackupRetentionDays: float64(0), KeyBackupCopyRegion: "eu-west-1"})
	if err == nil {
		t.Fatal("want errors")
	}
	for _, key := range []string{KeyAlarmEmail, KeyBackupRetentionDays, KeyBackupCopyRegion} {
		if !strings.Contains(err.Error(), key+": ") {
			t.Errorf("%s is not reported: %v", key, err)
		}
	}
	if !strings.Contains(err.Error(), "cluster's own region") {
		t.Errorf("a copy in the cluster's own region must be refused with its reason: %v", err)
	}
	if _, err := Parse(map[string]any{KeyBackupCopyRegion: "mars-1"}); err == nil || !strings.Contains(err.Error(), KeyBackupCopyRegion) {
		t.Errorf("an unknown region shape must be refused: %v", err)
	}
}
