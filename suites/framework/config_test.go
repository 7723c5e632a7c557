package framework

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestPrecedenceDefaultsFileEnvFlags(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "c.yaml")
	os.WriteFile(file, []byte("pattern: 5\nplatform: existing\nkubeconfig: /k\ntimeouts:\n  revocation: 45s\n"), 0o600)
	c := DefaultConfig()
	if err := c.LoadFile(file); err != nil {
		t.Fatal(err)
	}
	if err := c.LoadEnv(env(map[string]string{"APIMCONF_PATTERN": "4", "APIMCONF_TIMEOUT_REVOCATION": "50s", "APIMCONF_TIMEOUT_MULTIPLIER": "2"})); err != nil {
		t.Fatal(err)
	}
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	c.Flags(fs)
	if err := fs.Parse([]string{"--pattern=3", "--timeout", "invoke=7s"}); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(nil); err != nil {
		t.Fatal(err)
	}
	if c.Pattern != 3 {
		t.Errorf("flag should win: pattern %d", c.Pattern)
	}
	if c.Timeouts.Revocation != Duration(50*time.Second) {
		t.Errorf("env should beat file: revocation %s", c.Timeouts.Revocation)
	}
	if c.Timeouts.Invoke != Duration(7*time.Second) || c.Timeouts.Multiplier != 2 {
		t.Errorf("overrides: %+v", c.Timeouts)
	}
	if c.Timeouts.Deploy != DefaultTimeouts().Deploy {
		t.Errorf("real platforms get the real defaults: deploy %s", c.Timeouts.Deploy)
	}
	if got := c.Timeouts.Scaled(c.Timeouts.Invoke); got != 14*time.Second {
		t.Errorf("multiplier not applied: %s", got)
	}
}

func TestSimGetsSimTimeouts(t *testing.T) {
	c := DefaultConfig()
	if err := c.Validate(nil); err != nil {
		t.Fatal(err)
	}
	if c.Timeouts != SimTimeouts() {
		t.Errorf("sim timeouts expected, got %+v", c.Timeouts)
	}
	if c.RunID == "" {
		t.Error("run id not derived")
	}
}

func TestBadInputNamesTheFix(t *testing.T) {
	cases := []struct {
		mutate func(*Config)
		want   string
	}{
		{func(c *Config) { c.Pattern = 9 }, "patterns are 0-6"},
		{func(c *Config) { c.Platform = "k3s" }, "use sim"},
		{func(c *Config) { c.Faults = []string{"nope"} }, "known faults: a, b"},
		{func(c *Config) { c.Platform = PlatformKind; c.Faults = []string{"a"} }, "only be injected into the emulator"},
		{func(c *Config) { c.Admin.Password = "" }, "APIMCONF_ADMIN_PASSWORD"},
		{func(c *Config) { c.Platform = PlatformExisting }, "kubeconfig"},
		{func(c *Config) { c.RunID = "../x" }, "plain directory name"},
		{func(c *Config) {
			c.Endpoints = &Endpoints{Management: "ftp://x", Gateway: "https://g", Backend: "http://b"}
		}, "absolute http(s) URL"},
	}
	for _, tc := range cases {
		c := DefaultConfig()
		tc.mutate(&c)
		err := c.Validate([]string{"a", "b"})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("want error containing %q, got %v", tc.want, err)
		}
	}
}

func TestMalformedInputs(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("pattern: [\n"), 0o600)
	c := DefaultConfig()
	if err := c.LoadFile(bad); err == nil || !strings.Contains(err.Error(), "malformed") {
		t.Errorf("malformed file: %v", err)
	}
	unknown := filepath.Join(dir, "unknown.yaml")
	os.WriteFile(unknown, []byte("patern: 6\n"), 0o600)
	if err := c.LoadFile(unknown); err == nil {
		t.Error("a misspelt key must be an error, not silently ignored")
	}
	if err := c.LoadFile(filepath.Join(dir, "missing.yaml")); err == nil || !strings.Contains(err.Error(), "--config") {
		t.Errorf("missing file: %v", err)
	}
	if err := c.LoadEnv(env(map[string]string{"APIMCONF_TIMEOUT_REVOCATION": "soon"})); err == nil || !strings.Contains(err.Error(), "90s") {
		t.Errorf("bad duration: %v", err)
	}
	var to Timeouts
	if err := to.Set("nosuch=1s"); err == nil || !strings.Contains(err.Error(), "revocation") {
		t.Errorf("unknown timeout should list the names: %v", err)
	}
}
