package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/apim-conformance/apim-conformance/reports/junit"
)

// TestDemoEndToEnd builds and runs the real pattern-6 Ginkgo suite against
// the emulator, as `make demo` does, and reads the JUnit it leaves.
func TestDemoEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the suite binary")
	}
	reports := t.TempDir()
	cases := []struct {
		fault       string
		wantCode    int
		wantFailing []string
	}{
		{"", 0, nil},
		{"gateway-ignores-revocation", 1, []string{"revocation.gateway"}},
	}
	for _, tc := range cases {
		t.Run("fault="+tc.fault, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
			defer cancel()
			args := []string{"demo", "--report-dir", reports, "--run-id", "e2e-" + strings.ReplaceAll(tc.fault, "-", "")}
			if tc.fault != "" {
				args = append(args, "--fault", tc.fault)
			}
			var out, errb bytes.Buffer
			code := runWithContext(ctx, args, &out, &errb)
			if code != tc.wantCode {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.wantCode, tail(out.String(), 3000), tail(errb.String(), 3000))
			}
			latest, err := os.Readlink(filepath.Join(reports, "latest"))
			if err != nil || !strings.HasPrefix(latest, "e2e-") {
				t.Fatalf("reports/out/latest should point at the run: %q %v", latest, err)
			}
			s, err := junit.Read(filepath.Join(reports, "latest", "junit.xml"))
			if err != nil {
				t.Fatal(err)
			}
			if s.Tests < 12 {
				t.Errorf("only %d testcases", s.Tests)
			}
			var failing []string
			for _, c := range s.Cases {
				if c.Status == junit.Failed || c.Status == junit.Errored {
					failing = append(failing, c.CheckID)
				}
				if !strings.HasPrefix(c.Name, "[pattern-6] "+c.CheckID+": ") {
					t.Errorf("unstable testcase name %q", c.Name)
				}
			}
			sort.Strings(failing)
			if strings.Join(failing, ",") != strings.Join(tc.wantFailing, ",") {
				t.Errorf("failing %v, want %v", failing, tc.wantFailing)
			}
			if !strings.Contains(out.String(), "pattern 6 on sim") {
				t.Errorf("no human summary:\n%s", tail(out.String(), 2000))
			}
		})
	}
}

func TestBadInputFailsBeforeBuilding(t *testing.T) {
	for _, args := range [][]string{
		{"demo", "--fault", "nope"},
		{"demo", "--pattern", "9"},
		{"demo", "--platform", "kind"},
		{"run", "--platform", "k3s"},
		{"run", "--config", "/does/not/exist.yaml"},
		{"nosuchcommand"},
	} {
		var out, errb bytes.Buffer
		start := time.Now()
		if code := run(args, &out, &errb); code != 2 {
			t.Errorf("%v: exit %d, want 2 (%s)", args, code, errb.String())
		}
		if errb.Len() == 0 {
			t.Errorf("%v: no message", args)
		}
		if time.Since(start) > 5*time.Second {
			t.Errorf("%v: bad input took %s; it must fail before building", args, time.Since(start))
		}
	}
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}
