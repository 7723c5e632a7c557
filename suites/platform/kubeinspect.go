package platform

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"

	"github.com/apim-conformance/apim-conformance/fixtures/charts"
	"github.com/apim-conformance/apim-conformance/fixtures/patterns"
	"github.com/apim-conformance/apim-conformance/suites/conformance"
	"github.com/apim-conformance/apim-conformance/suites/framework"
	"github.com/apim-conformance/apim-conformance/tools/apimsim/sim"
)

// KubeInspector is the conformance Inspector of a real cluster (kind or
// existing): it answers from the Kubernetes API what the emulator answers
// from its own state, with the same component names (sim.Comp*), so the
// checks cannot tell the two apart. Replica addresses are per-pod
// port-forwards whose names it resolves for the Endpoints' dialer
// (framework.HostResolver), behind its own lock.
type KubeInspector struct {
	cs        kubernetes.Interface
	namespace string
	// releases of the pattern by component, in install order.
	releases map[string][]kubeRelease
	gateway  string
	eps      framework.Endpoints // TLSNames and URLs, read-only

	callTimeout, restoreTimeout, interval time.Duration
	log                                   io.Writer
	// forward opens a port-forward to one pod's port and returns the local
	// address; a field so unit tests can stand in for SPDY (kwok pods run
	// nothing to forward to).
	forward func(ctx context.Context, namespace, pod string, port int) (addr string, done <-chan struct{}, stop func(), err error)

	mu       sync.RWMutex
	closed   bool
	hosts    map[string]string      // "pod:port" -> 127.0.0.1:N
	names    map[string]string      // pod -> name its certificate is verified as
	forwards map[string]*podForward // "pod:port" -> running forward
}

type kubeRelease struct{ name, chart, namespace string }

type podForward struct {
	addr string
	done <-chan struct{}
	stop func()
}

// KubeInspectorOptions configure NewKubeInspector.
type KubeInspectorOptions struct {
	// RESTConfig reaches the cluster; it is required for ReplicaURL's
	// port-forwards and builds the clientset when Clientset is nil.
	RESTConfig *rest.Config
	// Clientset overrides the one built from RESTConfig (tests: a fake).
	Clientset kubernetes.Interface
	// Pattern names the releases, their charts and the namespace.
	Pattern *patterns.Pattern
	// Endpoints are the deployment's: a pod is verified with its Service's
	// TLSNames entry, and a Service port without a name takes its scheme
	// from the URL that uses it.
	Endpoints framework.Endpoints
	// CallTimeout bounds each API call behind an Inspector method (default
	// 30s, scaled); a port-forward gets at least 45s.
	CallTimeout time.Duration
	// RestoreTimeout bounds Disrupt's restore (default: the longest release
	// wait of the pattern, else 12 min, scaled): a recreated APIM pod on kind
	// needs its full start-up (5-7 min) to become Ready again.
	RestoreTimeout time.Duration
	// Interval between polls (default 2s).
	Interval time.Duration
	// TimeoutScale multiplies the default timeouts (default 1).
	TimeoutScale float64
	// Log receives one line per disruption and any error an Inspector
	// method cannot return (default: discarded).
	Log io.Writer
}

// chartComponents maps the WSO2 APIM charts to the inspection API's
// component names (facts: wso2-helm-charts.md §2.1). The Identity Server
// release is no APIM node and is left out, as the emulator's wiring is.
var chartComponents = map[string]string{
	charts.ChartAllInOne:     sim.CompAllInOne,
	charts.ChartControlPlane: sim.CompControlPlane,
	charts.ChartTrafficMgr:   sim.CompTrafficManager,
	charts.ChartGateway:      sim.CompGateway,
	charts.ChartKeyManager:   sim.CompKeyManager,
}

// Helm 3 and 4 annotate every object of a release with these, whatever
// fullnameOverride renders the names to.
const (
	helmReleaseName      = "meta.helm.sh/release-name"
	helmReleaseNamespace = "meta.helm.sh/release-namespace"
	deploymentTOML       = "deployment.toml"
)

var (
	_ conformance.Inspector  = (*KubeInspector)(nil)
	_ framework.HostResolver = (*KubeInspector)(nil)
)

