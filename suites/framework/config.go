package framework

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"time"

	"sigs.k8s.io/yaml"
)

// Platforms the suites can run against.
const (
	PlatformSim      = "sim"      // the built-in emulator (tools/apimsim)
	PlatformKind     = "kind"     // a kind cluster the suite creates or reuses
	PlatformExisting = "existing" // a cluster from a kubeconfig, or endpoints given in the config
)

// Credentials of an administrator.
type Credentials struct {
	Username string `json:"username"`
	Password string `json:"password"` // never written to reports; redacted in logs
}

// Config is one run's configuration. It is read from defaults, then a YAML
// file (--config or APIMCONF_CONFIG), then APIMCONF_* environment variables,
// then flags; later sources win. Validate names the fix for every problem.
type Config struct {
	Pattern  int      `json:"pattern"`
	Platform string   `json:"platform"`
	Faults   []string `json:"faults,omitempty"` // emulator only
	RunID    string   `json:"runID,omitempty"`
	// ReportDir is the root of run directories: <ReportDir>/<RunID>/junit.xml.
	ReportDir string `json:"reportDir"`
	// Timeouts left zero take the platform's defaults (DefaultTimeouts for
	// real clusters, SimTimeouts for the emulator) in Finalize.
	Timeouts Timeouts `json:"timeouts"`
	// TimeoutOverrides are "name=value" assignments from env and flags,
	// applied in order after the defaults and the file.
	TimeoutOverrides []string `json:"-"`

	Admin   Credentials `json:"admin"`   // APIM super admin
	ISAdmin Credentials `json:"isAdmin"` // IS 7 super admin (pattern 6)

	// Existing mode: endpoints of a platform that is already deployed.
	Endpoints  *Endpoints `json:"endpoints,omitempty"`
	CAFile     string     `json:"caFile,omitempty"`
	Kubeconfig string     `json:"kubeconfig,omitempty"`
	Context    string     `json:"context,omitempty"`
	Namespace  string     `json:"namespace,omitempty"`

	// Kind mode.
	Reuse     bool   `json:"reuse,omitempty"`     // REUSE=1: keep and reuse the cluster between runs
	Keep      bool   `json:"keep,omitempty"`      // KEEP=1: keep the cluster when the run fails
	ChartsDir string `json:"chartsDir,omitempty"` // a local helm-apim checkout instead of the Helm repo

	// Disruptive enables checks that delete pods (ha.gateway-failover); off
	// by default so a run never disturbs a shared cluster unasked.
	Disruptive bool `json:"disruptive,omitempty"`
}

// DefaultConfig is pattern 6 on the emulator with admin/admin.
func DefaultConfig() Config {
	return Config{
		Pattern:   6,
		Platform:  PlatformSim,
		ReportDir: "reports/out",
		Admin:     Credentials{Username: "admin", Password: "admin"},
		ISAdmin:   Credentials{Username: "admin", Password: "admin"},
		Namespace: "apim",
	}
}

// LoadFile merges a YAML (or JSON) config file over c.
func (c *Config) LoadFile(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config file: %v (pass an existing file with --config, or leave it out to use defaults)", err)
	}
	if err := yaml.UnmarshalStrict(b, c); err != nil {
		return fmt.Errorf("config file %s is malformed: %v (see the example in README.md)", path, err)
	}
	return nil
}

