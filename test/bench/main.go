// Command bench measures what the CDK side of this project costs: it builds
// the app and an empty Go CDK app, synthesizes each several times in the same
// run (fresh processes, as `cdk synth` runs them) and prints the median times
// and their ratio, then the wall time of the Go test suites.
//
//	go run ./test/bench            # synth ratio + CDK test suite
//	go run ./test/bench -v         # also where one synth of each app spends its time
//	go run ./test/bench -all       # also the whole `go test ./...`
//
// Each app runs once before the timed runs: that run fills the kernel's code
// cache (internal/jsiienv) as the first synth on a machine does, and its
// time is printed as the cold figure.
//
// Targets (issue 2): full/empty synth <= 1.5; CDK test suite <= 3 x one full synth.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"time"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/config"
)

func main() {
	runs := flag.Int("runs", 3, "synth runs per app (median is reported)")
	all := flag.Bool("all", false, "also time the whole `go test ./...`, scenario tests included")
	verbose := flag.Bool("v", false, "also print the phases of one synth of each app (kernel start, assemblies, constructs, synth)")
	flag.Parse()
	if err := run(*runs, *all, *verbose); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(runs int, all, verbose bool) error {
	work, err := os.MkdirTemp("", "synth-bench-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(work) }()
	fullBin, emptyBin := filepath.Join(work, "app"), filepath.Join(work, "emptyapp")
	for bin, pkg := range map[string]string{fullBin: ".", emptyBin: "./test/bench/emptyapp"} {
		if out, err := exec.Command("go", "build", "-o", bin, pkg).CombinedOutput(); err != nil {
			return fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
		}
	}
	ctx, err := config.LoadCdkJSONContext("cdk.json")
	if err != nil {
		return err
	}
	contextJSON, err := json.Marshal(ctx)
	if err != nil {
		return err
	}

	synth := func(bin string, i int) (time.Duration, error) {
		cmd := exec.Command(bin)
		cmd.Env = append(contextEnv(contextJSON),
			"CDK_OUTDIR="+filepath.Join(work, fmt.Sprintf("%s.out.%d", filepath.Base(bin), i)))
		start := time.Now()
		out, err := cmd.CombinedOutput()
		if err != nil {
			return 0, fmt.Errorf("%s: %v\n%s", bin, err, out)
		}
		return time.Since(start), nil
	}
	coldEmpty, err := synth(emptyBin, -1)
	if err != nil {
		return err
	}
	coldFull, err := synth(fullBin, -1)
	if err != nil {
		return err
	}
	var full, empty []time.Duration
	for i := 0; i < runs; i++ {
		// Interleaved, so drift on a shared machine hits both alike.
		d, err := synth(emptyBin, i)
		if err != nil {
			return err
		}
		empty = append(empty, d)
		if d, err = synth(fullBin, i); err != nil {
			return err
		}
		full = append(full, d)
	}
	fullMedian, emptyMedian := median(full), median(empty)
	fmt.Printf("synth, empty Go CDK app:  %6.2fs (median of %d: %v)\n", emptyMedian.Seconds(), runs, rounded(empty))
	fmt.Printf("synth, full app:          %6.2fs (median of %d: %v)\n", fullMedian.Seconds(), runs, rounded(full))
	fmt.Printf("synth ratio full/empty:   %6.2f  (target <= 1.5)\n", fullMedian.Seconds()/emptyMedian.Seconds())
	fmt.Printf("first runs (cold caches only if this machine never ran them): empty %.2fs, full %.2fs\n", coldEmpty.Seconds(), coldFull.Seconds())
	if verbose {
		fmt.Println("one synth of each, kernel requests traced (slower than the timed runs):")
		for _, bin := range []string{emptyBin, fullBin} {
			events, err := tracedSynth(work, bin, contextEnv(contextJSON))
			if err != nil {
				return err
			}
			printPhases(filepath.Base(bin), events)
		}
	}

	cdkSuite := []string{"test", "-count=1", "./app/...", "./config/...", "./constructs/...", "./stacks/...", "./test/"}
	d, err := timeGoTest(cdkSuite)
	if err != nil {
		return err
	}
	fmt.Printf("go %v: %6.2fs = %.2f x one full synth (target <= 3)\n", cdkSuite, d.Seconds(), d.Seconds()/fullMedian.Seconds())
	if all {
		d, err := timeGoTest([]string{"test", "-count=1", "./..."})
		if err != nil {
			return err
		}
		fmt.Printf("go test -count=1 ./... (everything, scenario tests with real daemons included): %6.2fs\n", d.Seconds())
	}
	return nil
}

func timeGoTest(args []string) (time.Duration, error) {
	// Compile first so the figure is the suite's run time, not the compiler's.
	compileOnly := append([]string{"test", "-count=1", "-run", "^$"}, args[2:]...)
	if out, err := exec.Command("go", compileOnly...).CombinedOutput(); err != nil {
		return 0, fmt.Errorf("go %v: %v\n%s", compileOnly, err, out)
	}
	start := time.Now()
	cmd := exec.Command("go", args...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return 0, fmt.Errorf("go %v: %v\n%s", args, err, out)
	}
	return time.Since(start), nil
}

func median(ds []time.Duration) time.Duration {
	sorted := append([]time.Duration(nil), ds...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	return sorted[len(sorted)/2]
}

func rounded(ds []time.Duration) []string {
	var out []string
	for _, d := range ds {
		out = append(out, fmt.Sprintf("%.2fs", d.Seconds()))
	}
	return out
}