// NewKubeInspector returns the inspector of a deployed pattern.
func NewKubeInspector(o KubeInspectorOptions) (*KubeInspector, error) {
	if o.Pattern == nil {
		return nil, errors.New("kube inspector: no pattern")
	}
	cs := o.Clientset
	if cs == nil {
		if o.RESTConfig == nil {
			return nil, errors.New("kube inspector: neither a clientset nor a REST config")
		}
		c, err := kubernetes.NewForConfig(o.RESTConfig)
		if err != nil {
			return nil, fmt.Errorf("kube inspector: clientset: %w", err)
		}
		cs = c
	}
	scale := func(d time.Duration) time.Duration {
		if o.TimeoutScale > 0 {
			return time.Duration(float64(d) * o.TimeoutScale)
		}
		return d
	}
	k := &KubeInspector{
		cs: cs, namespace: o.Pattern.Namespace, releases: map[string][]kubeRelease{},
		gateway: sim.CompAllInOne, eps: o.Endpoints,
		callTimeout: o.CallTimeout, restoreTimeout: o.RestoreTimeout, interval: o.Interval, log: o.Log,
		hosts: map[string]string{}, names: map[string]string{}, forwards: map[string]*podForward{},
	}
	if k.callTimeout <= 0 {
		k.callTimeout = scale(30 * time.Second)
	}
	if k.interval <= 0 {
		k.interval = 2 * time.Second
	}
	if k.log == nil {
		k.log = io.Discard
	}
	var longest time.Duration
	for _, r := range o.Pattern.Releases() {
		comp, ok := chartComponents[r.Chart.Name]
		if !ok {
			continue
		}
		k.releases[comp] = append(k.releases[comp], kubeRelease{name: r.Name, chart: r.Chart.Name, namespace: o.Pattern.NamespaceOf(r)})
		if comp == sim.CompGateway {
			k.gateway = sim.CompGateway
		}
		longest = max(longest, r.Wait.Timeout)
	}
	if k.restoreTimeout <= 0 {
		if longest == 0 {
			longest = 12 * time.Minute
		}
		k.restoreTimeout = scale(longest)
	}
	if o.RESTConfig != nil {
		rc := rest.CopyConfig(o.RESTConfig)
		k.forward = func(ctx context.Context, ns, pod string, port int) (string, <-chan struct{}, func(), error) {
			return spdyForward(ctx, rc, cs, ns, pod, port, k.log)
		}
	}
	return k, nil
}

// Components lists the pattern's APIM components, sorted.
func (k *KubeInspector) Components() []string {
	out := make([]string, 0, len(k.releases))
	for c := range k.releases {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}

func (k *KubeInspector) logf(format string, args ...any) {
	fmt.Fprintf(k.log, "[inspector] "+format+"\n", args...)
}

func (k *KubeInspector) callCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), k.callTimeout)
}

// namespaces are the namespaces the pattern's releases live in, sorted.
func (k *KubeInspector) namespaces() []string {
	seen := map[string]bool{k.namespace: true}
	for _, rs := range k.releases {
		for _, r := range rs {
			seen[r.namespace] = true
		}
	}
	out := make([]string, 0, len(seen))
	for ns := range seen {
		out = append(out, ns)
	}
	sort.Strings(out)
	return out
}

// fullname is the charts' `<release>-<chart>`, or the release name when it
// already contains the chart name, truncated to 63 (facts §2.1).
func fullname(release, chart string) string {
	n := release + "-" + chart
	if strings.Contains(release, chart) {
		n = release
	}
	if len(n) > 63 {
		n = n[:63]
	}
	return strings.TrimSuffix(n, "-")
}

// owns reports whether an object belongs to release r: by Helm's release
// annotations when the object has them, else by the chart's name prefix
// (objects applied without Helm, as in tests).
func (r kubeRelease) owns(m metav1.ObjectMeta) bool {
	if m.Namespace != "" && m.Namespace != r.namespace {
		return false
	}
	if rel, ok := m.Annotations[helmReleaseName]; ok {
		ns, hasNS := m.Annotations[helmReleaseNamespace]
		return rel == r.name && (!hasNS || ns == r.namespace)
	}
	return strings.HasPrefix(m.Name, fullname(r.name, r.chart)+"-")
}

