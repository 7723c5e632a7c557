package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/apim-conformance/apim-conformance/reports/junit"
	"github.com/apim-conformance/apim-conformance/suites/framework"
	"github.com/apim-conformance/apim-conformance/suites/platform"
)

func init() {
	register(command{Name: "run", Summary: "run a pattern's suite (--platform sim|kind|existing) and write reports", Run: runCmd})
	register(command{Name: "demo", Summary: "run a pattern against the built-in emulator in seconds; --fault breaks one thing", Run: demoCmd})
}

// runOptions are the flags of run and demo.
type runOptions struct {
	cfg         framework.Config
	configFile  string
	labelFilter string
	verbose     bool
}

func runFlags(name string, o *runOptions, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	o.cfg.Flags(fs)
	fs.StringVar(&o.configFile, "config", "", "YAML config file (see README); flags win over it")
	fs.StringVar(&o.labelFilter, "label-filter", "", `Ginkgo label filter, e.g. "smoke" or "revocation || gateway"`)
	fs.BoolVar(&o.verbose, "v", false, "stream every check's progress output")
	return fs
}

func runCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o := &runOptions{cfg: framework.DefaultConfig()}
	fs := runFlags("run", o, stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, `Usage: apimconf run --pattern N --platform sim|kind|existing [flags]

Runs pattern N's Ginkgo suite and writes reports/out/<run-id>/junit.xml
(reports/out/latest points at the newest run). Exit status 0 means every
applicable check passed.

Examples:
  apimconf run --pattern 6 --platform kind            # what make test-pattern-6 runs
  apimconf run --pattern 6 --platform existing --kubeconfig ~/.kube/config
  apimconf run --pattern 6 --platform sim --fault jwks-wrong-key

Flags:`)
		fs.PrintDefaults()
	}
	return execute(ctx, o, fs, args, stdout, stderr)
}

func demoCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o := &runOptions{cfg: framework.DefaultConfig()}
	fs := runFlags("demo", o, stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, `Usage: apimconf demo [--pattern 6] [--fault NAME]

Runs the pattern's checks against tools/apimsim, an emulator of APIM and
WSO2 IS 7 that validates every request against WSO2's published REST
contracts. Needs only Go; takes seconds. With --fault the emulator breaks one
behaviour and the checks that depend on it fail (go run ./tools/apimsim
--list-faults lists them).

Flags:`)
		fs.PrintDefaults()
	}
	for _, a := range args {
		if a == "--platform" || strings.HasPrefix(a, "--platform=") || a == "-platform" || strings.HasPrefix(a, "-platform=") {
			fmt.Fprintln(stderr, "apimconf demo always uses the emulator; use apimconf run --platform kind for a real cluster")
			return 2
		}
	}
	return execute(ctx, o, fs, args, stdout, stderr)
}

