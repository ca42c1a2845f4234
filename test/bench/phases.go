package main

import (
	"bufio"
	_ "embed"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

//go:embed trace.cjs
var traceLauncher string

// kernelProgram is the jsii kernel program the Go runtime embeds, in the
// module cache.
func kernelProgram() (string, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/aws/jsii-runtime-go").Output()
	if err != nil {
		return "", fmt.Errorf("go list -m github.com/aws/jsii-runtime-go: %w", err)
	}
	program := filepath.Join(strings.TrimSpace(string(out)), "internal", "embedded", "resources", "lib", "program.js")
	if _, err := os.Stat(program); err != nil {
		return "", err
	}
	return program, nil
}

type traceEvent struct {
	at   time.Duration
	dir  string // "spawn", ">", "<" or "exit"
	body string
}

// tracedSynth runs bin once with the kernel started through trace.cjs and
// returns the logged requests and responses.
func tracedSynth(work, bin string, env []string) ([]traceEvent, error) {
	program, err := kernelProgram()
	if err != nil {
		return nil, err
	}
	launcher := filepath.Join(work, "trace.cjs")
	if err := os.WriteFile(launcher, []byte(traceLauncher), 0o644); err != nil {
		return nil, err
	}
	traceFile := filepath.Join(work, filepath.Base(bin)+".trace")
	cmd := exec.Command(bin)
	cmd.Env = append(append([]string{}, env...),
		"JSII_RUNTIME=node "+strconv.Quote(launcher)+" "+strconv.Quote(program),
		"BENCH_TRACE="+traceFile,
		"CDK_OUTDIR="+filepath.Join(work, filepath.Base(bin)+".traced.out"))
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("%s (traced): %v\n%s", bin, err, out)
	}
	f, err := os.Open(traceFile)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	var events []traceEvent
	var start int64
	scanner := bufio.NewScanner(f)
	scanner.Buffer(make([]byte, 1<<20), 1<<20)
	for scanner.Scan() {
		us, rest, _ := strings.Cut(scanner.Text(), " ")
		t, err := strconv.ParseInt(us, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: %q", traceFile, scanner.Text())
		}
		if len(events) == 0 {
			start = t
		}
		dir, body, _ := strings.Cut(rest, " ")
		events = append(events, traceEvent{at: time.Duration(t-start) * time.Microsecond, dir: dir, body: body})
	}
	return events, scanner.Err()
}

var topLevelCreate = regexp.MustCompile(`^\{"api":"create","fqn":"[^"]+","args":\[\{"\$jsii\.byref":"aws-cdk-lib\.Stack@\d+"\},"([^"]+)"`)

// printPhases prints where one synth's time went: the kernel's start, the
// assemblies it loads, building the constructs (by top-level construct,
// with the number of kernel round trips), the synth, the exit, and how much
// of it the kernel waited for the Go side.
func printPhases(name string, events []traceEvent) {
	var hello, appCreated, synthStart, synthEnd, exit time.Duration
	var goSide time.Duration
	type part struct {
		name     string
		time     time.Duration
		requests int
	}
	var parts []*part
	current := &part{name: "(App, stacks)"}
	for i, e := range events {
		switch {
		case e.dir == "<" && hello == 0:
			hello = e.at
		case e.dir == ">" && strings.Contains(e.body, `"fqn":"aws-cdk-lib.App"`) && appCreated == 0:
			appCreated = e.at
		case e.dir == ">" && strings.Contains(e.body, `"method":"synth"`):
			synthStart = e.at
		case e.dir == "<" && synthStart != 0 && synthEnd == 0:
			synthEnd = e.at
		case e.dir == "exit":
			exit = e.at
		}
		if e.dir == ">" && appCreated != 0 && synthStart == 0 {
			if m := topLevelCreate.FindStringSubmatch(e.body); m != nil {
				current = &part{name: m[1]}
				parts = append(parts, current)
			}
			current.requests++
		}
		if i > 0 && e.dir == ">" && events[i-1].dir == "<" {
			goSide += e.at - events[i-1].at
		}
		if i > 0 && appCreated != 0 && synthStart == 0 && events[i-1].at >= appCreated {
			current.time += e.at - events[i-1].at
		}
	}
	ms := func(d time.Duration) string { return fmt.Sprintf("%.0f ms", d.Seconds()*1000) }
	fmt.Printf("  %s: kernel start %s, assemblies %s, constructs %s, synth %s, exit %s; total %s, of which the kernel waited for Go %s\n",
		name, ms(hello), ms(appCreated-hello), ms(synthStart-appCreated), ms(synthEnd-synthStart), ms(exit-synthEnd), ms(exit), ms(goSide))
	sort.SliceStable(parts, func(i, j int) bool { return parts[i].time > parts[j].time })
	for i, p := range parts {
		if i == 10 {
			break
		}
		fmt.Printf("    %-22s %7s  %4d kernel round trips\n", p.name, ms(p.time), p.requests)
	}
}

// contextEnv is the environment `cdk synth` gives the app.
func contextEnv(contextJSON []byte) []string {
	return append(os.Environ(), "CDK_CONTEXT_JSON="+string(contextJSON))
}