// componentOf names the component whose release owns m ("" for none).
func (k *KubeInspector) componentOf(m metav1.ObjectMeta) string {
	for _, comp := range k.Components() {
		for _, r := range k.releases[comp] {
			if r.owns(m) {
				return comp
			}
		}
	}
	return ""
}

// Configs returns each component's rendered deployment.toml, read from the
// release's ConfigMaps that carry one. HA releases render one per node
// (…-conf-1, …-conf-2) from the same values; the first by name stands for
// the component.
func (k *KubeInspector) Configs(ctx context.Context) (map[string]string, error) {
	out := map[string]string{}
	for _, ns := range k.namespaces() {
		cms, err := k.cs.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return out, fmt.Errorf("listing ConfigMaps in %s: %w", ns, err)
		}
		sort.Slice(cms.Items, func(i, j int) bool { return cms.Items[i].Name < cms.Items[j].Name })
		for _, cm := range cms.Items {
			text, ok := cm.Data[deploymentTOML]
			if !ok {
				continue
			}
			if comp := k.componentOf(cm.ObjectMeta); comp != "" {
				if _, seen := out[comp]; !seen {
					out[comp] = text
				}
			}
		}
	}
	return out, nil
}

// Services returns the names of the Services in the pattern's namespaces.
func (k *KubeInspector) Services(ctx context.Context) ([]string, error) {
	var out []string
	for _, ns := range k.namespaces() {
		svcs, err := k.cs.CoreV1().Services(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, fmt.Errorf("listing Services in %s: %w", ns, err)
		}
		for _, s := range svcs.Items {
			out = append(out, s.Name)
		}
	}
	sort.Strings(out)
	return out, nil
}

