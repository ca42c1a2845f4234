// Package proc starts and stops the local cluster's daemons: each a process
// group leader, recorded in a pidfile so that another invocation of the CLI
// can find, stop or kill it, and never mistaken for a later process that
// reuses its pid.
package proc

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Proc is one started process (kubo daemon or cluster entrypoint), leader of
// its own process group, recorded in a pidfile so that another invocation of
// the CLI can stop it. A nil *Proc is a process that is not running.
type Proc struct {
	name    string
	pidfile string
	pid     int
	start   string        // /proc/<pid>/stat start time: guards against pid reuse
	done    chan struct{} // closed when our own child has been reaped (nil if not ours)
	err     error         // exit status, once done is closed
}

// spawner starts children from one goroutine locked to its OS thread for
// the life of the program: Pdeathsig fires when the thread that forked the
// child exits, and a locked thread that never returns never exits.
type spawnReq struct {
	cmd *exec.Cmd
	res chan error
}

var spawnc = make(chan spawnReq)

func init() {
	go func() {
		runtime.LockOSThread()
		for r := range spawnc {
			r.res <- r.cmd.Start()
		}
	}()
}

// Start starts cmd in its own process group. Attached processes die
// with this program (SIGKILL via Pdeathsig); detached ones get their own
// session and outlive it.
func Start(name, pidfile string, cmd *exec.Cmd, detached bool) (*Proc, error) {
	if detached {
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	} else {
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	}
	res := make(chan error, 1)
	spawnc <- spawnReq{cmd, res}
	if err := <-res; err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &Proc{name: name, pidfile: pidfile, pid: cmd.Process.Pid, done: make(chan struct{})}
	p.start = procStartTime(p.pid)
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	if err := os.WriteFile(pidfile, []byte(fmt.Sprintf("%d %s\n", p.pid, p.start)), 0o644); err != nil {
		p.Signal(syscall.SIGKILL)
		return nil, err
	}
	return p, nil
}

// Load reads a pidfile written by Start (possibly by another
// process). It returns nil if there is none or the process is gone.
func Load(name, pidfile string) *Proc {
	b, err := os.ReadFile(pidfile)
	if err != nil {
		return nil
	}
	f := strings.Fields(string(b))
	if len(f) < 1 {
		return nil
	}
	pid, err := strconv.Atoi(f[0])
	if err != nil || pid <= 1 {
		return nil
	}
	p := &Proc{name: name, pidfile: pidfile, pid: pid}
	if len(f) > 1 {
		p.start = f[1]
	}
	if !p.Alive() {
		_ = os.Remove(pidfile)
		return nil
	}
	return p
}

// procStatField returns field n (1-based, as in proc(5)) of
// /proc/<pid>/stat, or "" when the process or the field does not exist.
func procStatField(pid, n int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	// Fields 1 and 2 are "pid (comm)"; comm may contain spaces and ')'.
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 {
		s = s[i+1:]
	}
	f := strings.Fields(s)
	if n < 3 || n-3 >= len(f) {
		return ""
	}
	return f[n-3]
}

func procStartTime(pid int) string { return procStatField(pid, 22) }

func procState(pid int) string { return procStatField(pid, 3) }

// Pid is the process id (0 when p is nil).
func (p *Proc) Pid() int {
	if p == nil {
		return 0
	}
	return p.pid
}

// Alive reports whether the process still runs (and is the one we started).
func (p *Proc) Alive() bool {
	if p == nil {
		return false
	}
	if p.done != nil {
		select {
		case <-p.done:
			return false
		default:
			return true
		}
	}
	if err := syscall.Kill(p.pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	if st := procState(p.pid); st == "Z" || st == "" {
		return false
	}
	return p.start == "" || procStartTime(p.pid) == p.start
}

// Signal sends sig to the whole process group (the entrypoint's children
// included), falling back to the process itself.
func (p *Proc) Signal(sig syscall.Signal) {
	if !p.Alive() {
		return
	}
	if err := syscall.Kill(-p.pid, sig); err != nil {
		_ = syscall.Kill(p.pid, sig)
	}
}

// wait blocks until the process is gone or ctx ends.
func (p *Proc) wait(ctx context.Context) error {
	if p.done != nil {
		select {
		case <-p.done:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for p.Alive() {
		select {
		case <-t.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// Stop sends SIGTERM and, after grace, SIGKILL; it returns once the process
// is gone and its pidfile removed, reporting whether SIGKILL was needed.
func (p *Proc) Stop(grace time.Duration) (killed bool, err error) {
	if p == nil {
		return false, nil
	}
	defer func() { _ = os.Remove(p.pidfile) }()
	p.Signal(syscall.SIGTERM)
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	err = p.wait(ctx)
	cancel()
	if err == nil {
		p.killGroupLeftovers()
		return false, nil
	}
	p.Signal(syscall.SIGKILL)
	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.wait(ctx); err != nil {
		return true, fmt.Errorf("%s (pid %d) survived SIGKILL", p.name, p.pid)
	}
	p.killGroupLeftovers()
	return true, nil
}

// Kill sends SIGKILL to the group and waits until the process is gone.
func (p *Proc) Kill() error {
	if p == nil {
		return nil
	}
	defer func() { _ = os.Remove(p.pidfile) }()
	p.Signal(syscall.SIGKILL)
	_ = syscall.Kill(-p.pid, syscall.SIGKILL)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return p.wait(ctx)
}

// killGroupLeftovers kills what may remain of the process group after its
// leader ended (a background child of a script).
func (p *Proc) killGroupLeftovers() {
	_ = syscall.Kill(-p.pid, syscall.SIGKILL)
}

// Adopt records in pidfile a process started elsewhere (the local edge), so
// that Load finds it later and, like a process of Start, never mistakes a
// later process that reuses its pid for it.
func Adopt(name, pidfile string, pid int) (*Proc, error) {
	p := &Proc{name: name, pidfile: pidfile, pid: pid, start: procStartTime(pid)}
	if p.start == "" {
		return nil, fmt.Errorf("%s (pid %d) is not running", name, pid)
	}
	return p, os.WriteFile(pidfile, []byte(fmt.Sprintf("%d %s\n", p.pid, p.start)), 0o644)
}
