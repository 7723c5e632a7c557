package redact

import (
	"strings"
	"testing"
)

func TestRedactsRegisteredSecretsAndCredentialShapes(t *testing.T) {
	r := &Redactor{}
	r.Add("s3cr3t-client-value", "ab", "admin", "wso2carbon") // too short / public defaults: not registered
	cases := map[string]string{
		"client secret s3cr3t-client-value in text":                       "s3cr3t-client-value",
		"Authorization: Bearer abcdefghijklmnop.qrstu":                    "abcdefghijklmnop",
		"authorization=Basic YWRtaW46YWRtaW4=":                            "YWRtaW46YWRtaW4",
		`{"clientSecret":"xyz-123-secret","name":"ok"}`:                   "xyz-123-secret",
		`password: "hunter22"`:                                            "hunter22",
		"grant_type=password&username=admin&password=admin-pass&scope=x":  "admin-pass",
		"token=eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhZG1pbiJ9.c2lnbmF0dXJlX3g": "eyJzdWIiOiJhZG1pbiJ9",
		`encryption.key = "0123456789abcdef0123456789abcdef"`:             "0123456789abcdef0123456789abcdef",
	}
	for in, secret := range cases {
		out := r.String(in)
		if strings.Contains(out, secret) {
			t.Errorf("secret %q survived redaction of %q: %q", secret, in, out)
		}
		if !strings.Contains(out, Mask) {
			t.Errorf("no mask in %q", out)
		}
	}
	if got := r.String(`{"name":"ok","ab":"ab","role":"admin"} portal.admin wso2carbon.jks`); got != `{"name":"ok","ab":"ab","role":"admin"} portal.admin wso2carbon.jks` {
		t.Errorf("harmless text changed: %q", got)
	}
}

func TestLongestSecretMaskedWhole(t *testing.T) {
	r := &Redactor{}
	r.Add("abcdef", "abcdefghij")
	if got := r.String("x abcdefghij y"); got != "x "+Mask+" y" {
		t.Fatalf("got %q", got)
	}
}
