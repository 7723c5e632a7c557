package framework

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Endpoints is the only way checks reach a platform. URLs are the platform's own
// in-cluster URLs (for example https://apim-wso2am-all-in-one-am-service:9443),
// because the same URLs are registered inside the platform (key manager
// endpoints, notify endpoint) and must match the TLS certificates' names. How a
// URL is actually dialled is decided by HostMap: the kind provider maps names to
// port-forwards, the emulator to its loopback listeners, an existing cluster to
// its ingress. No /etc/hosts edits, no tunnels.
type Endpoints struct {
	// Management is the APIM node serving the portals, REST APIs, DCR, the
	// resident key manager and the internal data API (all-in-one or control plane).
	Management string `json:"management" yaml:"management"`
	// Gateway is the gateway pass-through base (port 8243 on the chart).
	Gateway string `json:"gateway" yaml:"gateway"`
	// GatewayManagement is the gateway node's servlet port, where
	// /api/am/gateway/v2 lives. Empty means Management (all-in-one).
	GatewayManagement string `json:"gatewayManagement,omitempty" yaml:"gatewayManagement,omitempty"`
	// KeyManager is the node issuing application tokens for the resident or
	// dedicated key manager. Empty means Management.
	KeyManager string `json:"keyManager,omitempty" yaml:"keyManager,omitempty"`
	// IdentityServer is the WSO2 Identity Server 7 base URL (pattern 6). Empty
	// when the pattern has no IS.
	IdentityServer string `json:"identityServer,omitempty" yaml:"identityServer,omitempty"`
	// Backend is the URL of the echo backend as the gateway reaches it; the
	// published test API points there.
	Backend string `json:"backend" yaml:"backend"`

	// CAPEM holds the PEM certificates trusted for every HTTPS endpoint.
	CAPEM []byte `json:"-" yaml:"-"`
	// HostMap maps "host:port" as written in the URLs above to the address
	// actually dialled ("127.0.0.1:40123"). Hosts not in the map are dialled as
	// they are.
	HostMap map[string]string `json:"hostMap,omitempty" yaml:"hostMap,omitempty"`
	// TLSNames maps a host as written in the URLs to the name its certificate
	// is verified against. WSO2 images ship a CN=localhost certificate, so a
	// stock deployment reached as apim-wso2am-all-in-one-am-service is verified
	// as "localhost" instead of switching verification off.
	TLSNames map[string]string `json:"tlsNames,omitempty" yaml:"tlsNames,omitempty"`
	// Resolver, when set, answers for hosts HostMap and TLSNames lack. It is
	// for names a provider adds while checks run (an inspector's per-pod
	// port-forwards): HostMap and TLSNames are read by every dial without a
	// lock, so they must not change once a client is built, whereas a
	// Resolver guards its own state.
	Resolver HostResolver `json:"-" yaml:"-"`
}

// HostResolver maps host names added at run time. Dials run concurrently,
// so implementations must be safe for concurrent use.
type HostResolver interface {
	// ResolveHost returns the address to dial for "host:port" (host in
	// lower case), or false when it does not know the name.
	ResolveHost(hostport string) (addr string, ok bool)
	// TLSNameOf returns the name host's certificate is verified against,
	// or false when it does not know the host.
	TLSNameOf(host string) (name string, ok bool)
}

// TLSName is the name host's certificate is verified against: TLSNames,
// then the Resolver, else host itself.
func (e Endpoints) TLSName(host string) string {
	h := strings.ToLower(host)
	if n, ok := e.TLSNames[h]; ok && n != "" {
		return n
	}
	if e.Resolver != nil {
		if n, ok := e.Resolver.TLSNameOf(h); ok && n != "" {
			return n
		}
	}
	return host
}

// GatewayMgmt returns the gateway node's management base URL.
func (e Endpoints) GatewayMgmt() string {
	if e.GatewayManagement != "" {
		return e.GatewayManagement
	}
	return e.Management
}

// KM returns the base URL of the node that issues tokens for the resident or
// dedicated key manager.
func (e Endpoints) KM() string {
	if e.KeyManager != "" {
		return e.KeyManager
	}
	return e.Management
}

// Validate reports the first missing or malformed URL, naming the field.
func (e Endpoints) Validate() error {
	for _, f := range []struct{ name, v string }{
		{"management", e.Management}, {"gateway", e.Gateway}, {"backend", e.Backend},
		{"gatewayManagement", e.GatewayManagement}, {"keyManager", e.KeyManager},
		{"identityServer", e.IdentityServer},
	} {
		if f.v == "" {
			if f.name == "management" || f.name == "gateway" || f.name == "backend" {
				return fmt.Errorf("endpoint %q is not set: give it in the config file (endpoints.%s) or let the platform provider fill it", f.name, f.name)
			}
			continue
		}
		u, err := url.Parse(f.v)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return fmt.Errorf("endpoint %s=%q is not an absolute http(s) URL such as https://apim-wso2am-all-in-one-am-service:9443", f.name, f.v)
		}
	}
	return nil
}

// CertPool returns the pool of trusted CAs, or an error naming the fix.
func (e Endpoints) CertPool() (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	if len(e.CAPEM) == 0 {
		return nil, errors.New("no CA certificate for the platform: the provider must extract it (emulator: its generated CA; kind: the APIM keystore); TLS verification is never switched off")
	}
	if !pool.AppendCertsFromPEM(e.CAPEM) {
		return nil, errors.New("the platform CA is not valid PEM")
	}
	return pool, nil
}

// DialContext dials addr after applying HostMap, then the Resolver. It is
// shared by the suite's clients and by the emulator's own outbound calls (IS
// -> APIM notify, gateway -> JWKS, gateway -> backend), so both sides resolve
// names alike.
func (e Endpoints) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if mapped, ok := e.HostMap[addr]; ok {
		addr = mapped
	} else if host, port, err := net.SplitHostPort(addr); err == nil {
		key := strings.ToLower(host) + ":" + port
		if mapped, ok := e.HostMap[key]; ok {
			addr = mapped
		} else if e.Resolver != nil {
			if mapped, ok := e.Resolver.ResolveHost(key); ok {
				addr = mapped
			}
		}
	}
	d := net.Dialer{Timeout: 10 * time.Second}
	return d.DialContext(ctx, network, addr)
}

// HTTPClient returns a client that trusts the platform CA, dials through
// HostMap and gives up on any single request after timeout. Redirects are not
// followed, so portal checks can see them.
func (e Endpoints) HTTPClient(timeout time.Duration) (*http.Client, error) {
	pool, err := e.CertPool()
	if err != nil {
		return nil, err
	}
	tr := &http.Transport{
		DialContext:         e.DialContext,
		DialTLSContext:      e.tlsDialer(pool),
		TLSClientConfig:     &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout: 10 * time.Second,
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     30 * time.Second,
		ForceAttemptHTTP2:   true,
	}
	return &http.Client{
		Transport: tr,
		Timeout:   timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}, nil
}

// tlsDialer dials through HostMap and verifies the server certificate against
// TLSName(host). It always verifies.
func (e Endpoints) tlsDialer(pool *x509.CertPool) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		name := e.TLSName(host)
		raw, err := e.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		conn := tls.Client(raw, &tls.Config{RootCAs: pool, ServerName: name, MinVersion: tls.VersionTLS12, NextProtos: []string{"h2", "http/1.1"}})
		if err := conn.HandshakeContext(ctx); err != nil {
			raw.Close()
			return nil, fmt.Errorf("TLS to %s (verified as %q): %w", addr, name, err)
		}
		return conn, nil
	}
}
