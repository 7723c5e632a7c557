package selftest

import (
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/apim-conformance/apim-conformance/suites/conformance"
	"github.com/apim-conformance/apim-conformance/suites/framework"
	"github.com/apim-conformance/apim-conformance/suites/platform"
)

// An unreachable platform fails the readiness gate within platformReady, with
// a message that names the timeout to raise; nothing hangs.
func TestUnreachableEndpointFailsWithinTheTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close() // nothing listens there any more
	cfg := framework.DefaultConfig()
	cfg.Timeouts = matrixTimeouts()
	cfg.Timeouts.PlatformReady = framework.Duration(time.Second)
	if err := cfg.Validate(nil); err != nil {
		t.Fatal(err)
	}
	ep := framework.Endpoints{Management: "https://" + dead, Gateway: "https://" + dead, Backend: "http://" + dead, CAPEM: selfSignedPEM(t)}
	env, err := conformance.NewEnv(cfg, ep, nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = env.WaitReady(context.Background())
	if err == nil || !strings.Contains(err.Error(), "platformReady") {
		t.Fatalf("want an error naming platformReady, got %v", err)
	}
	if took := time.Since(start); took > 30*time.Second {
		t.Fatalf("the gate took %s for a 1s timeout", took)
	}
}

// Wrong admin credentials stop the wait at once and name the settings to fix.
func TestWrongCredentialsStopAtOnce(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg := framework.DefaultConfig()
	cfg.Timeouts = matrixTimeouts()
	cfg.Timeouts.TokenIssue = framework.Duration(time.Minute) // a retry loop would show as a minute
	if err := cfg.Validate(platform.KnownFaults()); err != nil {
		t.Fatal(err)
	}
	plat, err := platform.Up(ctx, cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer plat.Close(ctx)
	wrong := cfg
	wrong.Admin.Password = "not-the-password"
	env, err := conformance.NewEnv(wrong, plat.Endpoints, plat.Capabilities)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = env.WaitReady(ctx)
	if err == nil || !strings.Contains(err.Error(), "APIMCONF_ADMIN_PASSWORD") {
		t.Fatalf("want an error naming the credential settings, got %v", err)
	}
	if strings.Contains(err.Error(), "not-the-password") {
		t.Fatalf("the password is in the error: %v", err)
	}
	if took := time.Since(start); took > 20*time.Second {
		t.Fatalf("refused credentials should stop the wait at once, took %s", took)
	}
}

// selfSignedPEM is any valid CA; the endpoint is never reached.
func selfSignedPEM(t *testing.T) []byte {
	t.Helper()
	srv := httptestTLSCert(t)
	return srv
}
