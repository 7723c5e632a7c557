package diagnostics

import (
	"bytes"
	"regexp"
	"strings"

	"sigs.k8s.io/yaml"
)

// Redacted replaces every secret value in a diagnostics bundle.
const Redacted = "<redacted>"

// SensitiveKey reports whether a values/config key names a secret: it
// contains password, passwd, secret, token, credential, privatekey or apikey,
// or it is "key" or ends with "key" (encryption.key, apiKey). Keys that only
// name a secret or a file (secretName, jksSecretName, keyRef, *Path, *File,
// *Alias, *Enabled, *Type, *Url, *Endpoint, *Timeout, ...) are not sensitive.
func SensitiveKey(k string) bool {
	l := strings.ToLower(strings.TrimSpace(strings.Trim(k, `"'`)))
	if l == "" {
		return false
	}
	for _, suf := range []string{"name", "names", "ref", "path", "file", "filename", "file_name", "enabled", "type", "alias", "provider", "ttl",
		"url", "urls", "uri", "endpoint", "endpoints", "size", "timeout", "interval", "count", "length", "header"} {
		if strings.HasSuffix(l, suf) {
			return false
		}
	}
	for _, s := range []string{"password", "passwd", "secret", "token", "credential", "privatekey", "private_key", "apikey", "api_key"} {
		if strings.Contains(l, s) {
			return true
		}
	}
	return l == "key" || strings.HasSuffix(l, "key") || strings.HasSuffix(l, "_key") || strings.HasSuffix(l, ".key")
}

// RedactValues returns a deep copy of v with the value of every sensitive key
// replaced (scalars and lists; maps are walked), and TOML-style assignments
// inside string values redacted too.
func RedactValues(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, val := range t {
			if SensitiveKey(k) {
				if _, isMap := val.(map[string]any); !isMap && val != nil {
					out[k] = Redacted
					continue
				}
			}
			out[k] = RedactValues(val)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = RedactValues(e)
		}
		return out
	case string:
		return RedactText(t)
	default:
		return v
	}
}

// assignment matches `key = value` / `key: value` lines (TOML, properties,
// YAML embedded in ConfigMaps) so the key can be judged by SensitiveKey.
var assignment = regexp.MustCompile(`(?m)^(\s*(?:"[^"\n]+"|'[^'\n]+'|[A-Za-z0-9_.\-]+)\s*[=:]\s*)(\S.*)$`)
var keyOf = regexp.MustCompile(`^\s*("[^"\n]+"|'[^'\n]+'|[A-Za-z0-9_.\-]+)`)

// bearer hides Authorization headers and basic-auth userinfo in URLs in logs.
var bearer = regexp.MustCompile(`(?i)(authorization:\s*(?:bearer|basic)\s+)\S+|(://[^/\s:@]+:)[^@\s/]+@`)

// RedactText redacts sensitive `key = value` / `key: value` assignments line
// by line, Authorization header values and passwords in URLs.
func RedactText(s string) string {
	s = assignment.ReplaceAllStringFunc(s, func(line string) string {
		m := assignment.FindStringSubmatch(line)
		k := keyOf.FindString(m[1])
		k = strings.TrimSpace(k)
		k = strings.Trim(k, `"'`)
		if i := strings.LastIndex(k, "."); i >= 0 && i < len(k)-1 {
			k = k[i+1:]
		}
		if !SensitiveKey(k) {
			return line
		}
		v := strings.TrimSpace(m[2])
		if v == "|" || v == ">" || v == "|-" || v == ">-" || v == "{" || v == "[" {
			return line // a block follows; its own lines are judged on their own
		}
		return m[1] + `"` + Redacted + `"`
	})
	return bearer.ReplaceAllStringFunc(s, func(m string) string {
		sm := bearer.FindStringSubmatch(m)
		if sm[1] != "" {
			return sm[1] + Redacted
		}
		return sm[2] + Redacted + "@"
	})
}

// RedactManifest redacts a multi-document YAML manifest as Helm stores it:
// Secret data/stringData values are replaced, sensitive keys anywhere are
// redacted, and string values (ConfigMap files such as deployment.toml) are
// passed through RedactText. A document that does not parse is redacted as
// text.
func RedactManifest(manifest string) string {
	docs := splitYAML(manifest)
	var out bytes.Buffer
	for i, d := range docs {
		if i > 0 {
			out.WriteString("---\n")
		}
		out.WriteString(redactDoc(d))
	}
	return out.String()
}

func splitYAML(s string) []string {
	var docs []string
	var cur strings.Builder
	for _, line := range strings.SplitAfter(s, "\n") {
		if strings.TrimRight(line, "\r\n") == "---" {
			if strings.TrimSpace(cur.String()) != "" {
				docs = append(docs, cur.String())
			}
			cur.Reset()
			continue
		}
		cur.WriteString(line)
	}
	if strings.TrimSpace(cur.String()) != "" {
		docs = append(docs, cur.String())
	}
	return docs
}

func redactDoc(doc string) string {
	// Keep Helm's "# Source: chart/templates/x.yaml" comment lines.
	var head strings.Builder
	for _, l := range strings.SplitAfter(doc, "\n") {
		if strings.HasPrefix(l, "#") {
			head.WriteString(l)
			continue
		}
		break
	}
	var obj map[string]any
	if err := yaml.Unmarshal([]byte(doc), &obj); err != nil || obj == nil {
		return RedactText(doc)
	}
	if kind, _ := obj["kind"].(string); kind == "Secret" {
		for _, f := range []string{"data", "stringData"} {
			if m, ok := obj[f].(map[string]any); ok {
				for k := range m {
					m[k] = Redacted
				}
			}
		}
	}
	red, _ := RedactValues(obj).(map[string]any)
	b, err := yaml.Marshal(red)
	if err != nil {
		return RedactText(doc)
	}
	return head.String() + string(b)
}

// capTail keeps the last max bytes of b, cutting at a line start when one is
// near, and says whether it cut.
func capTail(b []byte, max int64) ([]byte, bool) {
	if max <= 0 || int64(len(b)) <= max {
		return b, false
	}
	t := b[int64(len(b))-max:]
	if i := bytes.IndexByte(t, '\n'); i >= 0 && i < 512 && i+1 < len(t) {
		t = t[i+1:]
	}
	return t, true
}
