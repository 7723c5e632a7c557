// Package sim emulates the HTTP surface of a WSO2 API Manager deployment
// pattern (0-6: the all-in-one alone or in HA, with a separate universal
// gateway, the distributed control plane / traffic manager / gateway / key
// manager layouts, and the all-in-one with WSO2 Identity Server 7 as key
// manager) on loopback listeners, one per Kubernetes Service port the charts
// render, with replicas behind them. Requests to WSO2's REST APIs
// are validated against WSO2's own OpenAPI contracts and so are the emulator's
// answers; everything else follows the observed behaviour recorded in
// shared/facts/wso2-rest-flow.md. Named faults break one behaviour each, so the
// conformance checks can be shown to fail for the right reason.
package sim

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/apim-conformance/apim-conformance/fixtures/backends/echo"
	"github.com/apim-conformance/apim-conformance/suites/framework"
)

// Options configure Start.
type Options struct {
	// Pattern is the deployment pattern to emulate, 0-6 (Patterns lists
	// them). The zero value is pattern 0.
	Pattern int
	// Faults are fault names (see Faults); items may be comma-separated lists.
	Faults []string
	// SpecDir holds WSO2's REST contracts. Empty: APIMSIM_SPEC_DIR, then
	// shared/wso2-rest-specs searched upward from the working directory and
	// the executable.
	SpecDir string
	// AdminUser and AdminPassword are the super-admin of APIM and IS
	// (default admin/admin).
	AdminUser, AdminPassword string
	// SlowStart is how long the slow-start fault keeps listeners at 503
	// (default 1500ms).
	SlowStart time.Duration
	// Log receives one line per request and every violation; nil discards.
	// Secrets (Authorization headers, client secrets, passwords, tokens) are
	// never written.
	Log io.Writer
}

// Violation is a contract breach seen by the emulator: a request that does not
// match WSO2's contract (Direction "request"), or an answer of the emulator
// that does not (Direction "response", an emulator bug).
type Violation struct {
	Time                            time.Time
	Method, Path, Direction, Detail string
}

// role is one piece of a WSO2 node's HTTP surface. A listener serves a set of
// roles, so patterns differ only in how roles are spread over host names.
type role string

const (
	roleManagement role = "management"   // portals, Publisher/DevPortal/Admin REST, DCR, internal data
	roleKeyManager role = "key-manager"  // resident KM /oauth2/*
	roleGWMgmt     role = "gateway-mgmt" // /api/am/gateway/v2 on the gateway node's servlet port
	roleGateway    role = "gateway"      // API traffic (8243)
	roleIS         role = "identity-server"
	roleBackend    role = "backend" // echo backend (plain HTTP)
	roleCarbon     role = "carbon"  // /services/Version, what every WSO2 node answers (TM, KM, GW)
	roleBinary     role = "binary"  // Thrift/JMS ports: accept connections, speak no HTTP API
)

// listenerSpec is one host:port of the emulated deployment: a Service port
// (Replica -1), or one replica's own address.
type listenerSpec struct {
	Host      string
	Port      int
	TLS       bool
	Roles     []role
	Fields    []string // framework.Endpoints fields this listener's URL fills
	Component string
	Replica   int
}

// listeners flattens the topology: every Service port, then, for components
// with more than one replica, every replica address's ports.
func (t topology) listeners() []listenerSpec {
	var out []listenerSpec
	for _, c := range t.Components {
		for _, ps := range c.Ports {
			out = append(out, listenerSpec{Host: c.Service, Port: ps.Port, TLS: ps.TLS, Roles: ps.Roles, Fields: ps.Fields, Component: c.Name, Replica: -1})
		}
		if c.Replicas > 1 {
			for i, h := range c.ReplicaHosts {
				for _, ps := range c.replicaPorts() {
					out = append(out, listenerSpec{Host: h, Port: ps.Port, TLS: ps.TLS, Roles: ps.Roles, Component: c.Name, Replica: i})
				}
			}
		}
	}
	return out
}

