package platform

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/moby/moby/client"

	"github.com/apim-conformance/apim-conformance/clusters/existing"
	"github.com/apim-conformance/apim-conformance/clusters/kind"
	"github.com/apim-conformance/apim-conformance/fixtures/backends/echo"
	"github.com/apim-conformance/apim-conformance/fixtures/charts"
	"github.com/apim-conformance/apim-conformance/fixtures/images"
	"github.com/apim-conformance/apim-conformance/fixtures/keystores"
	"github.com/apim-conformance/apim-conformance/fixtures/mysql"
	"github.com/apim-conformance/apim-conformance/fixtures/patterns"
	"github.com/apim-conformance/apim-conformance/reports/redact"
	"github.com/apim-conformance/apim-conformance/suites/conformance"
	"github.com/apim-conformance/apim-conformance/suites/framework"
)

// Official product images the pattern-6 derived images are built from;
// every pattern's bases are its image roles (patterns.Pattern.Images).
const (
	APIMBaseImage = patterns.BaseAPIM
	ISBaseImage   = patterns.BaseIS
)

// upCluster deploys a pattern on kind, or on an existing cluster, or connects
// to endpoints given in the config.
func upCluster(ctx context.Context, cfg framework.Config, log io.Writer) (*Platform, error) {
	if cfg.Platform == framework.PlatformExisting && cfg.Endpoints != nil {
		return existingEndpoints(cfg)
	}
	pat, err := patterns.Get(cfg.Pattern)
	if err != nil {
		return nil, fmt.Errorf("pattern %d has no deploy plan yet: %w (run it on the emulator with --platform sim)", cfg.Pattern, err)
	}
	b := &bringUp{cfg: cfg, pat: pat, log: log}
	p, err := b.run(ctx)
	if err != nil {
		// Whatever came up is torn down (or kept, as configured) by the
		// caller through p.Close; p carries diagnostics too.
		return p, err
	}
	return p, nil
}

// bringUp chains the steps of a real run; each is timed as a phase.
type bringUp struct {
	cfg framework.Config
	pat *patterns.Pattern
	log io.Writer

	tl      patterns.Timeline
	cluster *kind.Cluster
	db      *mysql.DB
	deploy  *patterns.Deployment
	failed  bool
}

func (b *bringUp) logf(format string, args ...any) {
	fmt.Fprintln(b.log, redact.String(fmt.Sprintf(format, args...)))
}