// Pods returns every pod of a component (any state), sorted by name: the
// pods the selectors of its releases' Deployments match, once each.
func (k *KubeInspector) Pods(ctx context.Context, component string) ([]corev1.Pod, error) {
	rels, ok := k.releases[component]
	if !ok {
		return nil, fmt.Errorf("no component %q in pattern (components: %v)", component, k.Components())
	}
	seen := map[types.UID]bool{}
	var out []corev1.Pod
	for _, r := range rels {
		deps, err := k.cs.AppsV1().Deployments(r.namespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, fmt.Errorf("listing Deployments in %s: %w", r.namespace, err)
		}
		for i := range deps.Items {
			d := &deps.Items[i]
			if !r.owns(d.ObjectMeta) {
				continue
			}
			pods, err := k.deploymentPods(ctx, d)
			if err != nil {
				return nil, err
			}
			for _, p := range pods {
				if !seen[p.UID] {
					seen[p.UID] = true
					out = append(out, p)
				}
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (k *KubeInspector) deploymentPods(ctx context.Context, d *appsv1.Deployment) ([]corev1.Pod, error) {
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return nil, fmt.Errorf("Deployment %s/%s: selector: %w", d.Namespace, d.Name, err)
	}
	if sel.Empty() {
		return nil, nil // would match every pod of the namespace
	}
	pods, err := k.cs.CoreV1().Pods(d.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return nil, fmt.Errorf("listing pods of Deployment %s/%s: %w", d.Namespace, d.Name, err)
	}
	return pods.Items, nil
}

// ReadyPods returns a component's ready pods sorted by name: replica i of
// the inspection API is the i-th of them.
func (k *KubeInspector) ReadyPods(ctx context.Context, component string) ([]corev1.Pod, error) {
	all, err := k.Pods(ctx, component)
	if err != nil {
		return nil, err
	}
	var out []corev1.Pod
	for _, p := range all {
		if podReady(&p) {
			out = append(out, p)
		}
	}
	return out, nil
}

// podReady: Running, Ready and not terminating (a terminating pod has left
// the Service's endpoints already).
func podReady(p *corev1.Pod) bool {
	if p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodRunning {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// NodeConfigs implements conformance.Inspector; an API error is logged and
// yields what was read (the check then fails naming the missing config).
func (k *KubeInspector) NodeConfigs() map[string]string {
	ctx, cancel := k.callCtx()
	defer cancel()
	out, err := k.Configs(ctx)
	if err != nil {
		k.logf("node configs: %v", err)
	}
	return out
}

// ServiceNames implements conformance.Inspector.
func (k *KubeInspector) ServiceNames() []string {
	ctx, cancel := k.callCtx()
	defer cancel()
	out, err := k.Services(ctx)
	if err != nil {
		k.logf("services: %v", err)
	}
	return out
}

// Replicas implements conformance.Inspector: the component's ready pods.
func (k *KubeInspector) Replicas(component string) int {
	if _, ok := k.releases[component]; !ok {
		return 0 // the interface's answer for "no such component", not an error
	}
	ctx, cancel := k.callCtx()
	defer cancel()
	pods, err := k.ReadyPods(ctx, component)
	if err != nil {
		k.logf("replicas of %s: %v", component, err)
	}
	return len(pods)
}

// GatewayComponent implements conformance.Inspector: the universal gateway
// when the pattern deploys one, else the all-in-one node.
func (k *KubeInspector) GatewayComponent() string { return k.gateway }

// DisruptPod deletes the pod of replica (ready pods sorted by name) with the
// grace period its chart sets, so the preStop hook drains it as in a real
// rollout. The returned restore waits, polling within ctx, until the
// component has as many ready pods as before and the deleted one is gone;
// it stops early when a pod created since fails in a way that will not heal
// (CrashLoopBackOff, ImagePullBackOff, ...). The pod itself is recreated by
// its ReplicaSet, not by restore.
func (k *KubeInspector) DisruptPod(ctx context.Context, component string, replica int) (restore func(context.Context) error, err error) {
	all, err := k.Pods(ctx, component)
	if err != nil {
		return nil, err
	}
	var ready []corev1.Pod
	before := map[types.UID]bool{}
	for _, p := range all {
		before[p.UID] = true
		if podReady(&p) {
			ready = append(ready, p)
		}
	}
	if replica < 0 || replica >= len(ready) {
		return nil, fmt.Errorf("component %s has %d ready replica(s); replica %d does not exist", component, len(ready), replica)
	}
	victim := ready[replica]
	want := len(ready)
	// The pod's own terminationGracePeriodSeconds is what the chart set;
	// the UID precondition keeps a replacement of the same name safe.
	del := metav1.DeleteOptions{GracePeriodSeconds: victim.Spec.TerminationGracePeriodSeconds, Preconditions: metav1.NewUIDPreconditions(string(victim.UID))}
	if err := k.cs.CoreV1().Pods(victim.Namespace).Delete(ctx, victim.Name, del); err != nil {
		return nil, fmt.Errorf("deleting pod %s/%s (%s replica %d): %w", victim.Namespace, victim.Name, component, replica, err)
	}
	k.logf("disrupt: deleted pod %s (%s replica %d); %d ready before", victim.Name, component, replica, want)
	return func(ctx context.Context) error {
		var fatal *charts.FatalPodError
		var state string
		err := wait.PollUntilContextCancel(ctx, k.interval, true, func(ctx context.Context) (bool, error) {
			pods, err := k.Pods(ctx, component)
			if err != nil {
				state = err.Error()
				return false, nil // transient API errors: keep polling within ctx
			}
			n, victimLeft := 0, false
			var lines []string
			for i := range pods {
				p := &pods[i]
				if p.UID == victim.UID {
					victimLeft = true
				} else if podReady(p) {
					n++
				}
				if !before[p.UID] {
					if f := charts.PodProblem(p); f != nil {
						fatal = f
						return false, f
					}
				}
				lines = append(lines, charts.PodSummary(p))
			}
			state = strings.Join(lines, "; ")
			return n >= want && !victimLeft, nil
		})
		if fatal != nil {
			return fmt.Errorf("%s after deleting pod %s: %w", component, victim.Name, fatal)
		}
		if err != nil {
			return fmt.Errorf("%s did not get back to %d ready pod(s) after deleting %s: %w (pods: %s)", component, want, victim.Name, err, state)
		}
		k.logf("disrupt: %s back to %d ready pod(s) (%s)", component, want, state)
		return nil
	}, nil
}

// Disrupt implements conformance.Inspector with DisruptPod. restore, which
// the interface lets return nothing, waits up to the restore timeout and
// logs a failure; the check's calls after it fail visibly too.
func (k *KubeInspector) Disrupt(component string, replica int) (func(), error) {
	ctx, cancel := k.callCtx()
	defer cancel()
	restore, err := k.DisruptPod(ctx, component, replica)
	if err != nil {
		return nil, err
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), k.restoreTimeout)
			defer cancel()
			if err := restore(ctx); err != nil {
				k.logf("restore: %v", err)
			}
		})
	}, nil
}

// ReplicaURL implements conformance.Inspector: it port-forwards to the pod
// of replica (ready pods sorted by name) on the container port behind the
// Service port, and returns https://<pod>:<port> (http:// for a plain
// port), a name ResolveHost maps to the forward and TLSNameOf verifies as
// the Service is (the stock WSO2 certificate is CN=localhost).
func (k *KubeInspector) ReplicaURL(component string, replica, port int) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), max(k.callTimeout, 45*time.Second))
	defer cancel()
	pods, err := k.ReadyPods(ctx, component)
	if err != nil {
		return "", err
	}
	if replica < 0 || replica >= len(pods) {
		return "", fmt.Errorf("component %s has %d ready replica(s); replica %d does not exist", component, len(pods), replica)
	}
	pod := &pods[replica]
	target, err := k.portOf(ctx, pod, port)
	if err != nil {
		return "", err
	}
	host := strings.ToLower(pod.Name)
	key := host + ":" + strconv.Itoa(port)
	u := target.scheme + "://" + key
	k.mu.RLock()
	closed, f := k.closed, k.forwards[key]
	k.mu.RUnlock()
	if closed {
		return "", errors.New("the inspector is closed")
	}
	if f != nil && !isDone(f.done) {
		return u, nil
	}
	if k.forward == nil {
		return "", errors.New("no REST config to port-forward with")
	}
	addr, done, stop, err := k.forward(ctx, pod.Namespace, pod.Name, target.podPort)
	if err != nil {
		return "", fmt.Errorf("%s replica %d (pod %s) port %d: %w", component, replica, pod.Name, port, err)
	}
	if err := k.register(key, host, addr, k.eps.TLSName(target.service), &podForward{addr: addr, done: done, stop: stop}); err != nil {
		stop()
		return "", err
	}
	return u, nil
}