// Platform is a running emulated deployment.
type Platform struct {
	opts    Options
	faults  map[string]bool
	topo    topology
	specs   *specSet
	eps     framework.Endpoints
	started time.Time
	ready   time.Time // slow-start: 503 until then

	servers []*http.Server
	out     *http.Client // the platform's own outbound calls, via Endpoints
	ctx     context.Context
	cancel  context.CancelFunc
	bg      sync.WaitGroup

	logMu      sync.Mutex
	violations []Violation

	apim *apimNode
	is   *isNode

	comps    map[string]*compState
	svcPorts map[string]string // Service host:port -> component
	configs  map[string]string // component -> rendered deployment.toml
	gateways []*gatewayInstance
	tm       *throttler
}

// Start brings the pattern up on 127.0.0.1 and returns once every listener
// accepts connections.
func Start(ctx context.Context, o Options) (*Platform, error) {
	topo, ok := topologies[o.Pattern]
	if !ok {
		var have []string
		for k := range topologies {
			have = append(have, strconv.Itoa(k))
		}
		sort.Strings(have)
		return nil, fmt.Errorf("pattern %d is not emulated yet; emulated patterns: %s", o.Pattern, strings.Join(have, ", "))
	}
	faults, err := parseFaults(o.Faults)
	if err != nil {
		return nil, err
	}
	if o.AdminUser == "" {
		o.AdminUser = "admin"
	}
	if o.AdminPassword == "" {
		o.AdminPassword = "admin"
	}
	if o.SlowStart <= 0 {
		o.SlowStart = 1500 * time.Millisecond
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	dir, err := findSpecDir(o.SpecDir)
	if err != nil {
		return nil, err
	}
	// Keys and contracts are independent; overlap them.
	var specs *specSet
	var specErr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); specs, specErr = loadSpecs(dir) }()
	keys, keyErr := signingKeys()
	lspecs := topo.listeners()
	var hosts []string
	for _, l := range lspecs {
		hosts = append(hosts, l.Host)
	}
	caPEM, cert, tlsErr := newTLS(hosts)
	wg.Wait()
	if err := errors.Join(specErr, keyErr, tlsErr); err != nil {
		return nil, err
	}

	p := &Platform{opts: o, faults: faults, topo: topo, specs: specs, started: time.Now(),
		comps: map[string]*compState{}, svcPorts: map[string]string{}, configs: map[string]string{}, tm: newThrottler(faults[FaultTMNotThrottling])}
	for _, c := range topo.Components {
		p.comps[c.Name] = newCompState(c)
		if c.Wiring != nil {
			w := *c.Wiring
			if faults[FaultGatewayWrongKMURL] && c.Name == topo.gatewayComponent() {
				w = w.withWrongKM()
			}
			p.configs[c.Name] = w.render(c.Name)
		}
	}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	if faults[FaultSlowStart] {
		p.ready = p.started.Add(o.SlowStart)
	}
	p.eps = framework.Endpoints{CAPEM: caPEM, HostMap: map[string]string{}}
	lns := make([]net.Listener, len(lspecs))
	for i, ls := range lspecs {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			for _, l := range lns[:i] {
				l.Close()
			}
			return nil, err
		}
		lns[i] = ln
		hp := net.JoinHostPort(ls.Host, strconv.Itoa(ls.Port))
		p.eps.HostMap[hp] = ln.Addr().String()
		if ls.Replica < 0 {
			p.svcPorts[hp] = ls.Component
		}
		scheme := "http"
		if ls.TLS {
			scheme = "https"
		}
		u := scheme + "://" + hp
		for _, f := range ls.Fields {
			switch f {
			case "management":
				p.eps.Management = u
			case "gateway":
				p.eps.Gateway = u
			case "gatewayManagement":
				p.eps.GatewayManagement = u
			case "keyManager":
				p.eps.KeyManager = u
			case "identityServer":
				p.eps.IdentityServer = u
			case "backend":
				p.eps.Backend = u
			}
		}
	}
	if p.out, err = p.eps.HTTPClient(10 * time.Second); err != nil {
		return nil, err
	}
	p.apim = newAPIMNode(p, keys.apim, keys.wrong)
	if p.eps.IdentityServer != "" {
		p.is = newISNode(p, keys.is, keys.wrong)
	}
	for _, c := range topo.Components {
		if !c.hasRole(roleGateway) {
			continue
		}
		w := *c.Wiring
		if faults[FaultGatewayWrongKMURL] {
			w = w.withWrongKM()
		}
		for i := 0; i < c.Replicas; i++ {
			p.gateways = append(p.gateways, newGatewayInstance(p, c.Name, i, w))
		}
	}
	tlsCfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	for i, ls := range lspecs {
		name := ls.Host + ":" + strconv.Itoa(ls.Port)
		var h http.Handler
		if ls.Replica < 0 {
			hs := make([]http.Handler, p.comps[ls.Component].spec.Replicas)
			for r := range hs {
				hs[r] = p.replicaHandler(ls, r)
			}
			h = p.serviceDispatch(ls, hs)
		} else {
			h = p.replicaDirect(ls, p.replicaHandler(ls, ls.Replica))
		}
		srv := &http.Server{Handler: p.frontDoor(name, ls, h), ReadHeaderTimeout: 10 * time.Second, ErrorLog: nil}
		ln := lns[i]
		if ls.TLS {
			srv.TLSConfig = tlsCfg
			ln = tls.NewListener(ln, tlsCfg)
		}
		p.servers = append(p.servers, srv)
		go func() { _ = srv.Serve(ln) }()
	}
	_ = ctx // Start itself does not block on ctx; Close ends the platform.
	return p, nil
}

