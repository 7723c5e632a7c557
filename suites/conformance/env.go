package conformance

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/apim-conformance/apim-conformance/suites/framework"
	"github.com/apim-conformance/apim-conformance/suites/framework/apim"
	"github.com/apim-conformance/apim-conformance/suites/framework/oauth"
	"github.com/apim-conformance/apim-conformance/suites/framework/rest"
)

// Env is what checks share: config, endpoints, typed clients and the
// resources that several checks need (portal token, published API,
// applications), created once on first use and deleted by Cleanup.
type Env struct {
	Config       framework.Config
	Endpoints    framework.Endpoints
	Capabilities []Capability
	HTTP         *http.Client
	JWKS         *oauth.JWKS
	// Inspector looks behind the HTTP surface (configs, Services,
	// replicas); nil when the platform offers none.
	Inspector Inspector
	// Suffix makes the names of created resources unique per run.
	Suffix string
	Log    func(format string, args ...any)

	portalToken lazy[string]
	isKM        lazy[apim.KeyManager]
	api         lazy[apim.API]
	subscribed  lazy[App]
	orphan      lazy[App]

	mu       sync.Mutex
	cleanups []func(context.Context) error
}

// App is an application with keys at the pattern's application key manager.
type App struct {
	ID   string
	Keys apim.Keys
}

// Client returns the OAuth client of the app's keys.
func (a App) Client() oauth.Client {
	return oauth.Client{ID: a.Keys.ConsumerKey, Secret: a.Keys.ConsumerSecret}
}

// NewEnv builds the environment for a platform.
func NewEnv(cfg framework.Config, ep framework.Endpoints, caps []Capability, opts ...EnvOption) (*Env, error) {
	if err := ep.Validate(); err != nil {
		return nil, err
	}
	httpc, err := ep.HTTPClient(cfg.Timeouts.Scaled(cfg.Timeouts.Request))
	if err != nil {
		return nil, err
	}
	suffix := strings.NewReplacer(".", "", "-", "").Replace(cfg.RunID)
	if len(suffix) > 12 {
		suffix = suffix[len(suffix)-12:]
	}
	if suffix == "" {
		suffix = fmt.Sprint(time.Now().UnixNano() % 1e9)
	}
	e := &Env{Config: cfg, Endpoints: ep, Capabilities: caps, HTTP: httpc, JWKS: &oauth.JWKS{HTTP: httpc}, Suffix: suffix}
	for _, o := range opts {
		o(e)
	}
	return e, nil
}

// Has reports whether the platform has a capability.
func (e *Env) Has(c Capability) bool {
	for _, h := range e.Capabilities {
		if h == c {
			return true
		}
	}
	return false
}

func (e *Env) logf(format string, args ...any) {
	if e.Log != nil {
		e.Log(format, args...)
	}
}

func (e *Env) onCleanup(f func(context.Context) error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.cleanups = append(e.cleanups, f)
}

// Cleanup deletes what the checks created, newest first, and returns the
// errors joined; a failed delete never hides a check result.
func (e *Env) Cleanup(ctx context.Context) error {
	e.mu.Lock()
	fs := e.cleanups
	e.cleanups = nil
	e.mu.Unlock()
	var errs []string
	for i := len(fs) - 1; i >= 0; i-- {
		if err := fs[i](ctx); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("cleanup: %s", strings.Join(errs, "; "))
	}
	return nil
}

// Server clients.

// APIM is the management node as an OAuth server (DCR, resident KM).
func (e *Env) APIM() oauth.Server { return oauth.Server{Base: e.Endpoints.Management, HTTP: e.HTTP} }

// ResidentKM is the node issuing resident/dedicated KM tokens.
func (e *Env) ResidentKM() oauth.Server { return oauth.Server{Base: e.Endpoints.KM(), HTTP: e.HTTP} }

// IS is Identity Server 7.
func (e *Env) IS() oauth.Server { return oauth.Server{Base: e.Endpoints.IdentityServer, HTTP: e.HTTP} }

// AppKM is the key manager that issues application tokens on this pattern.
func (e *Env) AppKM() oauth.Server {
	if e.Has(IS7KM) {
		return e.IS()
	}
	return e.ResidentKM()
}

// AdminAuth is APIM admin Basic auth.
func (e *Env) AdminAuth() rest.Auth {
	return rest.Basic(e.Config.Admin.Username, e.Config.Admin.Password)
}

// ISAdminAuth is IS admin Basic auth.
func (e *Env) ISAdminAuth() rest.Auth {
	return rest.Basic(e.Config.ISAdmin.Username, e.Config.ISAdmin.Password)
}

func (e *Env) restClient(base string, auth rest.Auth) *rest.Client {
	return &rest.Client{HTTP: e.HTTP, Base: strings.TrimRight(base, "/"), Auth: auth, Log: func(s string) { e.logf("%s", s) }}
}

// Publisher returns a Publisher client with the portal token.
func (e *Env) Publisher(ctx context.Context) (apim.Publisher, error) {
	tok, err := e.PortalToken(ctx)
	return apim.Publisher{C: e.restClient(e.Endpoints.Management+apim.PublisherBase, rest.Bearer(tok))}, err
}

// DevPortal returns a DevPortal client with the portal token.
func (e *Env) DevPortal(ctx context.Context) (apim.DevPortal, error) {
	tok, err := e.PortalToken(ctx)
	return apim.DevPortal{C: e.restClient(e.Endpoints.Management+apim.DevPortalBase, rest.Bearer(tok))}, err
}

// Admin returns an Admin client with the portal token.
func (e *Env) Admin(ctx context.Context) (apim.Admin, error) {
	tok, err := e.PortalToken(ctx)
	return apim.Admin{C: e.restClient(e.Endpoints.Management+apim.AdminBase, rest.Bearer(tok))}, err
}

// Internal returns the internal data API client (Basic admin).
func (e *Env) Internal() apim.Internal {
	return apim.Internal{C: e.restClient(e.Endpoints.Management+apim.InternalBase, e.AdminAuth())}
}

// GatewayREST returns the gateway node's REST client (Basic admin).
func (e *Env) GatewayREST() apim.GatewayREST {
	return apim.GatewayREST{C: e.restClient(e.Endpoints.GatewayMgmt()+apim.GatewayBase, e.AdminAuth())}
}

// Gateway returns the invocation client.
func (e *Env) Gateway() apim.Gateway { return apim.Gateway{HTTP: e.HTTP, Base: e.Endpoints.Gateway} }

// lazy memoises a fixture: created once, its error returned to every caller.
type lazy[T any] struct {
	mu   sync.Mutex
	done bool
	v    T
	err  error
}

func (l *lazy[T]) get(f func() (T, error)) (T, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.done {
		l.v, l.err = f()
		l.done = true
	}
	return l.v, l.err
}
