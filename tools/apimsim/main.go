// Command apimsim serves an emulated WSO2 API Manager deployment pattern on
// loopback listeners, so the conformance suite (or curl) can run against it
// without a cluster. See --help.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	"github.com/apim-conformance/apim-conformance/tools/apimsim/sim"
)

type faultList []string

func (f *faultList) String() string     { return strings.Join(*f, ",") }
func (f *faultList) Set(v string) error { *f = append(*f, v); return nil }

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("apimsim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var faults faultList
	pattern := fs.Int("pattern", 6, "deployment pattern to emulate, 0-6 (0 all-in-one, 1 all-in-one HA, 2 +gateway, 3 control plane+TM+gateway, 4 +key manager, 5 all-in-one+gateway+key manager, 6 all-in-one + WSO2 IS 7)")
	fs.Var(&faults, "fault", "inject a named fault; repeatable and/or comma-separated (also env APIMSIM_FAULTS)")
	listFaults := fs.Bool("list-faults", false, "print the fault names, one per line, and exit")
	specDir := fs.String("spec-dir", "", "directory of WSO2's REST contracts (default: env APIMSIM_SPEC_DIR, else shared/wso2-rest-specs found upward)")
	caOut := fs.String("ca-out", "", "write the generated CA certificate (PEM) to this file")
	epOut := fs.String("endpoints-out", "", "write the endpoints and host map (JSON) to this file")
	quiet := fs.Bool("quiet", false, "do not log requests to stderr")
	fs.Usage = func() {
		fmt.Fprintf(stderr, `apimsim emulates a WSO2 API Manager deployment pattern on 127.0.0.1.

Each WSO2 host name (apim-wso2am-all-in-one-am-service:9443 and :8243,
is-identity-server:9443, apim-conformance-echo:8080) gets a random loopback
port; clients reach them through the printed host map (framework.Endpoints
HostMap) and trust the generated CA. Requests to WSO2's REST APIs are validated
against the contracts in shared/wso2-rest-specs; violations answer 400 and are
logged. Named faults break one behaviour each. Serves until SIGINT/SIGTERM.

Flags:
`)
		fs.PrintDefaults()
		fmt.Fprintf(stderr, "\nFaults:\n")
		for _, f := range sim.Faults() {
			fmt.Fprintf(stderr, "  %-30s %s\n", f.Name, f.Description)
		}
		fmt.Fprintf(stderr, `
Example:
  go run ./tools/apimsim --fault jwks-wrong-key --ca-out /tmp/ca.pem --endpoints-out /tmp/ep.json
  curl --cacert /tmp/ca.pem --connect-to apim-wso2am-all-in-one-am-service:9443:127.0.0.1:<port> \
       https://apim-wso2am-all-in-one-am-service:9443/services/Version
`)
	}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if *listFaults {
		for _, n := range sim.FaultNames() {
			fmt.Fprintln(stdout, n)
		}
		return 0
	}
	if env := os.Getenv("APIMSIM_FAULTS"); env != "" {
		faults = append(faults, env)
	}
	var logw io.Writer = stderr
	if *quiet {
		logw = nil
	}
	p, err := sim.Start(ctx, sim.Options{Pattern: *pattern, Faults: faults, SpecDir: *specDir, Log: logw})
	if err != nil {
		fmt.Fprintln(stderr, "apimsim:", err)
		return 1
	}
	defer p.Close()
	ep := p.Endpoints()
	if *caOut != "" {
		if err := os.WriteFile(*caOut, ep.CAPEM, 0o644); err != nil {
			fmt.Fprintln(stderr, "apimsim:", err)
			return 1
		}
	}
	js, _ := json.MarshalIndent(ep, "", "  ")
	if *epOut != "" {
		if err := os.WriteFile(*epOut, append(js, '\n'), 0o644); err != nil {
			fmt.Fprintln(stderr, "apimsim:", err)
			return 1
		}
	}
	fmt.Fprintf(stdout, "apimsim pattern %d running; faults: %s\n", *pattern, strings.Join(p.FaultsActive(), ", "))
	fmt.Fprintf(stdout, "  management      %s\n  gateway         %s\n  identity server %s\n  backend         %s\n", ep.Management, ep.Gateway, ep.IdentityServer, ep.Backend)
	var hosts []string
	for h := range ep.HostMap {
		hosts = append(hosts, h)
	}
	sort.Strings(hosts)
	fmt.Fprintln(stdout, "host map:")
	for _, h := range hosts {
		fmt.Fprintf(stdout, "  %-45s -> %s\n", h, ep.HostMap[h])
	}
	sigCtx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-sigCtx.Done()
	fmt.Fprintln(stdout, "apimsim: stopping")
	return 0
}
