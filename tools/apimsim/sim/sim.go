// Package sim emulates the HTTP surface of a WSO2 API Manager deployment
// pattern (today pattern 6: an APIM 4.6/4.7 all-in-one node plus WSO2 Identity
// Server 7 as key manager) on loopback listeners. Requests to WSO2's REST APIs
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
	// Pattern is the deployment pattern to emulate (6 today).
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
)

// listenerSpec is one host:port of the emulated deployment.
type listenerSpec struct {
	Host   string
	Port   int
	TLS    bool
	Roles  []role
	Fields []string // framework.Endpoints fields this listener's URL fills
}

// topology describes a pattern as data. Adding patterns 0-5 means adding
// entries here (and, for separate nodes, listeners with split roles); the
// handlers are per role and do not know which node they run on.
type topology struct {
	Pattern     int
	Description string
	Listeners   []listenerSpec
}

const (
	aioHost     = "apim-wso2am-all-in-one-am-service"
	isHost      = "is-identity-server"
	backendHost = "apim-conformance-echo"
)

var topologies = map[int]topology{
	6: {
		Pattern:     6,
		Description: "APIM 4.7 all-in-one with WSO2 Identity Server 7 as key manager",
		Listeners: []listenerSpec{
			{Host: aioHost, Port: 9443, TLS: true, Roles: []role{roleManagement, roleKeyManager, roleGWMgmt}, Fields: []string{"management"}},
			{Host: aioHost, Port: 8243, TLS: true, Roles: []role{roleGateway}, Fields: []string{"gateway"}},
			{Host: isHost, Port: 9443, TLS: true, Roles: []role{roleIS}, Fields: []string{"identityServer"}},
			{Host: backendHost, Port: 8080, Roles: []role{roleBackend}, Fields: []string{"backend"}},
		},
	},
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
}

// Start brings the pattern up on 127.0.0.1 and returns once every listener
// accepts connections.
func Start(ctx context.Context, o Options) (*Platform, error) {
	if o.Pattern == 0 {
		o.Pattern = 6
	}
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
	var hosts []string
	for _, l := range topo.Listeners {
		hosts = append(hosts, l.Host)
	}
	caPEM, cert, tlsErr := newTLS(hosts)
	wg.Wait()
	if err := errors.Join(specErr, keyErr, tlsErr); err != nil {
		return nil, err
	}

	p := &Platform{opts: o, faults: faults, topo: topo, specs: specs, started: time.Now()}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	if faults[FaultSlowStart] {
		p.ready = p.started.Add(o.SlowStart)
	}
	p.eps = framework.Endpoints{CAPEM: caPEM, HostMap: map[string]string{}}
	lns := make([]net.Listener, len(topo.Listeners))
	for i, ls := range topo.Listeners {
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
	tlsCfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	for i, ls := range topo.Listeners {
		mux := http.NewServeMux()
		for _, r := range ls.Roles {
			p.register(mux, r)
		}
		name := ls.Host + ":" + strconv.Itoa(ls.Port)
		srv := &http.Server{Handler: p.frontDoor(name, ls, mux), ReadHeaderTimeout: 10 * time.Second, ErrorLog: nil}
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

func (p *Platform) register(mux *http.ServeMux, r role) {
	switch r {
	case roleManagement:
		p.apim.registerManagement(mux)
	case roleKeyManager:
		p.apim.km.register(mux, "")
	case roleGWMgmt:
		p.apim.registerGatewayMgmt(mux)
	case roleGateway:
		mux.Handle("/", http.HandlerFunc(p.apim.gateway))
	case roleIS:
		p.is.register(mux)
	case roleBackend:
		mux.Handle("/", echo.Handler())
	}
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

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = 200
	}
	return w.ResponseWriter.Write(b)
}

// frontDoor applies what sits in front of every handler: the request log,
// slow-start, portal-down and contract validation.
func (p *Platform) frontDoor(name string, ls listenerSpec, mux http.Handler) http.Handler {
	var h http.Handler = mux
	if hasRole(ls, roleManagement) || hasRole(ls, roleGWMgmt) {
		h = p.contractMiddleware(h)
	}
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