// replicaHandler is replica r's surface on the listener's port: the roles'
// handlers, behind contract validation for WSO2's REST APIs.
func (p *Platform) replicaHandler(ls listenerSpec, r int) http.Handler {
	mux := http.NewServeMux()
	for _, x := range ls.Roles {
		p.register(mux, x, ls.Component, r)
	}
	var h http.Handler = mux
	if hasRole(ls, roleManagement) || hasRole(ls, roleGWMgmt) {
		h = p.contractMiddleware(h)
	}
	return h
}

func (p *Platform) register(mux *http.ServeMux, r role, component string, replica int) {
	switch r {
	case roleManagement:
		p.apim.registerManagement(mux)
	case roleKeyManager:
		p.apim.km.register(mux, "")
	case roleGWMgmt:
		p.apim.registerGatewayMgmt(mux)
	case roleGateway:
		mux.Handle("/", http.HandlerFunc(p.gateway(component, replica).serve))
	case roleIS:
		p.is.register(mux)
	case roleBackend:
		mux.Handle("/", echo.Handler())
	case roleCarbon:
		mux.HandleFunc("GET /services/Version", carbonVersion)
	case roleBinary:
		// Accepts connections; the event hub and throttling traffic these
		// ports carry is done in process.
	}
}

// gateway returns the gateway instance of a component's replica.
func (p *Platform) gateway(component string, replica int) *gatewayInstance {
	for _, g := range p.gateways {
		if g.comp == component && g.idx == replica {
			return g
		}
	}
	panic("apimsim: no gateway instance " + component + "/" + strconv.Itoa(replica))
}

// Endpoints returns the URLs, CA and host map of the running platform.
func (p *Platform) Endpoints() framework.Endpoints {
	e := p.eps
	e.CAPEM = append([]byte(nil), p.eps.CAPEM...)
	e.HostMap = map[string]string{}
	for k, v := range p.eps.HostMap {
		e.HostMap[k] = v
	}
	return e
}

// Violations returns the contract violations seen so far.
func (p *Platform) Violations() []Violation {
	p.logMu.Lock()
	defer p.logMu.Unlock()
	return append([]Violation(nil), p.violations...)
}

// FaultsActive returns the active fault names, sorted.
func (p *Platform) FaultsActive() []string {
	var out []string
	for f := range p.faults {
		out = append(out, f)
	}
	sort.Strings(out)
	return out
}

