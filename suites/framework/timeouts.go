package framework

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// Duration is a time.Duration that reads and writes as "90s", "5m".
type Duration time.Duration

func (d Duration) String() string { return time.Duration(d).String() }

// MarshalJSON writes the duration as a Go duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON accepts "90s" style strings (and plain seconds as numbers).
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var secs float64
		if err2 := json.Unmarshal(b, &secs); err2 != nil {
			return fmt.Errorf("duration %s: want a string such as \"90s\" or \"5m\"", b)
		}
		*d = Duration(secs * float64(time.Second))
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration %q: %v (write it as \"90s\", \"5m\", \"1h\")", s, err)
	}
	*d = Duration(v)
	return nil
}

// Timeouts bounds every wait of a run. One struct, documented defaults tuned to
// WSO2 reality, a multiplier for slow machines, and overrides from the config
// file, env (APIMCONF_TIMEOUT_<FIELD>=5m) and flags (--timeout field=5m). The
// effective values are echoed into the conformance report.
type Timeouts struct {
	// Multiplier scales every timeout (not Poll or ProgressEvery). 2 on a
	// starved CI runner is common.
	Multiplier float64 `json:"multiplier"`

	// ClusterCreate bounds creating (or reusing) the kind cluster.
	ClusterCreate Duration `json:"clusterCreate"`
	// ImageLoad bounds building derived images and loading them into the nodes.
	ImageLoad Duration `json:"imageLoad"`
	// DatabaseReady bounds MySQL start, schema load and verification.
	DatabaseReady Duration `json:"databaseReady"`
	// Deploy bounds one Helm release becoming Ready. APIM 4.7 takes 5-7 min
	// to boot on a small kind node, IS 7 about 3.
	Deploy Duration `json:"deploy"`
	// PlatformReady bounds waiting for the deployed endpoints to answer (the
	// gateway startup health check, DCR past its boot-time 500s).
	PlatformReady Duration `json:"platformReady"`
	// Request bounds a single HTTP request.
	Request Duration `json:"request"`
	// TokenIssue bounds obtaining a token, retries included.
	TokenIssue Duration `json:"tokenIssue"`
	// KeyManagerPropagation bounds a newly registered key manager becoming
	// usable for key generation (it reaches the in-memory holders async).
	KeyManagerPropagation Duration `json:"keyManagerPropagation"`
	// APIDeploy bounds a deployed revision reaching the gateway; WSO2's own
	// suite floors this at 180 s.
	APIDeploy Duration `json:"apiDeploy"`
	// Invoke bounds the first successful invocation after deployment.
	Invoke Duration `json:"invoke"`
	// Revocation bounds a revoked token being rejected by the gateway (WSO2's
	// suite: 30 s for IS 7, 60 s for the resident KM).
	Revocation Duration `json:"revocation"`
	// Poll is the interval between attempts of every wait.
	Poll Duration `json:"poll"`
	// ProgressEvery is how often a long wait prints a progress line.
	ProgressEvery Duration `json:"progressEvery"`
}

// DefaultTimeouts are for a real deployment on kind or an existing cluster.
func DefaultTimeouts() Timeouts {
	return Timeouts{
		Multiplier:            1,
		ClusterCreate:         Duration(5 * time.Minute),
		ImageLoad:             Duration(10 * time.Minute),
		DatabaseReady:         Duration(3 * time.Minute),
		Deploy:                Duration(15 * time.Minute),
		PlatformReady:         Duration(10 * time.Minute),
		Request:               Duration(30 * time.Second),
		TokenIssue:            Duration(2 * time.Minute),
		KeyManagerPropagation: Duration(2 * time.Minute),
		APIDeploy:             Duration(3 * time.Minute),
		Invoke:                Duration(2 * time.Minute),
		Revocation:            Duration(60 * time.Second),
		Poll:                  Duration(2 * time.Second),
		ProgressEvery:         Duration(15 * time.Second),
	}
}

