// Package conformance is the run report people and machines read: a
// versioned PatternConformanceReport (conformance-report.yaml and .json in the
// run directory, schema in reports/conformance-report.schema.json) and a
// self-contained summary.html. Several runs (patterns, or one pattern with and
// without a fault) merge into one PatternConformanceReportList and one HTML
// matrix.
//
// The model follows Gateway API's ConformanceReport (profiles rolled up into a
// success | partial | failure verdict, skipped tests listed with reasons) and
// WSO2 testgrid's split between infrastructure, deploy and test failures, so a
// red nightly says at a glance whether WSO2 or the cluster broke.
//
// The package does not know Ginkgo: suites/suite fills Report from the Ginkgo
// report and calls Finalize; `apimconf report merge` only reads files.
package conformance

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Versioning of the file format.
const (
	APIVersion = "apim-conformance/v1alpha1"
	Kind       = "PatternConformanceReport"
	ListKind   = "PatternConformanceReportList"
)

// Check statuses (the same words as reports/junit).
const (
	Passed  = "passed"
	Failed  = "failed"
	Skipped = "skipped"
	Errored = "error"
)

// Verdicts.
const (
	Success = "success"
	Partial = "partial"
	Failure = "failure"
)

// Failure classes.
const (
	ClassInfrastructure = "infrastructure" // cluster, images, database: the platform never came up
	ClassDeploy         = "deploy"         // deployed, but never became ready
	ClassCheck          = "check"          // the platform was up and a check failed
	ClassNone           = "none"
)

// Modes.
const (
	ModeEmulator = "emulator"
	ModeKind     = "kind"
	ModeExisting = "existing"
)

// NotApplicablePrefix starts the skip reason of a check whose required
// capability the pattern lacks (suites/conformance.Check.SkipReason). Such a
// skip is like Gateway API's unsupported feature: it does not make a verdict
// partial. Any other skip of an applicable check does.
const NotApplicablePrefix = "not applicable"

// Duration is a duration both ways: milliseconds for machines, text for people.
type Duration struct {
	Milliseconds float64 `json:"milliseconds"`
	Text         string  `json:"text"`
}

// Dur converts d, rounding the text to something readable.
func Dur(d time.Duration) Duration {
	if d < 0 {
		d = 0
	}
	r := d
	switch {
	case d >= time.Minute:
		r = d.Round(time.Second)
	case d >= time.Second:
		r = d.Round(10 * time.Millisecond)
	case d >= time.Millisecond:
		r = d.Round(10 * time.Microsecond)
	}
	return Duration{Milliseconds: float64(d.Microseconds()) / 1000, Text: r.String()}
}

// D is the time.Duration back.
func (d Duration) D() time.Duration { return time.Duration(d.Milliseconds * float64(time.Millisecond)) }

// Report is one run of one pattern.
type Report struct {
	APIVersion     string         `json:"apiVersion"`
	Kind           string         `json:"kind"`
	RunID          string         `json:"runID"`
	Date           time.Time      `json:"date"`
	Pattern        int            `json:"pattern"`
	Mode           string         `json:"mode"`
	Faults         []string       `json:"faults,omitempty"`
	Implementation Implementation `json:"implementation"`
	// Timeouts are the effective bounds of every wait, by the names of
	// framework.Timeouts, multiplier applied.
	Timeouts      map[string]string `json:"timeouts"`
	Result        string            `json:"result"`
	FailureClass  string            `json:"failureClass"`
	FailureDetail string            `json:"failureDetail,omitempty"`
	Statistics    Statistics        `json:"statistics"`
	Profiles      []Profile         `json:"profiles"`
	Phases        []Phase           `json:"phases"`
	Checks        []Check           `json:"checks"`
	Measurements  []Measurement     `json:"measurements"`
	// Artifacts names the run's other files, relative to the run directory.
	Artifacts map[string]string `json:"artifacts,omitempty"`
}

// Implementation is what was under test.
type Implementation struct {
	Platform string            `json:"platform"`
	Cluster  string            `json:"cluster,omitempty"`
	Database *Database         `json:"database,omitempty"`
	Charts   []Chart           `json:"charts,omitempty"`
	Images   []Image           `json:"images,omitempty"`
	Versions map[string]string `json:"versions,omitempty"`
	// Info keeps every platform fact that has no field above, verbatim.
	Info map[string]string `json:"info,omitempty"`
}

