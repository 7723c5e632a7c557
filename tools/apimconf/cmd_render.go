package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/apim-conformance/apim-conformance/fixtures/charts"
	"github.com/apim-conformance/apim-conformance/fixtures/patterns"
)

func init() {
	register(command{Name: "render", Summary: "print a pattern's ordered deploy plan and final Helm values (secrets redacted), offline-capable", Run: renderCmd})
}

func renderCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("render", flag.ContinueOnError)
	fs.SetOutput(stderr)
	pattern := fs.Int("pattern", 6, "pattern number")
	platform := fs.String("platform", "kind", "kind | existing | local (kind and local add the kind sizing layer)")
	offline := fs.Bool("offline", os.Getenv("APIMCONF_OFFLINE") == "1", "do not fetch the official values or charts from the network (also APIMCONF_OFFLINE=1)")
	chartsDir := fs.String("charts-dir", os.Getenv("CHARTS_DIR"), "a wso2/helm-apim checkout: its charts and resources/am-pattern-*/ values are used (default $CHARTS_DIR)")
	isChartDir := fs.String("is-chart-dir", os.Getenv("IS_CHART_DIR"), "a wso2/kubernetes-is checkout for the identity-server chart (default $IS_CHART_DIR)")
	manifests := fs.Bool("manifests", false, "also render the Kubernetes manifests (helm template via the SDK; needs the charts: CHARTS_DIR/IS_CHART_DIR or network)")
	provenance := fs.Bool("provenance", false, "print, per values path, the layer that set it")
	fs.Usage = func() {
		fmt.Fprintln(stderr, `Usage: apimconf render [--pattern 6] [--platform kind] [--offline] [--manifests] [--provenance]

Prints the deploy plan of a pattern in install order (releases, hooks, waits),
the values layers of every release (official defaults, pattern overlay, kind
sizing, defect overrides, run inputs) and the final values Helm receives.
The encryption key, passwords and other secrets are redacted. Nothing is
installed and no cluster is needed.

When the official default values cannot be fetched (offline), the plan is
rendered with our overlays and the missing layer is named; exit status is 0.

Examples:
  apimconf render --pattern 6
  apimconf render --pattern 6 --offline --provenance
  apimconf render --pattern 4 --offline          # ACP, KM, TM and GW in install order
  CHARTS_DIR=~/src/helm-apim IS_CHART_DIR=~/src/kubernetes-is apimconf render --pattern 6 --manifests

Flags:`)
		fs.PrintDefaults()
	}
	if code, ok := parse(fs, args); !ok {
		return code
	}
	p, err := patterns.Get(*pattern)
	if err != nil {
		fmt.Fprintln(stderr, "apimconf render:", err)
		return 2
	}
	plat := patterns.Platform(*platform)
	switch plat {
	case patterns.PlatformKind, patterns.PlatformExisting, patterns.PlatformLocal:
	default:
		fmt.Fprintf(stderr, "apimconf render: unknown --platform %q (kind, existing or local)\n", *platform)
		return 2
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	loader := charts.NewLoader(charts.LoaderOptions{ChartsDir: *chartsDir, ISChartDir: *isChartDir, Offline: *offline})
	key, err := charts.NewEncryptionKey()
	if err != nil {
		fmt.Fprintln(stderr, "apimconf render:", err)
		return 1
	}
	in := patterns.Inputs{EncryptionKey: key, Admin: patterns.DefaultAdmin}
	red := charts.NewRedactor(in.Secrets()...)
	plan := p.Plan(ctx, loader, patterns.PlanOptions{Platform: plat, Inputs: in})
	renderPlan(stdout, p, plat, plan, red, *provenance)
	if *manifests {
		renderManifests(ctx, stdout, loader, plan, red)
	}
	return 0
}

