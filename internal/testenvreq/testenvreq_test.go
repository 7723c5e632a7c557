package testenvreq

import (
	"errors"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	if skip, msg := Check("x", nil); skip || msg != "" {
		t.Fatalf("nil error: got %v %q", skip, msg)
	}
	t.Setenv(EnvVar, "")
	skip, msg := Check("dockerd", errors.New("no socket"))
	if !skip || !strings.Contains(msg, "make testenv-up") || !strings.Contains(msg, "dockerd") || !strings.Contains(msg, "no socket") {
		t.Fatalf("unset: got %v %q", skip, msg)
	}
	t.Setenv(EnvVar, "1")
	skip, msg = Check("dockerd", errors.New("no socket"))
	if skip || !strings.Contains(msg, "REQUIRE_TESTENV=1") {
		t.Fatalf("required: got %v %q", skip, msg)
	}
}

func TestRequireSkips(t *testing.T) {
	t.Setenv(EnvVar, "")
	var skipped bool
	t.Run("inner", func(t *testing.T) {
		defer func() { skipped = t.Skipped() }()
		Require(t, "thing", errors.New("absent"))
	})
	if !skipped {
		t.Fatal("Require did not skip without REQUIRE_TESTENV")
	}
}
