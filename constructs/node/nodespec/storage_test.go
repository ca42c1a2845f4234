package nodespec

import "testing"

func TestStorageMaxBytesReadsSizesAsKubo(t *testing.T) {
	for in, want := range map[string]uint64{
		"100GB": 100e9, "1KB": 1e3, "512MB": 512e6, "2TB": 2e12,
		"10GiB": 10 << 30, "1KiB": 1 << 10, "3MiB": 3 << 20, "1TiB": 1 << 40,
	} {
		got, err := StorageMaxBytes(in)
		if err != nil || got != want {
			t.Errorf("StorageMaxBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "100", "GB", "0GB", "100gb", "1.5GB", "1000000GB", "100 GB", "-1GB"} {
		if _, err := StorageMaxBytes(bad); err == nil {
			t.Errorf("StorageMaxBytes(%q): want an error", bad)
		}
	}
}

func TestClusterMetricsSetting(t *testing.T) {
	s := Settings{PeerCount: 3, Namespace: "ipfs-cluster.internal"}
	_, cluster := s.Environment()
	if cluster["CLUSTER_METRICS_ENABLESTATS"] != "false" {
		t.Errorf("metrics off by default, got %q", cluster["CLUSTER_METRICS_ENABLESTATS"])
	}
	s.ClusterMetrics = true
	_, cluster = s.Environment()
	if cluster["CLUSTER_METRICS_ENABLESTATS"] != "true" || cluster["CLUSTER_METRICS_PROMETHEUSENDPOINT"] != "/ip4/127.0.0.1/tcp/8888" {
		t.Errorf("metrics on the task's loopback: got %q %q", cluster["CLUSTER_METRICS_ENABLESTATS"], cluster["CLUSTER_METRICS_PROMETHEUSENDPOINT"])
	}
	_, local := LocalAddresses("127.0.7.11")
	if local["CLUSTER_METRICS_PROMETHEUSENDPOINT"] != "/ip4/127.0.7.11/tcp/8888" {
		t.Errorf("a local peer's metrics listen on its own address: %q", local["CLUSTER_METRICS_PROMETHEUSENDPOINT"])
	}
}

func TestSyncPinsetWritesSetting(t *testing.T) {
	s := Settings{PeerCount: 3, Namespace: "ipfs-cluster.internal"}
	_, cluster := s.Environment()
	if cluster[PinsetNoSyncVariable] != "true" {
		t.Errorf("pinset writes to the kernel by default: %s=%q", PinsetNoSyncVariable, cluster[PinsetNoSyncVariable])
	}
	s.SyncPinsetWrites = true
	_, cluster = s.Environment()
	if cluster[PinsetNoSyncVariable] != "false" {
		t.Errorf("syncPinsetWrites fsyncs every pinset write: %s=%q", PinsetNoSyncVariable, cluster[PinsetNoSyncVariable])
	}
}
