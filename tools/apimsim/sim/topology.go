package sim

import (
	"fmt"
	"sort"
	"strings"
)

// Component names, as Platform's inspection API (NodeConfigs, Replicas,
// Disrupt, ReplicaURL) spells them: one per Helm release role.
const (
	CompAllInOne       = "all-in-one"
	CompControlPlane   = "control-plane"
	CompTrafficManager = "traffic-manager"
	CompGateway        = "gateway"
	CompKeyManager     = "key-manager"
	CompIS             = "identity-server"
	CompBackend        = "backend"
)

// Service names the charts render for the docs' release names (facts
// wso2-helm-charts.md §2.1): every pattern file hard-codes its peers by these
// names, so the emulator uses exactly them.
const (
	aioHost     = "apim-wso2am-all-in-one-am-service"
	aioHost1    = aioHost + "-1" // always rendered; selects deployment-1's pod
	aioHost2    = aioHost + "-2" // HA only
	acpHost     = "apim-acp-wso2am-acp-service"
	acpHost1    = "apim-acp-wso2am-acp-1-service"
	acpHost2    = "apim-acp-wso2am-acp-2-service"
	tmHost      = "apim-tm-wso2am-tm-service"
	tmHost1     = "apim-tm-wso2am-tm-1-service"
	tmHost2     = "apim-tm-wso2am-tm-2-service"
	gwHost      = "apim-gw-wso2am-universal-gw-service"
	kmHost      = "apim-km-wso2am-km-service"
	isHost      = "is-identity-server"
	backendHost = "apim-conformance-echo"
	// The gateway chart is one Deployment with replicas: 2 and no
	// per-replica Service, so its replicas are addressed by pod. Real pod
	// names carry a ReplicaSet hash; the emulator uses stable ordinals so a
	// check can name "replica 1" (a kind provider would port-forward the pods).
	gwPodFmt = "apim-gw-wso2am-universal-gw-deployment-%d"
	// wrongKMHost is the distributed charts' placeholder peer name (facts
	// §0.3), what a gateway renders when its values overlay is not layered:
	// the gateway-wrong-km-url fault.
	wrongKMHost = "wso2am-cp-service"
)

// portSpec is one port of a Service (or of a replica's own address).
type portSpec struct {
	Port   int
	TLS    bool
	Roles  []role
	Fields []string // framework.Endpoints fields this port's URL fills (Service ports only)
}

// componentSpec is one chart release's workload: a Service in front of
// Replicas instances that share the databases but keep their own in-memory
// state (a gateway's revoked-token map).
type componentSpec struct {
	Name     string
	Service  string
	Ports    []portSpec
	Replicas int
	// ReplicaHosts address each replica when Replicas > 1: the charts'
	// per-replica Services (-1/-2) for the AIO, ACP and TM, pod names for the
	// gateway. ReplicaServices says whether they are Services.
	ReplicaHosts    []string
	ReplicaServices bool
	// ReplicaPorts are the ports of each replica address (default: Ports).
	ReplicaPorts []portSpec
	// Wiring is what the node's deployment.toml says about its peers; nil
	// for nodes the charts do not configure (IS, backend).
	Wiring *wiring
}

func (c componentSpec) replicaPorts() []portSpec {
	if c.ReplicaPorts != nil {
		return c.ReplicaPorts
	}
	return c.Ports
}

func (c componentSpec) hasRole(r role) bool {
	for _, p := range c.Ports {
		for _, x := range p.Roles {
			if x == r {
				return true
			}
		}
	}
	return false
}

// topology describes a pattern as data: handlers are per role and do not
// know which node they run on.
type topology struct {
	Pattern     int
	Description string
	Components  []componentSpec
}

func (t topology) component(name string) (componentSpec, bool) {
	for _, c := range t.Components {
		if c.Name == name {
			return c, true
		}
	}
	return componentSpec{}, false
}

// gatewayComponent is the component serving API traffic: the universal
// gateway when the pattern has one, else the all-in-one.
func (t topology) gatewayComponent() string {
	for _, c := range t.Components {
		if c.hasRole(roleGateway) {
			return c.Name
		}
	}
	return ""
}