// LoadEnv merges APIMCONF_* variables over c. lookup is os.LookupEnv in
// production and a map in tests.
func (c *Config) LoadEnv(lookup func(string) (string, bool)) error {
	str := func(name string, dst *string) {
		if v, ok := lookup(name); ok && v != "" {
			*dst = v
		}
	}
	boolean := func(name string, dst *bool) error {
		if v, ok := lookup(name); ok && v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("%s=%q: want 1/0 or true/false", name, v)
			}
			*dst = b
		}
		return nil
	}
	if v, ok := lookup("APIMCONF_PATTERN"); ok && v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("APIMCONF_PATTERN=%q: want a pattern number 0-6", v)
		}
		c.Pattern = n
	}
	str("APIMCONF_PLATFORM", &c.Platform)
	if v, ok := lookup("APIMCONF_FAULTS"); ok && v != "" {
		c.Faults = SplitList(v)
	}
	str("APIMCONF_RUN_ID", &c.RunID)
	str("APIMCONF_REPORT_DIR", &c.ReportDir)
	str("APIMCONF_ADMIN_USER", &c.Admin.Username)
	str("APIMCONF_ADMIN_PASSWORD", &c.Admin.Password)
	str("APIMCONF_IS_ADMIN_USER", &c.ISAdmin.Username)
	str("APIMCONF_IS_ADMIN_PASSWORD", &c.ISAdmin.Password)
	str("KUBECONFIG", &c.Kubeconfig)
	str("APIMCONF_CONTEXT", &c.Context)
	str("CHARTS_DIR", &c.ChartsDir)
	if err := boolean("REUSE", &c.Reuse); err != nil {
		return err
	}
	if err := boolean("KEEP", &c.Keep); err != nil {
		return err
	}
	if err := boolean("APIMCONF_DISRUPTIVE", &c.Disruptive); err != nil {
		return err
	}
	for _, name := range c.Timeouts.Names() {
		env := "APIMCONF_TIMEOUT_" + strings.ToUpper(name)
		if v, ok := lookup(env); ok && v != "" {
			var probe Timeouts
			if err := probe.Set(name + "=" + v); err != nil {
				return fmt.Errorf("%s: %v", env, err)
			}
			c.TimeoutOverrides = append(c.TimeoutOverrides, name+"="+v)
		}
	}
	return nil
}

// Flags binds the config to a flag set; call fs.Parse afterwards. The
// --timeout flag may repeat.
func (c *Config) Flags(fs *flag.FlagSet) {
	fs.IntVar(&c.Pattern, "pattern", c.Pattern, "deployment pattern 0-6")
	fs.StringVar(&c.Platform, "platform", c.Platform, "where the platform runs: sim (emulator), kind, existing")
	fs.Func("fault", "emulator fault to inject (repeatable or comma-separated); see `go run ./tools/apimsim --list-faults`", func(s string) error {
		c.Faults = append(c.Faults, SplitList(s)...)
		return nil
	})
	fs.StringVar(&c.RunID, "run-id", c.RunID, "run identifier; reports go to <report-dir>/<run-id> (default: a timestamp)")
	fs.StringVar(&c.ReportDir, "report-dir", c.ReportDir, "root directory of run reports")
	fs.Func("timeout", "override one timeout, e.g. --timeout revocation=90s or --timeout multiplier=2 (repeatable)", func(s string) error {
		var probe Timeouts
		if err := probe.Set(s); err != nil {
			return err
		}
		c.TimeoutOverrides = append(c.TimeoutOverrides, s)
		return nil
	})
	fs.StringVar(&c.Kubeconfig, "kubeconfig", c.Kubeconfig, "kubeconfig for --platform existing")
	fs.StringVar(&c.Context, "context", c.Context, "kubeconfig context for --platform existing")
	fs.BoolVar(&c.Reuse, "reuse", c.Reuse, "kind: reuse the cluster if it exists and keep it afterwards")
	fs.BoolVar(&c.Keep, "keep", c.Keep, "kind: keep the cluster when the run fails")
	fs.StringVar(&c.ChartsDir, "charts-dir", c.ChartsDir, "a local helm-apim checkout to take charts from")
	fs.BoolVar(&c.Disruptive, "disruptive", c.Disruptive, "also run checks that delete pods (ha.gateway-failover); env APIMCONF_DISRUPTIVE")
}