func (b *bringUp) run(ctx context.Context) (*Platform, error) {
	to := b.cfg.Timeouts
	p := &Platform{Info: map[string]string{"pattern": fmt.Sprint(b.pat.Number), "mode": b.cfg.Platform}}
	p.Diagnose = b.diagnose
	p.Close = b.close
	fail := func(err error) (*Platform, error) {
		b.failed = true
		p.Phases = phases(b.tl)
		return p, err
	}

	if b.cfg.Platform == framework.PlatformExisting {
		return b.onExisting(ctx, p)
	}

	docker, err := keystores.NewDockerClient()
	if err != nil {
		return fail(fmt.Errorf("Docker client: %w: start Docker or set DOCKER_HOST; without Docker, `make demo` runs pattern %d against the emulator", err, b.pat.Number))
	}
	need := kind.Resources{CPU: float64(b.pat.Needs.Minimum.CPUMillis) / 1000, MemoryBytes: b.pat.Needs.Minimum.MemoryMiB << 20}
	rep, err := kind.Preflight(ctx, docker, need, "")
	if err != nil {
		return fail(err)
	}
	for _, w := range rep.Warnings {
		b.logf("preflight: %s", w)
	}
	// The echo backend is compiled for the engine's architecture (kind nodes
	// run there), which on an Apple laptop is arm64.
	goarch := "amd64"
	if info, err := docker.Info(ctx, client.InfoOptions{}); err == nil && (info.Info.Architecture == "aarch64" || info.Info.Architecture == "arm64") {
		goarch = "arm64"
	}

	// Cluster.
	err = b.tl.Time("cluster", func() error {
		cctx, cancel := context.WithTimeout(ctx, to.Scaled(to.ClusterCreate))
		defer cancel()
		opts := kind.OptionsFromEnv(kind.Options{Name: fmt.Sprintf("apimconf-p%d", b.pat.Number), Reuse: b.cfg.Reuse, Keep: b.cfg.Keep, Logf: b.logf})
		c, err := kind.Up(cctx, opts, docker)
		b.cluster = c
		return err
	})
	if err != nil {
		return fail(fmt.Errorf("kind cluster: %w", err))
	}
	p.Info["cluster"] = "kind " + b.cluster.Name
	p.Info["kind.nodeImage"] = kind.DefaultNodeImage

	// Images: official bases pulled once, derived images built
	// content-addressed (per the pattern's image roles), the echo backend
	// FROM scratch; all loaded into kind.
	var refs map[string]string
	err = b.tl.Time("images", func() error {
		ictx, cancel := context.WithTimeout(ctx, to.Scaled(to.ImageLoad))
		defer cancel()
		var err error
		refs, err = buildImages(ictx, docker, b.pat, goarch, time.Duration(to.ProgressEvery), b.logf, p.Info)
		if err != nil {
			return err
		}
		return b.cluster.LoadImages(ictx, uniqueRefs(refs)...)
	})
	if err != nil {
		return fail(fmt.Errorf("images: %w", err))
	}
	keyRole, _ := b.pat.ImageRole(b.pat.KeystoreRole)

	// Database: MySQL on the kind network, schema from the management
	// node's image itself. Pattern 0 runs on H2 unless APIMCONF_DATABASE=mysql.
	useMySQL, err := wantMySQL(b.pat)
	if err != nil {
		return fail(err)
	}
	if useMySQL {
		err = b.tl.Time("database", func() error {
			dctx, cancel := context.WithTimeout(ctx, to.Scaled(to.DatabaseReady))
			defer cancel()
			scripts, err := dbScriptsFromImage(dctx, docker, refs[keyRole.Role], keyRole.Home)
			if err != nil {
				return err
			}
			defer os.RemoveAll(scripts)
			db, err := mysql.Start(dctx, mysql.Options{Network: "kind", NetworkAlias: "mysql", DBScriptsDir: scripts, StartupTimeout: to.Scaled(to.DatabaseReady), Log: b.log})
			b.db = db
			if err != nil {
				return err
			}
			p.Info["database"] = fmt.Sprintf("MySQL %s at %s (tables %s)", db.Version(), db.InClusterAddr(), db.Tables())
			return nil
		})
		if err != nil {
			return fail(fmt.Errorf("database: %w", err))
		}
	} else {
		p.Info["database"] = "H2 inside the all-in-one pod (chart default; APIMCONF_DATABASE=mysql for MySQL)"
	}

	rc, err := b.cluster.RESTConfig()
	if err != nil {
		return fail(err)
	}
	var trust keystores.Trust
	inputs := patterns.Inputs{
		Images: map[string]patterns.Image{},
		Admin:  patterns.Credentials{Username: b.cfg.Admin.Username, Password: b.cfg.Admin.Password},
	}
	for role, ref := range refs {
		inputs.Images[role] = imageOf(ref)
	}
	if b.db != nil {
		inputs.Database = &patterns.Database{Host: b.db.InClusterAddr(),
			APIMDB: mysql.DefaultAPIMDB, SharedDB: mysql.DefaultSharedDB,
			APIMUser: b.db.User(mysql.DefaultAPIMDB).Name, APIMPassword: b.db.User(mysql.DefaultAPIMDB).Password,
			SharedUser: b.db.User(mysql.DefaultSharedDB).Name, SharedPassword: b.db.User(mysql.DefaultSharedDB).Password}
	}
	redact.Add(inputs.Secrets()...)
	return b.finish(ctx, p, patterns.Options{
		Pattern: b.pat.Number, Platform: patterns.PlatformKind, RESTConfig: rc, Inputs: inputs,
		Hooks: map[patterns.HookID]charts.HookFunc{patterns.HookKeystoreSecret: patterns.KeystoreHook(patterns.KeystoreOptions{
			APIMImage: refs[keyRole.Role], APIMHome: keyRole.Home, Docker: docker, Namespace: b.pat.Namespace, Trust: &trust, Pattern: b.pat})},
		// The checks register IS 7 themselves (km.is7-registration).
		Disabled:    map[patterns.HookID]bool{patterns.HookRegisterKeyManager: true},
		PortForward: true, Trust: &trust, TimeoutScale: b.cfg.Timeouts.Multiplier, Log: b.log,
	}, fail)
}