// Database is the database the platform runs on.
type Database struct {
	Name    string `json:"name,omitempty"`
	Version string `json:"version,omitempty"`
	Image   string `json:"image,omitempty"`
}

// Chart is one Helm release's chart.
type Chart struct {
	Release string `json:"release"`
	Chart   string `json:"chart,omitempty"`
	Source  string `json:"source,omitempty"`
	Version string `json:"version,omitempty"`
}

// Image is one container image, with its digest when known.
type Image struct {
	Name      string `json:"name"`
	Reference string `json:"reference"`
	Digest    string `json:"digest,omitempty"`
}

// Statistics counts checks by outcome.
type Statistics struct {
	Total         int `json:"total"`
	Passed        int `json:"passed"`
	Failed        int `json:"failed"`
	Errors        int `json:"errors"`
	Skipped       int `json:"skipped"`
	NotApplicable int `json:"notApplicable"`
}

// Check is one check's result.
type Check struct {
	ID            string   `json:"id"`
	Description   string   `json:"description"`
	Labels        []string `json:"labels,omitempty"`
	Owner         string   `json:"owner,omitempty"`
	Status        string   `json:"status"`
	Message       string   `json:"message,omitempty"`
	SkipReason    string   `json:"skipReason,omitempty"`
	NotApplicable bool     `json:"notApplicable,omitempty"`
	Attempts      int      `json:"attempts,omitempty"`
	Duration      Duration `json:"duration"`
}

// Phase is a timed step of the run.
type Phase struct {
	Name     string   `json:"name"`
	Source   string   `json:"source,omitempty"` // platform or suite
	Duration Duration `json:"duration"`
}

// Measurement is a figure a check recorded (a Ginkgo report entry).
type Measurement struct {
	Check        string   `json:"check"`
	Name         string   `json:"name"`
	Milliseconds *float64 `json:"milliseconds,omitempty"`
	Value        string   `json:"value"`
}

// SkippedCheck is a skipped check with its reason.
type SkippedCheck struct {
	ID     string `json:"id"`
	Reason string `json:"reason,omitempty"`
}

// Profile is a named set of checks rolled up into one verdict.
type Profile struct {
	Name                string         `json:"name"`
	Description         string         `json:"description,omitempty"`
	Result              string         `json:"result"`
	Statistics          Statistics     `json:"statistics"`
	FailedChecks        []string       `json:"failedChecks,omitempty"`
	SkippedChecks       []SkippedCheck `json:"skippedChecks,omitempty"`
	NotApplicableChecks []string       `json:"notApplicableChecks,omitempty"`
}

// List is several runs merged.
type List struct {
	APIVersion string    `json:"apiVersion"`
	Kind       string    `json:"kind"`
	Date       time.Time `json:"date"`
	Result     string    `json:"result"`
	Items      []Report  `json:"items"`
}

// ProfileDef defines a profile: which checks belong to it.
type ProfileDef struct {
	Name        string
	Description string
	Includes    func(Check) bool
}

// Profiles are the default profiles. "pattern" is the claim "this pattern
// conforms": every check. "smoke" is the quick claim made by checks labelled
// smoke.
var Profiles = []ProfileDef{
	{Name: "pattern", Description: "every check of the catalogue that applies to the pattern", Includes: func(Check) bool { return true }},
	{Name: "smoke", Description: "the checks labelled smoke: portals answer, tokens are issued and verify, the gateway invokes and revokes", Includes: func(c Check) bool { return hasLabel(c.Labels, "smoke") }},
}

func hasLabel(labels []string, l string) bool {
	for _, x := range labels {
		if x == l {
			return true
		}
	}
	return false
}

// SetupFailure says the platform did not come up, and in which part.
type SetupFailure struct {
	Class   string // ClassInfrastructure or ClassDeploy
	Message string
}

// New starts a report with the fixed fields set.
func New(runID string, pattern int, date time.Time) Report {
	return Report{APIVersion: APIVersion, Kind: Kind, RunID: runID, Pattern: pattern, Date: date.UTC(),
		Timeouts: map[string]string{}, Phases: []Phase{}, Checks: []Check{}, Measurements: []Measurement{}}
}