func renderPlan(w io.Writer, p *patterns.Pattern, plat patterns.Platform, plan charts.Plan, red *charts.Redactor, provenance bool) {
	fmt.Fprintf(w, "Pattern %d: %s\n%s\n\n", p.Number, p.Name, p.Description)
	fmt.Fprintf(w, "Platform: %s   Namespace: %s\n", plat, p.Namespace)
	var caps []string
	for _, c := range p.Capabilities {
		caps = append(caps, string(c))
	}
	fmt.Fprintf(w, "Capabilities: %s\n", strings.Join(caps, ", "))
	fmt.Fprintf(w, "Needs: minimum %s, recommended %s (%s)\n\n", res(p.Needs.Minimum), res(p.Needs.Recommended), p.Needs.Why)

	fmt.Fprintln(w, "Deploy plan (in order):")
	for i, s := range plan.Steps {
		if r := s.Release; r != nil {
			fmt.Fprintf(w, "  %d. release %q: chart %s, namespace %s; helm wait + pods %q ready within %s\n", i+1, r.Name, r.Chart, r.Namespace, r.Wait.Selector, r.Wait.Timeout)
			continue
		}
		h := s.Hook
		state := ""
		if h.Disabled {
			state = " [optional; off unless enabled]"
		}
		fmt.Fprintf(w, "  %d. hook %s%s: %s\n", i+1, h.Name, state, h.Description)
	}
	e := p.Endpoints
	fmt.Fprintf(w, "\nEndpoints (in-cluster; reached through port-forwards on kind):\n  management      %s\n  gateway         %s\n", e.Management, e.Gateway)
	if e.GatewayManagement != "" {
		fmt.Fprintf(w, "  gateway mgmt    %s\n", e.GatewayManagement)
	}
	if e.KeyManager != "" {
		fmt.Fprintf(w, "  key manager     %s\n", e.KeyManager)
	}
	if e.IdentityServer != "" {
		fmt.Fprintf(w, "  identity server %s\n", e.IdentityServer)
	}
	fmt.Fprintf(w, "  backend         %s\n", e.Backend)
	if p.Has(patterns.IS7KM) {
		fmt.Fprintf(w, "  notify endpoint %s (IS -> APIM token revocation events, header X-WSO2-KEY-MANAGER: WSO2-IS)\n", patterns.P6NotifyEndpoint)
	}
	var fw []string
	for _, f := range p.Forwards {
		fw = append(fw, f.HostPort())
	}
	fmt.Fprintf(w, "Port-forwards on kind: %s\n", strings.Join(fw, ", "))
	fmt.Fprintln(w, "\nImages (official base -> what the pods run):")
	for _, r := range p.Images {
		run := "the official image, as is"
		if r.Derive != patterns.DeriveNone {
			run = r.Repository + " (" + string(r.Derive) + " in " + r.Home + ")"
		}
		fmt.Fprintf(w, "  %-5s %s -> %s\n", r.Role, r.Base, run)
	}
	db := "MySQL (fixtures/mysql; schema from the " + p.KeystoreRole + " image)"
	if p.Database == patterns.DatabaseH2OrMySQL {
		db = "H2 inside the pod (chart default); MySQL with APIMCONF_DATABASE=mysql"
	}
	fmt.Fprintf(w, "Database: %s\n", db)

	var unavailable []string
	for _, s := range plan.Steps {
		r := s.Release
		if r == nil {
			continue
		}
		m := r.Values()
		fmt.Fprintf(w, "\n=== release %s (%s) ===\nValues layers (later wins):\n", r.Name, r.Chart.Name)
		for _, l := range r.Layers {
			if l.Unavailable != "" {
				fmt.Fprintf(w, "  - %-17s UNAVAILABLE: %s\n", l.Name, red.String(l.Unavailable))
				unavailable = append(unavailable, r.Name+"/"+l.Name)
				continue
			}
			fmt.Fprintf(w, "  - %-17s %s\n", l.Name, l.Source)
			if l.Name == "defect-overrides" {
				for _, path := range sortedKeys(l.Notes) {
					fmt.Fprintf(w, "      %s: %s\n", path, l.Notes[path])
				}
			}
		}
		if v := m.Values.GetString("wso2.apim.configurations.security.jksSecretName"); v != "" {
			fmt.Fprintf(w, "jksSecretName: %s\n", v)
		}
		fmt.Fprintf(w, "Final values (secrets redacted):\n%s", indent(red.Values(m.Values).YAML(), "  "))
		if provenance {
			fmt.Fprintln(w, "Provenance:")
			for _, path := range m.Paths() {
				fmt.Fprintf(w, "  %s <- %s\n", path, m.Provenance[path])
			}
		}
	}
	if len(unavailable) > 0 {
		fmt.Fprintf(w, "\nNote: layer(s) %s could not be loaded; the values above are our overlays without them. Set CHARTS_DIR to a wso2/helm-apim checkout, or go online, to include them.\n", strings.Join(unavailable, ", "))
	}
	fmt.Fprintln(w, "\nThe encryption key shown as <redacted> is generated per run (64 hex) and shared by every APIM release.")
}

func renderManifests(ctx context.Context, w io.Writer, l *charts.Loader, plan charts.Plan, red *charts.Redactor) {
	for _, s := range plan.Steps {
		r := s.Release
		if r == nil {
			continue
		}
		ch, _, err := l.Load(ctx, r.Chart)
		if err != nil {
			fmt.Fprintf(w, "\n# manifests of release %s not rendered: %v\n", r.Name, err)
			continue
		}
		out, err := charts.Template(ch, r.Name, r.Namespace, charts.Clone(r.Values().Values))
		if err != nil {
			fmt.Fprintf(w, "\n# manifests of release %s failed to render: %s\n", r.Name, red.String(err.Error()))
			continue
		}
		fmt.Fprintf(w, "\n# ---- manifests of release %s (chart %s %s; secrets redacted) ----\n%s", r.Name, ch.Metadata.Name, ch.Metadata.Version, red.String(out))
	}
}

func res(r patterns.Resources) string {
	return fmt.Sprintf("%g CPU / %g GiB", float64(r.CPUMillis)/1000, float64(r.MemoryMiB)/1024)
}

func indent(s, pfx string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i := range lines {
		lines[i] = pfx + lines[i]
	}
	return strings.Join(lines, "\n") + "\n"
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}
