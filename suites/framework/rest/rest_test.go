package rest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/apim-conformance/apim-conformance/reports/redact"
)

func TestParseErrorNumericAndStringCodes(t *testing.T) {
	for body, code := range map[string]string{
		`{"code":900901,"message":"Invalid Credentials"}`:        "900901",
		`{"code":"900902","message":"Missing Credentials"}`:      "900902",
		`{"code":400,"message":"Bad Request","description":"x"}`: "400",
	} {
		e, ok := ParseError([]byte(body))
		if !ok || e.Code != code {
			t.Errorf("%s: got %+v %v", body, e, ok)
		}
	}
	if _, ok := ParseError([]byte(`<html>503</html>`)); ok {
		t.Error("HTML is not a WSO2 error body")
	}
}

func TestDoStatusErrorIsRedactedAndNamesTheCall(t *testing.T) {
	redact.Add("leaky-secret-value-1")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("User-Agent") != UserAgent || !strings.HasPrefix(r.Header.Get("Authorization"), "Basic ") {
			w.WriteHeader(500)
			return
		}
		w.WriteHeader(401)
		w.Write([]byte(`{"code":900901,"message":"Invalid Credentials","description":"token leaky-secret-value-1 rejected"}`))
	}))
	defer srv.Close()
	c := &Client{HTTP: srv.Client(), Base: srv.URL, Auth: Basic("admin", "admin")}
	_, err := c.Do(context.Background(), Request{Method: "GET", Path: "/x"}, nil)
	if !IsStatus(err, 401) {
		t.Fatalf("want a 401 StatusError, got %v", err)
	}
	msg := err.Error()
	if !strings.Contains(msg, "GET "+srv.URL+"/x") || !strings.Contains(msg, "900901") {
		t.Errorf("message should name the call and the WSO2 code: %s", msg)
	}
	if strings.Contains(msg, "leaky-secret-value-1") {
		t.Errorf("secret in error: %s", msg)
	}
}

func TestDoDecodesAndRejectsNonJSON(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/json" {
			w.Write([]byte(`{"count":3}`))
			return
		}
		w.Write([]byte(`<html>login</html>`))
	}))
	defer srv.Close()
	c := &Client{HTTP: srv.Client(), Base: srv.URL}
	var out struct{ Count int }
	if _, err := c.Do(context.Background(), Request{Method: "GET", Path: "/json", Want: []int{200}}, &out); err != nil || out.Count != 3 {
		t.Fatalf("decode: %v %+v", err, out)
	}
	if _, err := c.Do(context.Background(), Request{Method: "GET", Path: "/html"}, &out); err == nil || !strings.Contains(err.Error(), "not the expected JSON") {
		t.Fatalf("HTML where JSON was expected must be an error: %v", err)
	}
}