// IsNotApplicable reports whether a skip reason means "the pattern cannot do
// what this check needs".
func IsNotApplicable(reason string) bool {
	return strings.HasPrefix(strings.TrimSpace(strings.ToLower(reason)), NotApplicablePrefix)
}

// Finalize computes statistics, profiles, the verdict and the failure class
// from r.Checks. setup is nil when the platform came up.
func (r *Report) Finalize(setup *SetupFailure) {
	for i := range r.Checks {
		c := &r.Checks[i]
		c.NotApplicable = c.Status == Skipped && IsNotApplicable(c.SkipReason)
	}
	r.Statistics = stats(r.Checks)
	r.Profiles = r.Profiles[:0]
	for _, def := range Profiles {
		var in []Check
		for _, c := range r.Checks {
			if def.Includes(c) {
				in = append(in, c)
			}
		}
		r.Profiles = append(r.Profiles, profile(def, in))
	}
	r.Result = Success
	for _, p := range r.Profiles {
		r.Result = Worst(r.Result, p.Result)
	}
	r.FailureClass, r.FailureDetail = ClassNone, ""
	switch {
	case setup != nil:
		r.FailureClass, r.FailureDetail = setup.Class, setup.Message
		if r.FailureClass != ClassDeploy {
			r.FailureClass = ClassInfrastructure
		}
		r.Result = Failure
	case r.Statistics.Errors > 0:
		// Errors without a known setup failure: something around the checks
		// (a hook, the suite itself) broke; the platform is not to blame.
		r.FailureClass = ClassInfrastructure
	case r.Statistics.Failed > 0:
		r.FailureClass = ClassCheck
		r.FailureDetail = "failed: " + strings.Join(r.failedIDs(), ", ")
	}
}

func (r *Report) failedIDs() []string {
	var ids []string
	for _, c := range r.Checks {
		if c.Status == Failed {
			ids = append(ids, c.ID)
		}
	}
	return ids
}

func stats(cs []Check) Statistics {
	var s Statistics
	for _, c := range cs {
		s.Total++
		switch c.Status {
		case Passed:
			s.Passed++
		case Failed:
			s.Failed++
		case Errored:
			s.Errors++
		case Skipped:
			if IsNotApplicable(c.SkipReason) {
				s.NotApplicable++
			} else {
				s.Skipped++
			}
		}
	}
	return s
}

// profile rolls checks up: failure when one failed or errored; partial when
// an applicable check was skipped, or when nothing passed (an empty claim
// proves nothing); success otherwise. Gateway API: "skipping a core test
// makes the whole claim partial".
func profile(def ProfileDef, cs []Check) Profile {
	p := Profile{Name: def.Name, Description: def.Description, Statistics: stats(cs)}
	for _, c := range cs {
		switch {
		case c.Status == Failed || c.Status == Errored:
			p.FailedChecks = append(p.FailedChecks, c.ID)
		case c.Status == Skipped && IsNotApplicable(c.SkipReason):
			p.NotApplicableChecks = append(p.NotApplicableChecks, c.ID)
		case c.Status == Skipped:
			p.SkippedChecks = append(p.SkippedChecks, SkippedCheck{ID: c.ID, Reason: c.SkipReason})
		}
	}
	switch {
	case len(p.FailedChecks) > 0:
		p.Result = Failure
	case len(p.SkippedChecks) > 0 || p.Statistics.Passed == 0:
		p.Result = Partial
	default:
		p.Result = Success
	}
	return p
}

// Worst is the worse of two verdicts.
func Worst(a, b string) string {
	rank := map[string]int{Success: 0, Partial: 1, Failure: 2}
	if rank[b] > rank[a] {
		return b
	}
	return a
}

