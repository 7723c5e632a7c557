package conformance

// Inspector is what a check may ask of a platform beyond its HTTP surface:
// the nodes' rendered configuration, the Kubernetes Services, and the
// replicas behind them. The emulator implements it; a kind provider would
// answer from the cluster (ConfigMaps, Services, pods, port-forwards). It is
// nil where the platform cannot be inspected (endpoints given by hand).
type Inspector interface {
	// NodeConfigs maps a component (all-in-one, control-plane,
	// traffic-manager, gateway, key-manager) to its deployment.toml.
	NodeConfigs() map[string]string
	// ServiceNames lists the deployment's Services.
	ServiceNames() []string
	// Disrupt deletes one replica's pod: it leaves the Service's rotation
	// and stops answering until restore is called.
	Disrupt(component string, replica int) (restore func(), err error)
	// Replicas is how many replicas a component runs (0: no such component).
	Replicas(component string) int
	// ReplicaURL is the base URL of one replica's port, reachable through
	// the Endpoints' HostMap.
	ReplicaURL(component string, replica, port int) (string, error)
	// GatewayComponent names the component serving API traffic.
	GatewayComponent() string
}

// EnvOption configures NewEnv.
type EnvOption func(*Env)

// WithInspector gives the checks the platform's inspector (nil: none).
func WithInspector(i Inspector) EnvOption {
	return func(e *Env) { e.Inspector = i }
}
