package localcluster

import (
	"os"
	"testing"
	"time"
)

func TestLastAddedIsTheRoot(t *testing.T) {
	out := "added QmLeaf a/b.bin\nadded QmDir a\n"
	if got := lastAdded(out); got != "QmDir" {
		t.Fatalf("lastAdded = %q, want the last line's CID", got)
	}
	if got := lastAdded("error: no space\n"); got != "" {
		t.Fatalf("lastAdded of an error = %q, want none", got)
	}
}

func TestCPUOfCountsThisProcess(t *testing.T) {
	before, ok := cpuOf(os.Getpid())
	if !ok {
		t.Fatal("no CPU time for this process")
	}
	deadline := time.Now().Add(300 * time.Millisecond)
	x := 0
	for time.Now().Before(deadline) {
		x++
	}
	after, _ := cpuOf(os.Getpid())
	if d := after - before; d < 100*time.Millisecond || d > 2*time.Second {
		t.Fatalf("300 ms of busy loop counted as %s CPU (x=%d)", d, x)
	}
	if _, ok := cpuOf(-1); ok {
		t.Fatal("cpuOf of no process reported a figure")
	}
}
