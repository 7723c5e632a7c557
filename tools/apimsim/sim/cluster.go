package sim

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// compState is a component's replicas at run time: which are deleted
// (Disrupt) and the Service's rotation.
type compState struct {
	spec    componentSpec
	mu      sync.Mutex
	deleted []bool
	// next holds one rotation counter per port and client credential. A
	// Service balances whole connections at random; the emulator instead
	// rotates each client's requests over the replicas in turn, so a client
	// that calls twice always meets both replicas (the worst case for a bad
	// one) and what a check sees does not depend on what other checks sent.
	next map[string]int
}

func newCompState(spec componentSpec) *compState {
	return &compState{spec: spec, deleted: make([]bool, spec.Replicas), next: map[string]int{}}
}

// pick chooses the replica for the next request of client, among the
// replicas still in the Service's endpoints.
func (c *compState) pick(client string) (int, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var live []int
	for i, d := range c.deleted {
		if !d {
			live = append(live, i)
		}
	}
	if len(live) == 0 {
		return 0, false
	}
	n := c.next[client]
	c.next[client] = n + 1
	return live[n%len(live)], true
}

func (c *compState) isDeleted(i int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.deleted[i]
}

func (c *compState) anyLive() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, d := range c.deleted {
		if !d {
			return true
		}
	}
	return false
}

// deadReplica reports whether replica i of the listener's component is the
// one the replica-down fault killed: the gateway's last replica, whose
// pass-through transport is dead while its servlet port still passes the
// readiness probe, so the Service keeps sending it traffic.
func (p *Platform) deadReplica(ls listenerSpec, i int) bool {
	if !p.fault(FaultReplicaDown) || !hasRole(ls, roleGateway) {
		return false
	}
	cs := p.comps[ls.Component]
	return cs.spec.Replicas > 1 && i == cs.spec.Replicas-1
}

// serviceDispatch is a Service listener: each request goes to a replica in
// rotation. A deleted replica is out of the rotation (the endpoints
// controller removed it); a dead one is still in it and the request fails
// the way the Gateway API's Envoy reports an unreachable upstream.
func (p *Platform) serviceDispatch(ls listenerSpec, replicas []http.Handler) http.Handler {
	cs := p.comps[ls.Component]
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i, ok := cs.pick(strconv.Itoa(ls.Port) + " " + r.Header.Get("Authorization"))
		if !ok {
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, "no healthy upstream")
			return
		}
		if p.deadReplica(ls, i) {
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, "upstream connect error or disconnect/reset before headers. reset reason: connection failure")
			return
		}
		replicas[i].ServeHTTP(w, r)
	})
}

// replicaDirect is a replica's own address: a deleted or dead replica does
// not answer at all (the connection is dropped).
func (p *Platform) replicaDirect(ls listenerSpec, h http.Handler) http.Handler {
	cs := p.comps[ls.Component]
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if cs.isDeleted(ls.Replica) || p.deadReplica(ls, ls.Replica) {
			if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
				conn.Close()
				return
			}
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// serviceUp reports whether host:port is a Service of the platform with at
// least one replica in its endpoints: what a node's outbound call to a peer
// named in its deployment.toml needs (cluster DNS plus a ready endpoint).
func (p *Platform) serviceUp(hostport string) bool {
	comp, ok := p.svcPorts[hostport]
	return ok && p.comps[comp].anyLive()
}

// urlServiceUp is serviceUp for a URL such as https://host:9443/services/.
func (p *Platform) urlServiceUp(raw string) bool {
	hp := hostPort(raw)
	return hp != "" && p.serviceUp(hp)
}

func hostPort(raw string) string {
	// tcp://, ssl:// and https:// URLs all have the authority after "//".
	_, rest, ok := strings.Cut(raw, "//")
	if !ok {
		return ""
	}
	rest, _, _ = strings.Cut(rest, "/")
	if _, _, err := net.SplitHostPort(rest); err != nil {
		return ""
	}
	return rest
}

// ---- Inspection API: what a conformance check may ask of the platform
// beyond its HTTP surface, the way a kind provider would ask Kubernetes. ----

// NodeConfigs returns each component's rendered deployment.toml (the peer
// wiring keys), by component name.
func (p *Platform) NodeConfigs() map[string]string {
	out := map[string]string{}
	for k, v := range p.configs {
		out[k] = v
	}
	return out
}

// ServiceNames lists the Kubernetes Services of the deployment, sorted.
func (p *Platform) ServiceNames() []string {
	seen := map[string]bool{}
	for _, c := range p.topo.Components {
		seen[c.Service] = true
		if c.ReplicaServices && c.Replicas > 1 {
			for _, h := range c.ReplicaHosts {
				seen[h] = true
			}
		}
	}
	var out []string
	for s := range seen {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// Replicas returns how many replicas component has (0: no such component).
func (p *Platform) Replicas(component string) int {
	if cs, ok := p.comps[component]; ok {
		return cs.spec.Replicas
	}
	return 0
}

// Disrupt simulates deleting replica's pod: it leaves the Service's rotation
// and its own address stops answering. restore brings it back as a fresh pod:
// a gateway reloads the revoked-token list from the database, as WSO2's do
// at startup.
func (p *Platform) Disrupt(component string, replica int) (func(), error) {
	cs, ok := p.comps[component]
	if !ok {
		return nil, fmt.Errorf("no component %q in pattern %d (components: %v)", component, p.topo.Pattern, p.componentNames())
	}
	if replica < 0 || replica >= cs.spec.Replicas {
		return nil, fmt.Errorf("component %s has %d replica(s); replica %d does not exist", component, cs.spec.Replicas, replica)
	}
	cs.mu.Lock()
	cs.deleted[replica] = true
	cs.mu.Unlock()
	p.logf("disrupt: %s replica %d deleted", component, replica)
	var once sync.Once
	return func() {
		once.Do(func() {
			for _, g := range p.gateways {
				if g.comp == component && g.idx == replica {
					g.reload()
				}
			}
			cs.mu.Lock()
			cs.deleted[replica] = false
			cs.mu.Unlock()
			p.logf("disrupt: %s replica %d restored", component, replica)
		})
	}, nil
}

// ReplicaURL is the base URL of one replica's port, reachable through the
// Endpoints' HostMap (a per-replica Service or the pod). With one replica it
// is the Service's URL.
func (p *Platform) ReplicaURL(component string, replica, port int) (string, error) {
	cs, ok := p.comps[component]
	if !ok {
		return "", fmt.Errorf("no component %q in pattern %d (components: %v)", component, p.topo.Pattern, p.componentNames())
	}
	if replica < 0 || replica >= cs.spec.Replicas {
		return "", fmt.Errorf("component %s has %d replica(s); replica %d does not exist", component, cs.spec.Replicas, replica)
	}
	host, ports := cs.spec.Service, cs.spec.Ports
	if cs.spec.Replicas > 1 {
		host, ports = cs.spec.ReplicaHosts[replica], cs.spec.replicaPorts()
	}
	for _, ps := range ports {
		if ps.Port == port {
			scheme := "http"
			if ps.TLS {
				scheme = "https"
			}
			return scheme + "://" + net.JoinHostPort(host, strconv.Itoa(port)), nil
		}
	}
	return "", fmt.Errorf("component %s has no port %d", component, port)
}

// GatewayComponent names the component that serves API traffic.
func (p *Platform) GatewayComponent() string { return p.topo.gatewayComponent() }

func (p *Platform) componentNames() []string {
	var out []string
	for _, c := range p.topo.Components {
		out = append(out, c.Name)
	}
	return out
}