// SimTimeouts are for the emulator, which answers in milliseconds; they are
// still bounded so a broken emulator fails fast instead of hanging.
func SimTimeouts() Timeouts {
	return Timeouts{
		Multiplier:            1,
		ClusterCreate:         Duration(10 * time.Second),
		ImageLoad:             Duration(10 * time.Second),
		DatabaseReady:         Duration(10 * time.Second),
		Deploy:                Duration(10 * time.Second),
		PlatformReady:         Duration(10 * time.Second),
		Request:               Duration(5 * time.Second),
		TokenIssue:            Duration(5 * time.Second),
		KeyManagerPropagation: Duration(3 * time.Second),
		APIDeploy:             Duration(3 * time.Second),
		Invoke:                Duration(3 * time.Second),
		Revocation:            Duration(3 * time.Second),
		Poll:                  Duration(20 * time.Millisecond),
		ProgressEvery:         Duration(2 * time.Second),
	}
}

// Scaled returns d multiplied by the multiplier.
func (t Timeouts) Scaled(d Duration) time.Duration {
	m := t.Multiplier
	if m <= 0 {
		m = 1
	}
	return time.Duration(float64(d) * m)
}

// Interval returns the polling interval.
func (t Timeouts) Interval() time.Duration { return time.Duration(t.Poll) }

// Set overrides one field by its JSON name ("revocation=90s", "multiplier=2").
func (t *Timeouts) Set(assignment string) error {
	name, value, ok := strings.Cut(assignment, "=")
	if !ok {
		return fmt.Errorf("timeout override %q: write it as name=value, for example revocation=90s (names: %s)", assignment, strings.Join(t.Names(), ", "))
	}
	name = strings.TrimSpace(name)
	value = strings.TrimSpace(value)
	if strings.EqualFold(name, "multiplier") {
		m, err := strconv.ParseFloat(value, 64)
		if err != nil || m <= 0 {
			return fmt.Errorf("timeout multiplier %q: want a positive number such as 2", value)
		}
		t.Multiplier = m
		return nil
	}
	f, ok := t.field(name)
	if !ok {
		return fmt.Errorf("unknown timeout %q (names: %s)", name, strings.Join(t.Names(), ", "))
	}
	d, err := time.ParseDuration(value)
	if err != nil || d <= 0 {
		return fmt.Errorf("timeout %s=%q: want a positive duration such as 90s or 5m", name, value)
	}
	f.Set(reflect.ValueOf(Duration(d)))
	return nil
}

// Names lists the overridable timeout names.
func (t *Timeouts) Names() []string {
	var names []string
	rt := reflect.TypeOf(*t)
	for i := 0; i < rt.NumField(); i++ {
		names = append(names, strings.Split(rt.Field(i).Tag.Get("json"), ",")[0])
	}
	return names
}

func (t *Timeouts) field(name string) (reflect.Value, bool) {
	rv := reflect.ValueOf(t).Elem()
	rt := rv.Type()
	for i := 0; i < rt.NumField(); i++ {
		tag := strings.Split(rt.Field(i).Tag.Get("json"), ",")[0]
		if strings.EqualFold(tag, name) && rt.Field(i).Type == reflect.TypeOf(Duration(0)) {
			return rv.Field(i), true
		}
	}
	return reflect.Value{}, false
}

// Validate rejects non-positive values, naming the field.
func (t Timeouts) Validate() error {
	rv := reflect.ValueOf(t)
	for i := 0; i < rv.NumField(); i++ {
		f := rv.Type().Field(i)
		if d, ok := rv.Field(i).Interface().(Duration); ok && d <= 0 {
			return fmt.Errorf("timeout %s must be positive (set it like %s=90s)", f.Tag.Get("json"), f.Tag.Get("json"))
		}
	}
	if t.Multiplier < 0 {
		return fmt.Errorf("timeout multiplier must be positive")
	}
	return nil
}
