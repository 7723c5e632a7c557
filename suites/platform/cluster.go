package platform

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
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

// Official product images the derived images are built from (pattern 6).
const (
	APIMBaseImage = "wso2/wso2am:4.7.0"
	ISBaseImage   = "wso2/wso2is:7.2.0"
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
	// content-addressed, the echo backend FROM scratch; all loaded into kind.
	var apimRef, isRef, echoRef string
	err = b.tl.Time("images", func() error {
		ictx, cancel := context.WithTimeout(ctx, to.Scaled(to.ImageLoad))
		defer cancel()
		for _, base := range []string{APIMBaseImage, ISBaseImage} {
			id, err := images.Ensure(ictx, docker, base, time.Duration(to.ProgressEvery), b.logf)
			if err != nil {
				return err
			}
			p.Info["image."+base] = base
			p.Info["image."+base+".digest"] = id
		}
		builder := &images.Builder{Docker: docker, Logf: b.logf}
		apim, err := builder.Build(ictx, images.APIMWithMySQL(APIMBaseImage, ""))
		if err != nil {
			return err
		}
		is, err := builder.Build(ictx, images.ISWithNotificationHandler(ISBaseImage, ""))
		if err != nil {
			return err
		}
		e, err := echo.BuildImage(ictx, builder, goarch)
		if err != nil {
			return err
		}
		apimRef, isRef, echoRef = apim.Ref, is.Ref, e.Ref
		p.Info["image.apim"], p.Info["image.is"], p.Info["image.echo"] = apimRef, isRef, echoRef
		return b.cluster.LoadImages(ictx, apimRef, isRef, echoRef)
	})
	if err != nil {
		return fail(fmt.Errorf("images: %w", err))
	}

	// Database: MySQL on the kind network, schema from the APIM image itself.
	err = b.tl.Time("database", func() error {
		dctx, cancel := context.WithTimeout(ctx, to.Scaled(to.DatabaseReady))
		defer cancel()
		scripts, err := dbScriptsFromImage(dctx, docker, apimRef)
		if err != nil {
			return err
		}
		defer os.RemoveAll(scripts)
		db, err := mysql.Start(dctx, mysql.Options{Network: "kind", NetworkAlias: "mysql", DBScriptsDir: scripts, StartupTimeout: to.Scaled(to.DatabaseReady), Log: b.log})
		b.db = db
		if err != nil {
			return err
		}
		p.Info["database"] = fmt.Sprintf("MySQL at %s (tables %s)", db.InClusterAddr(), db.Tables())
		p.Info["database.version"] = db.Version()
		return nil
	})
	if err != nil {
		return fail(fmt.Errorf("database: %w", err))
	}

	rc, err := b.cluster.RESTConfig()
	if err != nil {
		return fail(err)
	}
	var trust keystores.Trust
	inputs := patterns.Inputs{
		Images: map[string]patterns.Image{patterns.ImageAPIM: imageOf(apimRef), patterns.ImageIS: imageOf(isRef), patterns.ImageEcho: imageOf(echoRef)},
		Database: &patterns.Database{Host: b.db.InClusterAddr(),
			APIMDB: mysql.DefaultAPIMDB, SharedDB: mysql.DefaultSharedDB,
			APIMUser: b.db.User(mysql.DefaultAPIMDB).Name, APIMPassword: b.db.User(mysql.DefaultAPIMDB).Password,
			SharedUser: b.db.User(mysql.DefaultSharedDB).Name, SharedPassword: b.db.User(mysql.DefaultSharedDB).Password},
		Admin: patterns.Credentials{Username: b.cfg.Admin.Username, Password: b.cfg.Admin.Password},
	}
	redact.Add(inputs.Secrets()...)
	return b.finish(ctx, p, patterns.Options{
		Pattern: b.pat.Number, Platform: patterns.PlatformKind, RESTConfig: rc, Inputs: inputs,
		Hooks: map[patterns.HookID]charts.HookFunc{patterns.HookKeystoreSecret: patterns.KeystoreHook(patterns.KeystoreOptions{
			APIMImage: apimRef, Docker: docker, Namespace: b.pat.Namespace, Trust: &trust})},
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

// dbScriptsFromImage copies the MySQL schema scripts out of the APIM image
// under test into a temp dir laid out as fixtures/mysql expects, so the
// schema always matches the product version being certified.
func dbScriptsFromImage(ctx context.Context, docker keystores.DockerAPI, image string) (string, error) {
	shared := images.APIMHome + "/dbscripts/mysql.sql"
	apimgt := images.APIMHome + "/dbscripts/apimgt/mysql.sql"
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
