// Package testenvreq decides what a test does when the local test
// infrastructure (make testenv-up: control plane + kwok, dockerd with local
// images, MariaDB) is not available: with REQUIRE_TESTENV=1 (CI) the test
// fails, otherwise (a laptop) it skips with a message that says how to enable it.
package testenvreq

import (
	"fmt"
	"os"
	"testing"
)

// EnvVar is the variable that turns missing infrastructure into a failure.
const EnvVar = "REQUIRE_TESTENV"

// Required reports whether REQUIRE_TESTENV=1 (or true) is set.
func Required() bool {
	switch os.Getenv(EnvVar) {
	case "1", "true", "TRUE", "True", "yes":
		return true
	}
	return false
}

// Hint is the how-to-enable text appended to skip messages.
const Hint = "run `make testenv-up` and export what it prints " +
	"(or `. .testenv/env.sh`): KUBECONFIG, APIMCONF_CONTROLPLANE_BIN, DOCKER_HOST, " +
	"TESTCONTAINERS_RYUK_DISABLED=true, TESTCONTAINERS_HOST_OVERRIDE=127.0.0.1, APIMCONF_MYSQL_IMAGE, APIMCONF_MYSQL_EXTERNAL_DSN; " +
	"set REQUIRE_TESTENV=1 to make this a failure instead of a skip"

// Message is the text used for a missing piece of infrastructure.
func Message(what string, err error) string {
	return fmt.Sprintf("test infrastructure %q not available: %v", what, err)
}

// Require does nothing when err is nil. Otherwise it fails the test
// (t.Fatalf) when REQUIRE_TESTENV=1, and skips it (t.Skipf) with a message
// naming `make testenv-up` and the environment to export when it is not.
func Require(t testing.TB, what string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if Required() {
		t.Fatalf("%s (REQUIRE_TESTENV=1, so this is a failure; start it with `make testenv-up`)", Message(what, err))
	}
	t.Skipf("%s; to run this test, %s", Message(what, err), Hint)
}

// Check is the Ginkgo-friendly variant. It returns (false, "") when err is
// nil. Otherwise it returns skip=true with a skip message when
// REQUIRE_TESTENV is unset, and skip=false with a failure message when it is
// set. Typical use:
//
//	if skip, msg := testenvreq.Check("dockerd", err); skip {
//		Skip(msg)
//	} else if msg != "" {
//		Fail(msg)
//	}
func Check(what string, err error) (skip bool, msg string) {
	if err == nil {
		return false, ""
	}
	if Required() {
		return false, Message(what, err) + " (REQUIRE_TESTENV=1, so this is a failure; start it with `make testenv-up`)"
	}
	return true, Message(what, err) + "; to run this test, " + Hint
}