// finish deploys and fills the platform from the deployment.
func (b *bringUp) finish(ctx context.Context, p *Platform, o patterns.Options, fail func(error) (*Platform, error)) (*Platform, error) {
	to := b.cfg.Timeouts
	dctx, cancel := context.WithTimeout(ctx, to.Scaled(to.Deploy)*time.Duration(max(1, len(b.pat.Releases()))))
	defer cancel()
	d, err := patterns.Deploy(dctx, o)
	b.deploy = d
	if d != nil {
		b.tl.Phases = append(b.tl.Phases, d.Phases()...)
	}
	if err != nil {
		return fail(fmt.Errorf("deploy: %w", err))
	}
	p.Endpoints = d.Endpoints
	// The inspector answers the topology checks from the cluster; its
	// per-pod forwards are resolved by the Endpoints' dialer and closed
	// before the deployment goes down.
	insp, err := NewKubeInspector(KubeInspectorOptions{RESTConfig: o.RESTConfig, Pattern: d.Pattern, Endpoints: d.Endpoints, TimeoutScale: o.TimeoutScale, Log: b.log})
	if err != nil {
		return fail(err)
	}
	p.Inspector, p.Endpoints.Resolver = insp, insp
	closeDeploy := p.Close
	p.Close = func(ctx context.Context) error { insp.Close(); return closeDeploy(ctx) }
	for _, c := range d.Capabilities() {
		p.Capabilities = append(p.Capabilities, conformance.Capability(c))
	}
	info := d.Info()
	for _, r := range info.Releases {
		p.Info["chart."+r.Name+".chart"] = r.Chart
		p.Info["chart."+r.Name+".version"] = r.ChartVersion
		p.Info["chart."+r.Name+".source"] = r.Source
	}
	p.Phases = phases(b.tl)
	return p, nil
}

// onExisting deploys the pattern onto the cluster of a kubeconfig context.
// Images must be reachable by that cluster and the database is external.
func (b *bringUp) onExisting(ctx context.Context, p *Platform) (*Platform, error) {
	c, err := existing.Open(existing.Options{Kubeconfig: b.cfg.Kubeconfig, Context: b.cfg.Context})
	if err != nil {
		return p, err
	}
	rc := c.RESTConfig()
	p.Info["cluster"] = "context " + c.Context + " (" + c.Server + ")"
	p.Info["kube.context"] = c.Context
	var trust keystores.Trust
	return b.finish(ctx, p, patterns.Options{
		Pattern: b.pat.Number, Platform: patterns.PlatformKind, RESTConfig: rc,
		Inputs:      patterns.Inputs{Admin: patterns.Credentials{Username: b.cfg.Admin.Username, Password: b.cfg.Admin.Password}},
		Disabled:    map[patterns.HookID]bool{patterns.HookRegisterKeyManager: true},
		PortForward: true, Trust: &trust, TimeoutScale: b.cfg.Timeouts.Multiplier, Log: b.log,
	}, func(err error) (*Platform, error) { b.failed = true; p.Phases = phases(b.tl); return p, err })
}

func (b *bringUp) diagnose(ctx context.Context, dir string) error {
	b.failed = true
	if b.deploy == nil {
		return errors.New("nothing was deployed, so there is nothing to collect")
	}
	_, err := b.deploy.Diagnostics(ctx, dir)
	return err
}

