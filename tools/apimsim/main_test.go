package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apim-conformance/apim-conformance/tools/apimsim/sim"
)

func TestListFaults(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"--list-faults"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	got := strings.Fields(out.String())
	if strings.Join(got, ",") != strings.Join(sim.FaultNames(), ",") || len(got) < 9 {
		t.Fatalf("list-faults printed %q", got)
	}
}

func TestHelpAndBadFault(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"--help"}, &out, &errb); code != 0 || !strings.Contains(errb.String(), "Example:") {
		t.Fatalf("help exit %d: %s", code, errb.String())
	}
	errb.Reset()
	if code := run(context.Background(), []string{"--fault", "nope"}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "portal-down") {
		t.Fatalf("bad fault exit %d: %s", code, errb.String())
	}
}

func TestServeWritesFiles(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var out, errb bytes.Buffer
	done := make(chan int)
	go func() {
		done <- run(ctx, []string{"--quiet", "--fault", "portal-down,slow-start", "--ca-out", filepath.Join(dir, "ca.pem"), "--endpoints-out", filepath.Join(dir, "ep.json")}, &out, &errb)
	}()
	var ep map[string]any
	for i := 0; i < 100; i++ {
		if b, err := os.ReadFile(filepath.Join(dir, "ep.json")); err == nil && json.Unmarshal(b, &ep) == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if ep["management"] != "https://apim-wso2am-all-in-one-am-service:9443" || ep["hostMap"] == nil {
		t.Fatalf("endpoints file %v", ep)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "ca.pem")); !bytes.Contains(b, []byte("BEGIN CERTIFICATE")) {
		t.Fatal("no CA written")
	}
	if !strings.Contains(out.String(), "portal-down, slow-start") {
		t.Fatalf("output %s", out.String())
	}
}