// register records a forward under key and the pod's verify name; a forward
// it replaces (the old one ended) is stopped.
func (k *KubeInspector) register(key, host, addr, tlsName string, f *podForward) error {
	k.mu.Lock()
	if k.closed {
		k.mu.Unlock()
		return errors.New("the inspector is closed")
	}
	old := k.forwards[key]
	k.forwards[key] = f
	k.hosts[key] = addr
	k.names[host] = tlsName
	k.mu.Unlock()
	// Stopped outside the lock: stop waits for the forward's goroutine,
	// and dials must not wait for that.
	if old != nil && old.stop != nil {
		old.stop()
	}
	return nil
}

func isDone(c <-chan struct{}) bool {
	if c == nil {
		return false
	}
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// ResolveHost implements framework.HostResolver for the pod names
// ReplicaURL hands out.
func (k *KubeInspector) ResolveHost(hostport string) (string, bool) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	a, ok := k.hosts[strings.ToLower(hostport)]
	return a, ok
}

// TLSNameOf implements framework.HostResolver.
func (k *KubeInspector) TLSNameOf(host string) (string, bool) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	n, ok := k.names[strings.ToLower(host)]
	return n, ok
}

// Close stops every port-forward ReplicaURL opened.
func (k *KubeInspector) Close() {
	k.mu.Lock()
	fs := k.forwards
	k.closed, k.forwards, k.hosts = true, map[string]*podForward{}, map[string]string{}
	k.mu.Unlock()
	for _, f := range fs {
		if f.stop != nil {
			f.stop()
		}
	}
}

// portTarget is where a Service port of a pod leads.
type portTarget struct {
	service string
	podPort int
	scheme  string
}

