// Package jsiiexit ends the jsii kernel process at the end of a CDK app
// without the line jsii-runtime-go sometimes prints then, "Runtime process
// exited abnormally: waitid: no child processes" (no newline, so it runs
// into whatever comes next).
//
// The cause is jsii's own race (jsii-runtime-go v1.119.0,
// internal/kernel/process): once the kernel has started, a goroutine of
// jsii's waits for the Node.js process (exec.Cmd.Wait) and prints any error
// its Wait returns; jsii.Close sends the kernel its exit request and then
// waits for the same exec.Cmd. Two Waits on one process: both block in
// waitid on its pidfd, the kernel hands the exit status to one of them and
// ECHILD to the other. When Close's Wait wins, the goroutine's gets ECHILD
// and prints it, an instant before or after the app exits, which is why
// the line comes only sometimes. Not calling jsii.Close avoids the second
// Wait but leaves the kernel's extracted runtime (2.3 MB under $TMPDIR) behind
// on every synth; a child that exits on its own before Close would need
// the kernel's stdin, which jsii keeps to itself.
package jsiiexit

import (
	"os"

	"regexp"

	"github.com/aws/jsii-runtime-go"
)

// raceLine is what the losing Wait makes jsii print: "waitid" when both
// were waiting, "wait" when the goroutine's began after Close's had
// finished. Any other abnormal exit (an exit status, a signal) is kept.
var raceLine = regexp.MustCompile(`Runtime process exited abnormally: waitid?: no child processes\n?`)

// Close ends the jsii kernel (jsii.Close) with everything it writes to
// stderr meanwhile passed on except the race line, which may also come
// after Close returns: from then on the process's stderr (file descriptor
// 2) is discarded. Call it last, after the app's own output.
func Close() { quietly(jsii.Close) }

// Stderr is where a program that goes on after Close writes its own
// messages: a copy of the standard error it had, which Close leaves open
// (Close points descriptor 2 itself at /dev/null for good, because jsii may
// still print its line there). Call it before Close.
func Stderr() *os.File { return keepStderr() }