// Close stops the listeners and waits for background deliveries (deployment
// acks, IS notifications).
func (p *Platform) Close() error {
	p.cancel()
	var errs []error
	for _, s := range p.servers {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		if err := s.Shutdown(ctx); err != nil {
			errs = append(errs, s.Close())
		}
		cancel()
	}
	p.apim.stopTimers()
	p.bg.Wait()
	p.out.CloseIdleConnections()
	return errors.Join(errs...)
}

func (p *Platform) fault(name string) bool { return p.faults[name] }

// go runs f in the background, tracked so Close can wait for it.
func (p *Platform) goBG(f func()) {
	p.bg.Add(1)
	go func() { defer p.bg.Done(); f() }()
}

var secretRE = regexp.MustCompile(`(?i)(bearer|basic)\s+[A-Za-z0-9._~+/=-]+|eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*|("?(client_?secret|consumer_?secret|password|access_?token|refresh_?token|token)"?\s*[:=]\s*"?)[^"&,\s}]+`)

// redact removes anything that looks like a credential from a log line.
func redact(s string) string {
	return secretRE.ReplaceAllStringFunc(s, func(m string) string {
		if i := strings.IndexAny(m, ":="); i >= 0 && !strings.HasPrefix(strings.ToLower(m), "bearer") && !strings.HasPrefix(strings.ToLower(m), "basic") && !strings.HasPrefix(m, "eyJ") {
			return m[:i+1] + "[REDACTED]"
		}
		return "[REDACTED]"
	})
}

func (p *Platform) logf(format string, args ...any) {
	line := redact(fmt.Sprintf(format, args...))
	p.logMu.Lock()
	defer p.logMu.Unlock()
	fmt.Fprintf(p.opts.Log, "%s %s\n", time.Now().Format("15:04:05.000"), line)
}

func (p *Platform) violation(method, path, dir, detail string) {
	detail = redact(detail)
	v := Violation{Time: time.Now(), Method: method, Path: path, Direction: dir, Detail: detail}
	p.logMu.Lock()
	p.violations = append(p.violations, v)
	p.logMu.Unlock()
	p.logf("VIOLATION %s %s %s: %s", dir, method, path, detail)
}

// statusWriter remembers the status for the request log.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(c int) {
	if w.status == 0 {
		w.status = c
	}
	w.ResponseWriter.WriteHeader(c)
}

// Unwrap lets http.ResponseController reach the connection (a deleted
// replica drops it).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = 200
	}
	return w.ResponseWriter.Write(b)
}

// frontDoor applies what sits in front of every listener: the request log,
// slow-start and portal-down. Contract validation sits behind the replica
// choice (replicaHandler).
func (p *Platform) frontDoor(name string, ls listenerSpec, mux http.Handler) http.Handler {
	h := mux
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			p.logf("%s %s %s -> %d (%s)", name, r.Method, r.URL.Path, sw.status, time.Since(start).Round(time.Microsecond))
		}()
		if !p.ready.IsZero() && time.Now().Before(p.ready) {
			// A node still booting: Tomcat answers before the webapps are up.
			sw.Header().Set("Retry-After", strconv.Itoa(int(time.Until(p.ready)/time.Second)+1))
			sw.Header().Set("Content-Type", "text/plain")
			sw.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(sw, "Service Unavailable: server is starting\n")
			return
		}
		if (hasRole(ls, roleManagement) || hasRole(ls, roleIS)) && p.fault(FaultPortalDown) && isPortalPath(r.URL.Path) {
			sw.Header().Set("Content-Type", "text/html")
			sw.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(sw, "<html><body><h1>503 Service Unavailable</h1></body></html>")
			return
		}
		h.ServeHTTP(sw, r)
	})
}

func hasRole(ls listenerSpec, r role) bool {
	for _, x := range ls.Roles {
		if x == r {
			return true
		}
	}
	return false
}

func isPortalPath(p string) bool {
	for _, pre := range []string{"/publisher", "/devportal", "/admin", "/carbon", "/console"} {
		if p == pre || strings.HasPrefix(p, pre+"/") {
			return true
		}
	}
	return false
}