// Port sets of the charts' Services (facts §2.2). The binary ports (9611
// Thrift, 9711 Thrift over TLS, 5672 JMS) carry event-hub and throttling
// traffic, which the emulator does in process; they are listeners that
// accept connections, so wiring checks can prove the Services answer.
var binaryPorts = []portSpec{{Port: 9611, Roles: []role{roleBinary}}, {Port: 9711, TLS: true, Roles: []role{roleBinary}}, {Port: 5672, Roles: []role{roleBinary}}}

func aioPorts(gateway bool) []portSpec {
	mgmt := []role{roleManagement, roleKeyManager}
	if gateway {
		mgmt = append(mgmt, roleGWMgmt)
	}
	ps := []portSpec{{Port: 9443, TLS: true, Roles: mgmt, Fields: []string{"management"}}}
	if gateway {
		ps = append(ps, portSpec{Port: 8243, TLS: true, Roles: []role{roleGateway}, Fields: []string{"gateway"}})
	}
	return append(ps, binaryPorts...)
}

func gatewayComp(w *wiring) componentSpec {
	return componentSpec{
		Name: CompGateway, Service: gwHost, Replicas: 2,
		ReplicaHosts: []string{fmt.Sprintf(gwPodFmt, 0), fmt.Sprintf(gwPodFmt, 1)},
		Ports: []portSpec{
			{Port: 8243, TLS: true, Roles: []role{roleGateway}, Fields: []string{"gateway"}},
			{Port: 9443, TLS: true, Roles: []role{roleGWMgmt, roleCarbon}, Fields: []string{"gatewayManagement"}},
		},
		Wiring: w,
	}
}

func acpComp(w *wiring) componentSpec {
	return componentSpec{
		Name: CompControlPlane, Service: acpHost, Replicas: 2,
		ReplicaHosts: []string{acpHost1, acpHost2}, ReplicaServices: true,
		Ports:        []portSpec{{Port: 9443, TLS: true, Roles: []role{roleManagement, roleKeyManager}, Fields: []string{"management"}}},
		ReplicaPorts: append([]portSpec{{Port: 9443, TLS: true, Roles: []role{roleManagement, roleKeyManager}}}, binaryPorts...),
		Wiring:       w,
	}
}

func tmComp(w *wiring) componentSpec {
	return componentSpec{
		Name: CompTrafficManager, Service: tmHost, Replicas: 2,
		ReplicaHosts: []string{tmHost1, tmHost2}, ReplicaServices: true,
		Ports:        []portSpec{{Port: 9443, TLS: true, Roles: []role{roleCarbon}}},
		ReplicaPorts: append([]portSpec{{Port: 9443, TLS: true, Roles: []role{roleCarbon}}}, binaryPorts...),
		Wiring:       w,
	}
}

// kmComp is the dedicated key manager: the resident key manager's OAuth
// endpoints on their own node (the KM chart, highAvailability false).
func kmComp(w *wiring) componentSpec {
	return componentSpec{
		Name: CompKeyManager, Service: kmHost, Replicas: 1,
		Ports:  []portSpec{{Port: 9443, TLS: true, Roles: []role{roleKeyManager, roleCarbon}, Fields: []string{"keyManager"}}},
		Wiring: w,
	}
}

var backendComp = componentSpec{Name: CompBackend, Service: backendHost, Replicas: 1,
	Ports: []portSpec{{Port: 8080, Roles: []role{roleBackend}, Fields: []string{"backend"}}}}

func svc(host string, port int, path string) string {
	return fmt.Sprintf("https://%s:%d%s", host, port, path)
}

func tcp(host string, port int) string { return fmt.Sprintf("tcp://%s:%d", host, port) }
func ssl(host string, port int) string { return fmt.Sprintf("ssl://%s:%d", host, port) }

// tmGroups are the [[apim.throttling.url_group]] entries for a set of
// traffic-manager hosts, as the GW chart renders one per url.
func tmGroups(hosts ...string) [][2]string {
	var out [][2]string
	for _, h := range hosts {
		out = append(out, [2]string{tcp(h, 9611), ssl(h, 9711)})
	}
	return out
}