func execute(ctx context.Context, o *runOptions, fs *flag.FlagSet, args []string, stdout, stderr io.Writer) int {
	if code, ok := parse(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "apimconf %s: unexpected argument %q (flags start with --)\n", fs.Name(), fs.Arg(0))
		return 2
	}
	// Reject bad input before spending time on a build.
	check := o.cfg
	if o.configFile != "" {
		if err := check.LoadFile(o.configFile); err != nil {
			fmt.Fprintln(stderr, "apimconf:", err)
			return 2
		}
	}
	if err := check.Validate(platform.KnownFaults()); err != nil {
		fmt.Fprintf(stderr, "apimconf %s: %v\n", fs.Name(), err)
		return 2
	}
	root, err := framework.ModuleRoot()
	if err != nil {
		fmt.Fprintln(stderr, "apimconf:", err)
		return 2
	}
	if o.cfg.RunID == "" {
		o.cfg.RunID = framework.NewRunID(o.cfg.Pattern, time.Now())
	}
	if !filepath.IsAbs(o.cfg.ReportDir) {
		o.cfg.ReportDir = filepath.Join(root, o.cfg.ReportDir)
	}
	suiteDir := filepath.Join(root, "suites", fmt.Sprintf("pattern%d", o.cfg.Pattern))
	if _, err := os.Stat(suiteDir); err != nil {
		fmt.Fprintf(stderr, "apimconf: no suite for pattern %d (%s); patterns with suites: %s\n", o.cfg.Pattern, suiteDir, strings.Join(suitePatterns(root), ", "))
		return 2
	}
	bin := filepath.Join(root, "bin", "suites", fmt.Sprintf("pattern%d.test", o.cfg.Pattern))
	fmt.Fprintf(stdout, "building the pattern-%d suite…\n", o.cfg.Pattern)
	build := exec.CommandContext(ctx, "go", "test", "-c", "-o", bin, "./"+filepath.ToSlash(mustRel(root, suiteDir)))
	build.Dir, build.Stdout, build.Stderr = root, stderr, stderr
	if err := build.Run(); err != nil {
		fmt.Fprintf(stderr, "apimconf: building the suite failed: %v\n", err)
		return 2
	}
	sargs := suiteArgs(o, os.Getenv("NO_COLOR") != "" || !isTerminal(stdout))
	fmt.Fprintf(stdout, "running pattern %d on %s (run %s)…\n", o.cfg.Pattern, o.cfg.Platform, o.cfg.RunID)
	cmd := exec.CommandContext(ctx, bin, sargs...)
	cmd.Dir = suiteDir
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.Env = os.Environ()
	if o.configFile != "" {
		abs, _ := filepath.Abs(o.configFile)
		cmd.Env = append(cmd.Env, "APIMCONF_CONFIG="+abs)
	}
	start := time.Now()
	runErr := cmd.Run()
	code := 0
	var exitErr *exec.ExitError
	if errors.As(runErr, &exitErr) {
		code = exitErr.ExitCode()
	} else if runErr != nil {
		fmt.Fprintf(stderr, "apimconf: running the suite: %v\n", runErr)
		return 2
	}
	runDir := filepath.Join(o.cfg.ReportDir, o.cfg.RunID)
	if err := summarize(stdout, o, runDir, time.Since(start)); err != nil {
		fmt.Fprintf(stderr, "apimconf: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// suiteArgs are the test binary's flags: Ginkgo's and the suite's own.
func suiteArgs(o *runOptions, noColor bool) []string {
	c := o.cfg
	a := []string{
		"-ginkgo.timeout=24h", // the suite bounds itself from the timeouts
		"--platform=" + c.Platform, "--run-id=" + c.RunID, "--report-dir=" + c.ReportDir,
	}
	if noColor {
		a = append(a, "-ginkgo.no-color")
	}
	if o.verbose {
		a = append(a, "-ginkgo.v")
	}
	if o.labelFilter != "" {
		a = append(a, "-ginkgo.label-filter="+o.labelFilter)
	}
	for _, f := range c.Faults {
		a = append(a, "--fault="+f)
	}
	for _, t := range c.TimeoutOverrides {
		a = append(a, "--timeout="+t)
	}
	if c.Kubeconfig != "" {
		a = append(a, "--kubeconfig="+c.Kubeconfig)
	}
	if c.Context != "" {
		a = append(a, "--context="+c.Context)
	}
	if c.Reuse {
		a = append(a, "--reuse")
	}
	if c.Keep {
		a = append(a, "--keep")
	}
	if c.ChartsDir != "" {
		a = append(a, "--charts-dir="+c.ChartsDir)
	}
	if c.Disruptive {
		a = append(a, "--disruptive")
	}
	return a
}

// summarize prints one line per check from the run's JUnit.
func summarize(w io.Writer, o *runOptions, runDir string, took time.Duration) error {
	path := filepath.Join(runDir, "junit.xml")
	s, err := junit.Read(path)
	if err != nil {
		return fmt.Errorf("no JUnit report at %s: %v (the suite did not get far enough to write one; see its output above)", path, err)
	}
	faults := "none"
	if len(o.cfg.Faults) > 0 {
		faults = strings.Join(o.cfg.Faults, ",")
	}
	fmt.Fprintf(w, "\npattern %d on %s (faults: %s): %d checks, %d passed, %d failed, %d errors, %d skipped in %s\n",
		o.cfg.Pattern, o.cfg.Platform, faults, s.Tests, s.Tests-s.Failures-s.Errors-s.Skipped, s.Failures, s.Errors, s.Skipped, took.Round(10*time.Millisecond))
	for _, c := range s.Cases {
		mark := map[string]string{junit.Passed: "PASS", junit.Failed: "FAIL", junit.Skipped: "SKIP", junit.Errored: "ERR "}[c.Status]
		line := fmt.Sprintf("  %s  %-30s", mark, c.CheckID)
		if c.Message != "" {
			msg := c.Message
			if len(msg) > 110 {
				msg = msg[:110] + "…"
			}
			line += " " + msg
		}
		fmt.Fprintln(w, line)
	}
	rel := path
	if r, err := filepath.Rel(mustGetwd(), path); err == nil && !strings.HasPrefix(r, "..") {
		rel = r
	}
	fmt.Fprintf(w, "JUnit: %s (also %s)\n", rel, filepath.Join(filepath.Dir(filepath.Dir(rel)), "latest", "junit.xml"))
	return nil
}

func suitePatterns(root string) []string {
	m, _ := filepath.Glob(filepath.Join(root, "suites", "pattern*"))
	var out []string
	for _, p := range m {
		out = append(out, strings.TrimPrefix(filepath.Base(p), "pattern"))
	}
	return out
}

func mustRel(base, target string) string {
	r, err := filepath.Rel(base, target)
	if err != nil {
		return target
	}
	return r
}

func mustGetwd() string {
	wd, err := os.Getwd()
	if err != nil {
		return "."
	}
	return wd
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