// close tears down in reverse order. A reused or kept cluster stays, and so
// does everything on it.
func (b *bringUp) close(ctx context.Context) error {
	var errs []error
	keep := b.cfg.Reuse || (b.cfg.Keep && b.failed)
	if b.deploy != nil {
		if err := b.deploy.Down(ctx, !keep); err != nil {
			errs = append(errs, err)
		}
	}
	if b.db != nil && !keep {
		if err := b.db.Stop(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if b.cluster != nil {
		kept, err := b.cluster.Teardown(b.failed)
		if err != nil {
			errs = append(errs, err)
		} else if kept != "" {
			b.logf("kind cluster %s kept: %s", b.cluster.Name, kept)
		}
	}
	return errors.Join(errs...)
}

// buildImages pulls the official base of every image role of the pattern,
// builds the derived images (fixtures/images, content-addressed, skipped
// when present) and the echo backend, and returns the image reference per
// role (patterns.ImageAPIM, ImageACP, ..., ImageEcho). info records bases
// with their IDs and the reference of every role.
func buildImages(ctx context.Context, docker *client.Client, pat *patterns.Pattern, goarch string, progress time.Duration, logf func(string, ...any), info map[string]string) (map[string]string, error) {
	for _, r := range pat.Images {
		if _, done := info["image "+r.Base]; done {
			continue
		}
		id, err := images.Ensure(ctx, docker, r.Base, progress, logf)
		if err != nil {
			return nil, err
		}
		info["image "+r.Base] = id
	}
	builder := &images.Builder{Docker: docker, Logf: logf}
	refs := map[string]string{}
	for _, r := range pat.Images {
		spec, derived, err := derivedSpec(r)
		if err != nil {
			return nil, err
		}
		ref := r.Base
		if derived {
			res, err := builder.Build(ctx, spec)
			if err != nil {
				return nil, fmt.Errorf("image role %s (FROM %s): %w", r.Role, r.Base, err)
			}
			ref = res.Ref
		}
		refs[r.Role] = ref
		info["image "+r.Role] = ref
	}
	if pat.Echo != nil {
		e, err := echo.BuildImage(ctx, builder, goarch)
		if err != nil {
			return nil, err
		}
		refs[patterns.ImageEcho] = e.Ref
		info["image "+patterns.ImageEcho] = e.Ref
	}
	return refs, nil
}

// derivedSpec maps an image role to its fixtures/images build spec; false
// means the official image runs as it is.
func derivedSpec(r patterns.ImageRole) (images.Spec, bool, error) {
	var s images.Spec
	switch r.Derive {
	case patterns.DeriveNone:
		return s, false, nil
	case patterns.DeriveMySQLDriver:
		s = images.APIMWithMySQL(r.Base, r.Home)
	case patterns.DeriveISNotificationHandler:
		s = images.ISWithNotificationHandler(r.Base, r.Home)
	default:
		return s, false, fmt.Errorf("image role %s: unknown derivation %q (fixtures/patterns and suites/platform disagree; update derivedSpec)", r.Role, r.Derive)
	}
	s.Repository = r.Repository
	return s, true, nil
}

// uniqueRefs returns the distinct references, sorted (KM and ACP share one).
func uniqueRefs(refs map[string]string) []string {
	seen := map[string]bool{}
	var out []string
	for _, r := range refs {
		if !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	sort.Strings(out)
	return out
}

// wantMySQL says whether the run starts the MySQL fixture: always for
// patterns 1-6; for pattern 0 (H2 by default) when APIMCONF_DATABASE=mysql.
func wantMySQL(pat *patterns.Pattern) (bool, error) {
	switch v := strings.ToLower(os.Getenv("APIMCONF_DATABASE")); v {
	case "":
		return pat.Database == patterns.DatabaseMySQL, nil
	case "mysql":
		return true, nil
	case "h2":
		if pat.Database != patterns.DatabaseH2OrMySQL {
			return false, fmt.Errorf("APIMCONF_DATABASE=h2: pattern %d shares its databases across nodes and needs MySQL; unset APIMCONF_DATABASE (only pattern 0 runs on H2)", pat.Number)
		}
		return false, nil
	default:
		return false, fmt.Errorf("APIMCONF_DATABASE=%q: want mysql or h2 (h2 only for pattern 0)", v)
	}
}

// dbScriptsFromImage copies the MySQL schema scripts out of the APIM image
// under test (product home home, default the all-in-one's) into a temp dir
// laid out as fixtures/mysql expects, so the schema always matches the
// product version being certified.
func dbScriptsFromImage(ctx context.Context, docker keystores.DockerAPI, image, home string) (string, error) {
	if home == "" {
		home = images.APIMHome
	}
	shared := home + "/dbscripts/mysql.sql"
	apimgt := home + "/dbscripts/apimgt/mysql.sql"
	files, err := keystores.ReadFromImage(ctx, docker, image, shared, apimgt)
	if err != nil {
		return "", fmt.Errorf("reading the schema scripts from %s: %w", image, err)
	}
	dir, err := os.MkdirTemp("", "apimconf-dbscripts-")
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Join(dir, "apimgt"), 0o755); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "mysql.sql"), files[shared], 0o644); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "apimgt", "mysql.sql"), files[apimgt], 0o644); err != nil {
		return "", err
	}
	return dir, nil
}

// imageOf splits "registry/repo:tag" the way chart values want it.
func imageOf(ref string) patterns.Image {
	name, tag := ref, "latest"
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		name, tag = ref[:i], ref[i+1:]
	}
	reg, repo := "", name
	if i := strings.Index(name, "/"); i >= 0 {
		reg, repo = name[:i], name[i+1:]
	}
	return patterns.Image{Registry: reg, Repository: repo, Tag: tag}
}

func phases(tl patterns.Timeline) []Phase {
	out := make([]Phase, 0, len(tl.Phases))
	for _, ph := range tl.Phases {
		out = append(out, Phase{Name: ph.Name, Duration: ph.Duration})
	}
	return out
}