// Finalize fills the platform's timeout defaults under whatever the file set,
// then applies the env and flag overrides in order.
func (c *Config) Finalize() error {
	base := DefaultTimeouts()
	if c.Platform == PlatformSim {
		base = SimTimeouts()
	}
	fill(&c.Timeouts, base)
	for _, o := range c.TimeoutOverrides {
		if err := c.Timeouts.Set(o); err != nil {
			return err
		}
	}
	return nil
}

// fill copies base's value into every zero field of t.
func fill(t *Timeouts, base Timeouts) {
	tv, bv := reflect.ValueOf(t).Elem(), reflect.ValueOf(base)
	for i := 0; i < tv.NumField(); i++ {
		if tv.Field(i).IsZero() {
			tv.Field(i).Set(bv.Field(i))
		}
	}
}

// Validate checks the config and fills derived defaults (timeouts, RunID).
func (c *Config) Validate(knownFaults []string) error {
	var errs []error
	if err := c.Finalize(); err != nil {
		errs = append(errs, err)
	}
	if c.Pattern < 0 || c.Pattern > 6 {
		errs = append(errs, fmt.Errorf("unknown pattern %d: patterns are 0-6 (6 = all-in-one + WSO2 IS 7 as key manager)", c.Pattern))
	}
	switch c.Platform {
	case PlatformSim, PlatformKind, PlatformExisting:
	default:
		errs = append(errs, fmt.Errorf("unknown platform %q: use sim (emulator, no Docker), kind, or existing", c.Platform))
	}
	if len(c.Faults) > 0 && c.Platform != PlatformSim {
		errs = append(errs, fmt.Errorf("faults can only be injected into the emulator: add --platform sim or drop --fault"))
	}
	for _, f := range c.Faults {
		if !contains(knownFaults, f) {
			errs = append(errs, fmt.Errorf("unknown fault %q; known faults: %s", f, strings.Join(knownFaults, ", ")))
		}
	}
	if c.Admin.Username == "" || c.Admin.Password == "" {
		errs = append(errs, errors.New("admin credentials are empty: set admin.username/admin.password in the config or APIMCONF_ADMIN_USER/APIMCONF_ADMIN_PASSWORD"))
	}
	if c.Platform == PlatformExisting && c.Endpoints == nil && c.Kubeconfig == "" {
		errs = append(errs, errors.New("platform existing needs either endpoints in the config file or a kubeconfig (--kubeconfig or KUBECONFIG)"))
	}
	if c.Endpoints != nil {
		if err := c.Endpoints.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := c.Timeouts.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.ReportDir == "" {
		errs = append(errs, errors.New("report directory is empty: set --report-dir"))
	}
	if c.RunID == "" {
		c.RunID = NewRunID(c.Pattern, time.Now())
	}
	if strings.ContainsAny(c.RunID, `/\`) || c.RunID == "." || c.RunID == ".." || c.RunID == "latest" {
		errs = append(errs, fmt.Errorf("run id %q must be a plain directory name (not latest)", c.RunID))
	}
	return errors.Join(errs...)
}

// RunDir is where this run's reports go.
func (c *Config) RunDir() string { return filepath.Join(c.ReportDir, c.RunID) }

// NewRunID makes a sortable, readable run id.
func NewRunID(pattern int, t time.Time) string {
	return fmt.Sprintf("%s-p%d", t.UTC().Format("20060102-150405.000"), pattern)
}

// SplitList splits "a,b, c" into [a b c].
func SplitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// ModuleRoot finds the apim-conformance checkout above the working directory,
// so relative report directories mean the same place whether the suite runs
// from the root (apimconf) or from its package directory (go test).
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && strings.Contains(string(b), "module github.com/apim-conformance/apim-conformance\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("not inside the apim-conformance checkout (no go.mod of the project above the working directory)")
		}
		dir = parent
	}
}

// ResolveReportDir makes a relative ReportDir relative to the module root.
func (c *Config) ResolveReportDir() {
	if filepath.IsAbs(c.ReportDir) {
		return
	}
	if root, err := ModuleRoot(); err == nil {
		c.ReportDir = filepath.Join(root, c.ReportDir)
	}
}