// Platform facts: the keys of platform.Platform.Info this package gives a
// field of its own. Providers put what they know under these keys; every
// other key is kept verbatim under implementation.info.
//
//	mode                    emulator | kind | existing (free text is normalised)
//	platform                what ran the platform (tools/apimsim, kind, ...)
//	cluster                 kind node image, or the kubeconfig context
//	kind.nodeImage          the same, for kind (cluster wins when both are set)
//	kube.context            the same, for existing clusters
//	database                database name (mysql, mariadb, an external DSN's host, ...)
//	database.version        its version
//	database.image          its image reference
//	chart.<release>.chart   chart name of a Helm release
//	chart.<release>.source  Helm repository URL, oci:// reference or local directory
//	chart.<release>.version chart version
//	image.<name>            image reference (a trailing @sha256:… is split into the digest)
//	image.<name>.digest     image digest when known separately
//	version.<component>     version of a component (apim, is, ...)
//	faults                  emulator faults; reported as Report.Faults instead
const (
	InfoMode     = "mode"
	InfoPlatform = "platform"
	InfoCluster  = "cluster"
	InfoDatabase = "database"
)

// ImplementationFromInfo sorts the platform's facts into the report's fields.
func ImplementationFromInfo(info map[string]string) Implementation {
	im := Implementation{Platform: info[InfoPlatform]}
	charts := map[string]*Chart{}
	images := map[string]*Image{}
	db := &Database{}
	rest := map[string]string{}
	for k, v := range info {
		switch {
		case k == InfoMode || k == InfoPlatform || k == "faults" || k == "pattern":
			// Reported as fields of their own.
		case k == InfoCluster:
			im.Cluster = v
		case k == "kind.nodeImage" || k == "kube.context":
			if im.Cluster == "" || info[InfoCluster] == "" {
				im.Cluster = v
			}
		case k == InfoDatabase:
			db.Name = v
		case k == "database.version":
			db.Version = v
		case k == "database.image":
			db.Image = v
		case strings.HasPrefix(k, "chart."):
			release, field, ok := strings.Cut(strings.TrimPrefix(k, "chart."), ".")
			if !ok {
				field = "source"
			}
			c := charts[release]
			if c == nil {
				c = &Chart{Release: release}
				charts[release] = c
			}
			switch field {
			case "chart":
				c.Chart = v
			case "version":
				c.Version = v
			default:
				c.Source = v
			}
		case strings.HasPrefix(k, "image."):
			name := strings.TrimPrefix(k, "image.")
			isDigest := strings.HasSuffix(name, ".digest")
			name = strings.TrimSuffix(name, ".digest")
			img := images[name]
			if img == nil {
				img = &Image{Name: name}
				images[name] = img
			}
			if isDigest {
				img.Digest = v
			} else {
				ref, digest, ok := strings.Cut(v, "@")
				img.Reference = ref
				if ok && img.Digest == "" {
					img.Digest = digest
				}
			}
		case strings.HasPrefix(k, "version."):
			if im.Versions == nil {
				im.Versions = map[string]string{}
			}
			im.Versions[strings.TrimPrefix(k, "version.")] = v
		default:
			rest[k] = v
		}
	}
	if *db != (Database{}) {
		im.Database = db
	}
	for _, name := range sortedKeys(charts) {
		im.Charts = append(im.Charts, *charts[name])
	}
	for _, name := range sortedKeys(images) {
		img := *images[name]
		if img.Reference == "" {
			img.Reference = name
		}
		im.Images = append(im.Images, img)
	}
	if len(rest) > 0 {
		im.Info = rest
	}
	if im.Platform == "" {
		im.Platform = "unknown"
	}
	return im
}

// NormalizeMode maps a platform's free-text mode (or the --platform flag) to
// emulator, kind or existing.
func NormalizeMode(infoMode, platformFlag string) string {
	for _, s := range []string{infoMode, platformFlag} {
		s = strings.ToLower(strings.TrimSpace(s))
		switch {
		case s == "":
			continue
		case strings.Contains(s, "emulator") || s == "sim":
			return ModeEmulator
		case strings.HasPrefix(s, "kind"):
			return ModeKind
		case strings.HasPrefix(s, "existing"):
			return ModeExisting
		}
	}
	return ModeExisting
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Column is how a run is labelled in a merged matrix: the pattern, plus the
// faults when some were injected, so "pattern-6" and "pattern-6 +
// gateway-ignores-revocation" sit side by side.
func (r Report) Column() string {
	s := fmt.Sprintf("pattern-%d", r.Pattern)
	if len(r.Faults) > 0 {
		s += " + " + strings.Join(r.Faults, ",")
	}
	return s
}
