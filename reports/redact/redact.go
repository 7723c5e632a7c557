// Package redact removes secrets from everything the suite writes: logs,
// JUnit, conformance reports, HTML and diagnostics. It knows the run's own
// secrets by value (passwords, client secrets, tokens, the encryption key) and
// also masks things that look like credentials whatever their value: bearer
// and basic authorization headers, JWTs, and "password"/"secret"-like fields.
package redact

import (
	"regexp"
	"sort"
	"strings"
	"sync"
)

// Mask replaces a secret in output.
const Mask = "[REDACTED]"

// minSecretLen keeps very short values from turning every occurrence of a
// common word into a mask; such values are still caught wherever they appear
// as a credential (the field and header patterns below).
const minSecretLen = 6

// publicDefaults are WSO2's documented default credentials. They are public
// knowledge, not secrets, and masking them would erase words like "admin"
// from every report; where they appear as credentials the patterns mask them.
var publicDefaults = map[string]bool{"admin": true, "wso2carbon": true, "password": true, "root": true}

var patterns = []struct {
	re   *regexp.Regexp
	repl string
}{
	// Authorization headers in any casing, as header or as logged text.
	{regexp.MustCompile(`(?i)(authorization\s*[:=]\s*"?(?:bearer|basic)\s+)[A-Za-z0-9._~+/=-]+`), "${1}" + Mask},
	{regexp.MustCompile(`(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/-]{12,}=*`), "${1} " + Mask},
	// Compact JWS/JWT: three base64url segments, the first one a JSON header.
	{regexp.MustCompile(`eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}`), Mask},
	// JSON / YAML / TOML / form fields whose name says secret.
	{regexp.MustCompile(`(?i)("?(?:[a-z_.-]*password|[a-z_.-]*secret|client_secret|clientsecret|consumersecret|access_?token|refresh_?token|accesstoken|apikey|api_key|encryption[._-]?key|key)"?\s*[:=]\s*)"(?:[^"\\]|\\.)+"`), `${1}"` + Mask + `"`},
	{regexp.MustCompile(`(?i)((?:^|[\s&?])(?:password|client_secret|token|refresh_token|access_token|secret)=)[^&\s]+`), "${1}" + Mask},
}

// Redactor masks known secret values and credential-shaped text. The zero
// value is ready to use; Add is safe for concurrent use.
type Redactor struct {
	mu      sync.RWMutex
	secrets []string // longest first, so a secret containing another is masked whole
}

// Default is the process-wide redactor every writer uses.
var Default = &Redactor{}

// Add registers secret values. Empty and very short values are ignored.
func (r *Redactor) Add(values ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, v := range values {
		v = strings.TrimSpace(v)
		if len(v) < minSecretLen || publicDefaults[strings.ToLower(v)] {
			continue
		}
		dup := false
		for _, s := range r.secrets {
			if s == v {
				dup = true
				break
			}
		}
		if !dup {
			r.secrets = append(r.secrets, v)
		}
	}
	sort.Slice(r.secrets, func(i, j int) bool { return len(r.secrets[i]) > len(r.secrets[j]) })
}

// String returns s with every known secret and credential-shaped text masked.
func (r *Redactor) String(s string) string {
	if s == "" {
		return s
	}
	r.mu.RLock()
	for _, v := range r.secrets {
		if strings.Contains(s, v) {
			s = strings.ReplaceAll(s, v, Mask)
		}
	}
	r.mu.RUnlock()
	for _, p := range patterns {
		s = p.re.ReplaceAllString(s, p.repl)
	}
	return s
}

// Bytes is String for byte slices.
func (r *Redactor) Bytes(b []byte) []byte { return []byte(r.String(string(b))) }

// Add registers secrets with the Default redactor.
func Add(values ...string) { Default.Add(values...) }

// String redacts with the Default redactor.
func String(s string) string { return Default.String(s) }