func jms(hosts ...string) []string {
	var out []string
	for _, h := range hosts {
		out = append(out, tcp(h, 5672))
	}
	return out
}

// Wiring per pattern follows facts §2.5–§2.6 with the pattern files' known
// mistakes corrected (the gateway environment names the real GW Service, the
// JWKS URL has no namespace baked in), i.e. what a correct deploy renders.
var topologies = map[int]topology{
	0: {Pattern: 0, Description: "APIM 4.7 all-in-one (embedded control plane, gateway, traffic manager and resident key manager)",
		Components: []componentSpec{
			{Name: CompAllInOne, Service: aioHost, Replicas: 1, Ports: aioPorts(true), Wiring: &wiring{
				Hostname: "am.wso2.com", Role: "default",
				KMServiceURL: svc(aioHost, 9443, "/services/"), JWKSURL: svc(aioHost, 9443, "/oauth2/jwks"),
				GatewayEnvURL: svc("localhost", 9443, "/services/"),
			}},
			backendComp,
		}},
	1: {Pattern: 1, Description: "APIM 4.7 all-in-one HA: two all-in-one replicas behind one Service",
		Components: []componentSpec{
			{Name: CompAllInOne, Service: aioHost, Replicas: 2, ReplicaHosts: []string{aioHost1, aioHost2}, ReplicaServices: true,
				Ports: aioPorts(true), Wiring: &wiring{
					Hostname: "am.wso2.com", Role: "default",
					KMServiceURL: svc(aioHost, 9443, "/services/"), JWKSURL: svc(aioHost, 9443, "/oauth2/jwks"),
					// The AIO HA wiring is hard-coded to the per-replica Services.
					EventHubURL: svc(aioHost, 9443, "/services/"), EventListening: jms(aioHost1, aioHost2),
					ThrottleDecision: jms(aioHost1, aioHost2), TMGroups: tmGroups(aioHost1, aioHost2),
					GatewayEnvURL: svc("localhost", 9443, "/services/"),
				}},
			backendComp,
		}},
	2: {Pattern: 2, Description: "APIM 4.7 all-in-one + universal gateway (two replicas)",
		Components: []componentSpec{
			{Name: CompAllInOne, Service: aioHost, Replicas: 1, Ports: aioPorts(false), Wiring: &wiring{
				Hostname: "am.wso2.com", Role: "default",
				KMServiceURL: svc(aioHost, 9443, "/services/"), JWKSURL: svc(aioHost, 9443, "/oauth2/jwks"),
				GatewayEnvURL: svc(gwHost, 9443, "/services/"),
			}},
			gatewayComp(&wiring{
				Hostname: "gw.wso2.com", Role: "gateway-worker",
				KMServiceURL: svc(aioHost, 9443, "/services/"), JWKSURL: svc(aioHost, 9443, "/oauth2/jwks"),
				EventHubURL: svc(aioHost, 9443, "/services/"), EventListening: jms(aioHost),
				ThrottleDecision: jms(aioHost), TMGroups: tmGroups(aioHost),
			}),
			backendComp,
		}},
	3: {Pattern: 3, Description: "APIM 4.7 control plane + traffic manager + universal gateway, two replicas each",
		Components: []componentSpec{
			acpComp(&wiring{
				Hostname: "am.wso2.com", Role: "default",
				KMServiceURL: svc(acpHost, 9443, "/services/"), JWKSURL: svc(acpHost, 9443, "/oauth2/jwks"),
				ThrottleDecision: jms(tmHost1, tmHost2), TMGroups: tmGroups(tmHost1, tmHost2),
				GatewayEnvURL: svc(gwHost, 9443, "/services/"),
			}),
			tmComp(&wiring{
				Hostname: "tm.wso2.com", Role: "traffic-manager",
				KMServiceURL: svc(acpHost, 9443, "/services/"),
				EventHubURL:  svc(acpHost, 9443, "/services/"), EventListening: jms(acpHost1, acpHost2),
			}),
			gatewayComp(&wiring{
				Hostname: "gw.wso2.com", Role: "gateway-worker",
				KMServiceURL: svc(acpHost, 9443, "/services/"), JWKSURL: svc(acpHost, 9443, "/oauth2/jwks"),
				EventHubURL: svc(acpHost, 9443, "/services/"), EventListening: jms(acpHost1, acpHost2),
				ThrottleDecision: jms(tmHost1, tmHost2), TMGroups: tmGroups(tmHost1, tmHost2),
			}),
			backendComp,
		}},
	4: {Pattern: 4, Description: "APIM 4.7 control plane + traffic manager + universal gateway + dedicated key manager",
		Components: []componentSpec{
			acpComp(&wiring{
				Hostname: "am.wso2.com", Role: "default",
				KMServiceURL: svc(kmHost, 9443, "/services/"), JWKSURL: svc(kmHost, 9443, "/oauth2/jwks"),
				ThrottleDecision: jms(tmHost1, tmHost2), TMGroups: tmGroups(tmHost1, tmHost2),
				GatewayEnvURL: svc(gwHost, 9443, "/services/"),
			}),
			kmComp(&wiring{
				Hostname: "km.wso2.com", Role: "default",
				EventHubURL: svc(acpHost, 9443, "/services/"), EventListening: jms(acpHost1, acpHost2),
			}),
			tmComp(&wiring{
				Hostname: "tm.wso2.com", Role: "traffic-manager",
				KMServiceURL: svc(kmHost, 9443, "/services/"),
				EventHubURL:  svc(acpHost, 9443, "/services/"), EventListening: jms(acpHost1, acpHost2),
			}),
			gatewayComp(&wiring{
				Hostname: "gw.wso2.com", Role: "gateway-worker",
				KMServiceURL: svc(kmHost, 9443, "/services/"), JWKSURL: svc(kmHost, 9443, "/oauth2/jwks"),
				EventHubURL: svc(acpHost, 9443, "/services/"), EventListening: jms(acpHost1, acpHost2),
				ThrottleDecision: jms(tmHost1, tmHost2), TMGroups: tmGroups(tmHost1, tmHost2),
			}),
			backendComp,
		}},
	5: {Pattern: 5, Description: "APIM 4.7 all-in-one (HA) + universal gateway + dedicated key manager",
		Components: []componentSpec{
			{Name: CompAllInOne, Service: aioHost, Replicas: 2, ReplicaHosts: []string{aioHost1, aioHost2}, ReplicaServices: true,
				Ports: aioPorts(false), Wiring: &wiring{
					// The AIO ignores km.* (facts §0.10): it keeps its resident
					// key manager; only the JWKS URL points at the KM.
					Hostname: "am.wso2.com", Role: "default",
					KMServiceURL: svc(aioHost, 9443, "/services/"), JWKSURL: svc(kmHost, 9443, "/oauth2/jwks"),
					ThrottleDecision: jms(aioHost1, aioHost2), TMGroups: tmGroups(aioHost1, aioHost2),
					GatewayEnvURL: svc(gwHost, 9443, "/services/"),
				}},
			kmComp(&wiring{
				Hostname: "km.wso2.com", Role: "default",
				EventHubURL: svc(aioHost, 9443, "/services/"), EventListening: jms(aioHost),
			}),
			gatewayComp(&wiring{
				Hostname: "gw.wso2.com", Role: "gateway-worker",
				KMServiceURL: svc(kmHost, 9443, "/services/"), JWKSURL: svc(kmHost, 9443, "/oauth2/jwks"),
				EventHubURL: svc(aioHost, 9443, "/services/"), EventListening: jms(aioHost),
				ThrottleDecision: jms(aioHost), TMGroups: tmGroups(aioHost),
			}),
			backendComp,
		}},
	// Pattern 6 is kept exactly as it was before the other patterns existed
	// (four listeners, no binary ports, no per-replica addresses).
	6: {Pattern: 6, Description: "APIM 4.7 all-in-one with WSO2 Identity Server 7 as key manager",
		Components: []componentSpec{
			{Name: CompAllInOne, Service: aioHost, Replicas: 1,
				Ports: []portSpec{
					{Port: 9443, TLS: true, Roles: []role{roleManagement, roleKeyManager, roleGWMgmt}, Fields: []string{"management"}},
					{Port: 8243, TLS: true, Roles: []role{roleGateway}, Fields: []string{"gateway"}},
				},
				Wiring: &wiring{
					Hostname: "am.wso2.com", Role: "default",
					KMServiceURL: svc(aioHost, 9443, "/services/"), JWKSURL: svc(aioHost, 9443, "/oauth2/jwks"),
					GatewayEnvURL: svc("localhost", 9443, "/services/"),
				}},
			{Name: CompIS, Service: isHost, Replicas: 1, Ports: []portSpec{{Port: 9443, TLS: true, Roles: []role{roleIS}, Fields: []string{"identityServer"}}}},
			backendComp,
		}},
}

