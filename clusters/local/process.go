package local

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// StepError is returned when a start step fails. It names the step (for
// example "kube-apiserver") and, when there is one, the log file to read.
type StepError struct {
	Step string
	Log  string
	Err  error
}

func (e *StepError) Error() string {
	msg := fmt.Sprintf("local cluster: step %s failed: %v", e.Step, e.Err)
	if e.Log != "" {
		msg += fmt.Sprintf(" (log: %s%s)", e.Log, logTail(e.Log, 8))
	}
	return msg
}

func (e *StepError) Unwrap() error { return e.Err }

// logTail returns the last n lines of a log file, indented, for error messages.
func logTail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil || len(b) == 0 {
		return ""
	}
	if len(b) > 16<<10 {
		b = b[len(b)-16<<10:]
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "; last lines:\n    | " + strings.Join(lines, "\n    | ")
}

// component is one child process of the control plane.
type component struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	pidPath string
	logFile *os.File
	done    chan struct{}
	waitErr error
	mu      sync.Mutex
}

func (c *component) exited() (bool, error) {
	select {
	case <-c.done:
		return true, c.waitErr
	default:
		return false, nil
	}
}

// startComponent starts bin with args, its stdout/stderr going to
// logDir/name.log, in its own process group, killed by the kernel if this
// process dies (Pdeathsig). Its PID goes to pidDir/name.pid so that
// tools/testenv can clean up after a crashed test binary.
func startComponent(name, bin string, args []string, logDir, pidDir, dir string) (*component, error) {
	logPath := filepath.Join(logDir, name+".log")
	if _, err := os.Stat(bin); err != nil {
		return nil, &StepError{Step: name, Err: fmt.Errorf("binary missing: %w (build it with `make testenv-up` or tools/testenv/build-controlplane.sh, or set APIMCONF_CONTROLPLANE_BIN)", err)}
	}
	lf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, &StepError{Step: name, Err: err}
	}
	fmt.Fprintf(lf, "# %s %s\n", bin, strings.Join(args, " "))
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HOME="+dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		lf.Close()
		return nil, &StepError{Step: name, Log: logPath, Err: fmt.Errorf("start %s: %w", bin, err)}
	}
	c := &component{name: name, cmd: cmd, logPath: logPath, logFile: lf, done: make(chan struct{})}
	c.pidPath = filepath.Join(pidDir, name+".pid")
	_ = os.WriteFile(c.pidPath, []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644)
	go func() {
		c.waitErr = cmd.Wait()
		lf.Close()
		close(c.done)
	}()
	return c, nil
}

// stop sends SIGTERM to the component's process group, waits up to grace,
// then SIGKILLs it. It is safe to call more than once.
func (c *component) stop(grace time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	pid := c.cmd.Process.Pid
	if done, _ := c.exited(); !done {
		_ = syscall.Kill(-pid, syscall.SIGTERM)
		select {
		case <-c.done:
		case <-time.After(grace):
			_ = syscall.Kill(-pid, syscall.SIGKILL)
			<-c.done
		}
	}
	// Leftover children in the group (none expected) go too.
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	_ = os.Remove(c.pidPath)
}

// waitFor polls check every interval until it returns nil, ctx ends, the
// timeout passes or the component exits; bounded, no bare sleeps.
func waitFor(ctx context.Context, c *component, timeout time.Duration, check func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		if c != nil {
			if done, err := c.exited(); done {
				return fmt.Errorf("process exited before it was ready: %v", err)
			}
		}
		cctx, ccancel := context.WithTimeout(ctx, 2*time.Second)
		last = check(cctx)
		ccancel()
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("not ready after %s: %v", timeout, last)
			}
			return fmt.Errorf("%w (last check: %v)", ctx.Err(), last)
		case <-tick.C:
		}
	}
}

// freePort returns a free TCP port on 127.0.0.1. When want is non-zero it
// checks that this port is free instead and returns a clear error if not.
func freePort(step string, want int) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(want)))
	if err != nil {
		if want != 0 {
			return 0, &StepError{Step: step, Err: fmt.Errorf("port 127.0.0.1:%d is in use: %w", want, err)}
		}
		return 0, &StepError{Step: step, Err: fmt.Errorf("no free loopback port: %w", err)}
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port, nil
}