// portOf finds a Service selecting pod with port and resolves its
// targetPort on the pod (numeric or named), the way kube-proxy would.
func (k *KubeInspector) portOf(ctx context.Context, pod *corev1.Pod, port int) (portTarget, error) {
	svcs, err := k.cs.CoreV1().Services(pod.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return portTarget{}, fmt.Errorf("listing Services in %s: %w", pod.Namespace, err)
	}
	sort.Slice(svcs.Items, func(i, j int) bool { return svcs.Items[i].Name < svcs.Items[j].Name })
	for _, s := range svcs.Items {
		if len(s.Spec.Selector) == 0 || !labels.SelectorFromSet(s.Spec.Selector).Matches(labels.Set(pod.Labels)) {
			continue
		}
		for _, sp := range s.Spec.Ports {
			if int(sp.Port) != port {
				continue
			}
			pp, err := patterns.ContainerPort(pod, sp.TargetPort, sp.Port)
			if err != nil {
				return portTarget{}, err
			}
			return portTarget{service: s.Name, podPort: pp, scheme: k.schemeOf(s.Name, sp)}, nil
		}
	}
	return portTarget{}, fmt.Errorf("no Service selecting pod %s exposes port %d", pod.Name, port)
}

// schemeOf tells a TLS port from a plain one by the charts' port names
// (pass-through-https, servlet-http, wss, websub-secure, ...; facts §2.2),
// then by the Endpoints URL using that Service port; WSO2 serves TLS
// otherwise.
func (k *KubeInspector) schemeOf(svc string, sp corev1.ServicePort) string {
	n := strings.ToLower(sp.Name)
	if sp.AppProtocol != nil {
		n = strings.ToLower(*sp.AppProtocol)
	}
	switch {
	case strings.HasSuffix(n, "https"), strings.HasSuffix(n, "secure"), n == "wss":
		return "https"
	case strings.HasSuffix(n, "http"), n == "ws", n == "websub":
		return "http"
	}
	for _, raw := range []string{k.eps.Management, k.eps.Gateway, k.eps.GatewayManagement, k.eps.KeyManager, k.eps.IdentityServer, k.eps.Backend} {
		if u, err := url.Parse(raw); err == nil && strings.EqualFold(u.Hostname(), svc) && u.Port() == strconv.Itoa(int(sp.Port)) {
			return u.Scheme
		}
	}
	return "https"
}

// spdyForward opens a client-go port-forward from 127.0.0.1:<free port> to
// one pod's port. patterns.StartForward picks a pod behind a Service; a
// replica's address must reach exactly the pod asked for.
func spdyForward(ctx context.Context, rc *rest.Config, cs kubernetes.Interface, ns, pod string, port int, errLog io.Writer) (string, <-chan struct{}, func(), error) {
	rt, upgrader, err := spdy.RoundTripperFor(rc)
	if err != nil {
		return "", nil, nil, fmt.Errorf("port-forward: SPDY transport: %w", err)
	}
	u := cs.CoreV1().RESTClient().Post().Resource("pods").Namespace(ns).Name(pod).SubResource("portforward").URL()
	dialer := spdy.NewDialer(upgrader, &http.Client{Transport: rt}, http.MethodPost, u)
	stopCh, ready, done := make(chan struct{}), make(chan struct{}), make(chan struct{})
	var once sync.Once
	stop := func() {
		once.Do(func() { close(stopCh) })
		<-done
	}
	fw, err := portforward.NewOnAddresses(dialer, []string{"127.0.0.1"}, []string{fmt.Sprintf("0:%d", port)}, stopCh, ready, io.Discard, errLog)
	if err != nil {
		return "", nil, nil, fmt.Errorf("port-forward to pod %s/%s:%d: %w", ns, pod, port, err)
	}
	errc := make(chan error, 1)
	go func() {
		defer close(done)
		errc <- fw.ForwardPorts()
	}()
	select {
	case <-ready:
	case err := <-errc:
		return "", nil, nil, fmt.Errorf("port-forward to pod %s/%s:%d: %v", ns, pod, port, err)
	case <-ctx.Done():
		stop()
		return "", nil, nil, fmt.Errorf("port-forward to pod %s/%s:%d not ready (is the container listening? kwok pods never are): %w", ns, pod, port, ctx.Err())
	}
	ports, err := fw.GetPorts()
	if err != nil || len(ports) == 0 {
		stop()
		return "", nil, nil, fmt.Errorf("port-forward to pod %s/%s:%d: no local port: %v", ns, pod, port, err)
	}
	return fmt.Sprintf("127.0.0.1:%d", ports[0].Local), done, stop, nil
}