// wiring is the part of a node's deployment.toml that names its peers.
type wiring struct {
	Hostname, Role   string
	KMServiceURL     string   // [apim.key_manager] service_url
	JWKSURL          string   // [oauth.endpoints] oauth2_jwks_url
	EventHubURL      string   // [apim.event_hub] service_url
	EventListening   []string // [apim.event_hub] event_listening_endpoints
	ThrottleDecision []string // [apim.throttling] throttle_decision_endpoints
	TMGroups         [][2]string
	GatewayEnvURL    string // [[apim.gateway.environment]] service_url
}

// withWrongKM is the wiring with the key manager and JWKS URLs left at the
// charts' placeholder peer (the gateway-wrong-km-url fault).
func (w wiring) withWrongKM() wiring {
	w.KMServiceURL = svc(wrongKMHost, 9443, "/services/")
	w.JWKSURL = svc(wrongKMHost, 9443, "/oauth2/jwks")
	return w
}

func tomlList(xs []string) string {
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = fmt.Sprintf("%q", x)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// render writes the wiring as the charts' deployment.toml does (only the
// keys the conformance checks read; the rest of the file is the product's).
func (w wiring) render(component string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# deployment.toml of %s (rendered by apimsim: peer wiring only)\n", component)
	fmt.Fprintf(&b, "[server]\nhostname = %q\nserver_role = %q\n", w.Hostname, w.Role)
	if w.KMServiceURL != "" {
		fmt.Fprintf(&b, "\n[apim.key_manager]\nservice_url = %q\n", w.KMServiceURL)
	}
	if w.JWKSURL != "" {
		fmt.Fprintf(&b, "\n[oauth.endpoints]\noauth2_jwks_url = %q\n", w.JWKSURL)
	}
	if w.EventHubURL != "" {
		fmt.Fprintf(&b, "\n[apim.event_hub]\nenable = true\nusername = \"$ref{super_admin.username}\"\nservice_url = %q\nevent_listening_endpoints = %s\n", w.EventHubURL, tomlList(w.EventListening))
	}
	if len(w.ThrottleDecision) > 0 {
		fmt.Fprintf(&b, "\n[apim.throttling]\nthrottle_decision_endpoints = %s\n", tomlList(w.ThrottleDecision))
		for _, g := range w.TMGroups {
			fmt.Fprintf(&b, "\n[[apim.throttling.url_group]]\ntraffic_manager_urls = %s\ntraffic_manager_auth_urls = %s\ntype = \"loadbalance\"\n", tomlList([]string{g[0]}), tomlList([]string{g[1]}))
		}
	}
	if w.GatewayEnvURL != "" {
		fmt.Fprintf(&b, "\n[[apim.gateway.environment]]\nname = \"Default\"\ntype = \"hybrid\"\ngateway_type = \"Regular\"\nservice_url = %q\n", w.GatewayEnvURL)
	}
	return b.String()
}

// Patterns lists the emulated patterns.
func Patterns() []int {
	var out []int
	for k := range topologies {
		out = append(out, k)
	}
	sort.Ints(out)
	return out
}
