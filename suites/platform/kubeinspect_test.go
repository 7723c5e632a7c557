package platform

import (
	"context"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/apim-conformance/apim-conformance/fixtures/charts"
	"github.com/apim-conformance/apim-conformance/fixtures/patterns"
	"github.com/apim-conformance/apim-conformance/suites/framework"
	"github.com/apim-conformance/apim-conformance/tools/apimsim/sim"
)

const testNS = "apim"

// testPattern is a pattern of the given releases (name -> chart), in order.
func testPattern(rels ...[2]string) *patterns.Pattern {
	p := &patterns.Pattern{Namespace: testNS}
	for _, r := range rels {
		p.Steps = append(p.Steps, patterns.Step{Release: &patterns.Release{Name: r[0], Chart: charts.ChartRef{Name: r[1]}}})
	}
	return p
}

var (
	relAIO = [2]string{patterns.ReleaseAIO, charts.ChartAllInOne}
	relGW  = [2]string{patterns.ReleaseGW, charts.ChartGateway}
	relIS  = [2]string{"is", charts.ChartIdentityServe}
)

// helmMeta is the metadata Helm gives a release's objects.
func helmMeta(name, release string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: testNS, Annotations: map[string]string{helmReleaseName: release, helmReleaseNamespace: testNS}}
}

func conf(meta metav1.ObjectMeta, toml string) *corev1.ConfigMap {
	cm := &corev1.ConfigMap{ObjectMeta: meta, Data: map[string]string{}}
	if toml != "" {
		cm.Data[deploymentTOML] = toml
	} else {
		cm.Data["docker-entrypoint.sh"] = "#!/bin/sh"
	}
	return cm
}

// chartDeployment is a Deployment shaped like the WSO2 charts': pods
// labelled deployment=<sel> (plus node=<node> for the AIO's per-node
// Deployments), the chart's grace period and container ports.
func chartDeployment(meta metav1.ObjectMeta, replicas int32, podLabels map[string]string) *appsv1.Deployment {
	grace := int64(40)
	return &appsv1.Deployment{
		ObjectMeta: meta,
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: podLabels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: podLabels},
				Spec: corev1.PodSpec{
					TerminationGracePeriodSeconds: &grace,
					Containers: []corev1.Container{{Name: "wso2am", Image: "local/wso2am:test", Ports: []corev1.ContainerPort{
						{Name: "pt-https", ContainerPort: 8243}, {ContainerPort: 8280}, {ContainerPort: 9443},
					}}},
				},
			},
		},
	}
}

func chartService(meta metav1.ObjectMeta, selector map[string]string) *corev1.Service {
	return &corev1.Service{ObjectMeta: meta, Spec: corev1.ServiceSpec{Selector: selector, Ports: []corev1.ServicePort{
		{Name: "pass-through-http", Port: 8280},
		{Name: "pass-through-https", Port: 8243, TargetPort: intstr.FromString("pt-https")},
		{Name: "servlet-https", Port: 9443, TargetPort: intstr.FromInt32(9443)},
	}}}
}

// fakePod is a pod of d as the ReplicaSet would create it.
func fakePod(d *appsv1.Deployment, name string, ready bool) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: d.Namespace, Labels: d.Spec.Template.Labels, UID: types.UID("uid-" + name)},
		Spec:       d.Spec.Template.Spec,
		Status:     corev1.PodStatus{Phase: corev1.PodRunning},
	}
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: st}}
	return p
}

const (
	aioFull = "apim-wso2am-all-in-one"
	gwFull  = "apim-gw-wso2am-universal-gw"
)

// aioGWObjects is pattern 2's shape with an HA all-in-one: two AIO
// Deployments (one pod each), a two-replica gateway, their Services and
// ConfigMaps, an IS release's ConfigMap and a foreign ConfigMap.
func aioGWObjects() (objs []runtimePair, aio1, aio2, gw *appsv1.Deployment) {
	aio1 = chartDeployment(helmMeta(aioFull+"-am-deployment-1", "apim"), 1, map[string]string{"deployment": aioFull + "-am", "node": aioFull + "-am-1"})
	aio2 = chartDeployment(helmMeta(aioFull+"-am-deployment-2", "apim"), 1, map[string]string{"deployment": aioFull + "-am", "node": aioFull + "-am-2"})
	// The gateway was applied without Helm: it is found by the chart's
	// name prefix instead of the release annotation.
	gw = chartDeployment(metav1.ObjectMeta{Name: gwFull + "-deployment", Namespace: testNS}, 2, map[string]string{"deployment": gwFull})
	objs = []runtimePair{
		{aio1}, {aio2}, {gw},
		{conf(helmMeta(aioFull+"-am-conf-2", "apim"), "# aio node 2")},
		{conf(helmMeta(aioFull+"-am-conf-1", "apim"), "# aio node 1")},
		{conf(helmMeta(aioFull+"-conf-entrypoint", "apim"), "")},
		{conf(metav1.ObjectMeta{Name: gwFull + "-conf", Namespace: testNS}, "# gateway")},
		{conf(helmMeta("is-identity-server-conf", "is"), "# identity server")},
		{conf(metav1.ObjectMeta{Name: "someone-else-conf", Namespace: testNS}, "# not ours")},
		{chartService(helmMeta(aioFull+"-am-service", "apim"), map[string]string{"deployment": aioFull + "-am"})},
		{chartService(helmMeta(aioFull+"-am-service-1", "apim"), map[string]string{"deployment": aioFull + "-am", "node": aioFull + "-am-1"})},
		{chartService(metav1.ObjectMeta{Name: gwFull + "-service", Namespace: testNS}, map[string]string{"deployment": gwFull})},
	}
	return objs, aio1, aio2, gw
}

// runtimePair wraps an object so the fixtures read as one list.
type runtimePair struct{ obj interface{ GetName() string } }

func newFakeInspector(t *testing.T, p *patterns.Pattern, eps framework.Endpoints, objs ...runtimePair) (*KubeInspector, *fake.Clientset) {
	t.Helper()
	cs := fake.NewClientset()
	ctx := context.Background()
	for _, o := range objs {
		if err := createObject(ctx, cs, o.obj); err != nil {
			t.Fatal(err)
		}
	}
	k, err := NewKubeInspector(KubeInspectorOptions{Clientset: cs, Pattern: p, Endpoints: eps, Interval: 10 * time.Millisecond, Log: testWriter{t}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(k.Close)
	return k, cs
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func TestFullname(t *testing.T) {
	for _, c := range []struct{ rel, chart, want string }{
		{"apim", charts.ChartAllInOne, "apim-wso2am-all-in-one"},
		{"apim-acp", charts.ChartControlPlane, "apim-acp-wso2am-acp"},
		{"apim-km", charts.ChartKeyManager, "apim-km-wso2am-km"},
		{"my-wso2am-km", charts.ChartKeyManager, "my-wso2am-km"},
		{strings.Repeat("r", 60), charts.ChartTrafficMgr, strings.Repeat("r", 60) + "-ws"},
	} {
		if got := fullname(c.rel, c.chart); got != c.want {
			t.Errorf("fullname(%s, %s) = %s, want %s", c.rel, c.chart, got, c.want)
		}
	}
}

// TestComponentsOfCataloguePatterns maps the catalogue's releases to the
// emulator's component names.
func TestComponentsOfCataloguePatterns(t *testing.T) {
	for _, c := range []struct {
		pattern int
		comps   []string
		gateway string
	}{
		{0, []string{sim.CompAllInOne}, sim.CompAllInOne},
		{1, []string{sim.CompAllInOne}, sim.CompAllInOne},
		{2, []string{sim.CompAllInOne, sim.CompGateway}, sim.CompGateway},
		{3, []string{sim.CompControlPlane, sim.CompGateway, sim.CompTrafficManager}, sim.CompGateway},
		{4, []string{sim.CompControlPlane, sim.CompGateway, sim.CompKeyManager, sim.CompTrafficManager}, sim.CompGateway},
		{5, []string{sim.CompAllInOne, sim.CompGateway, sim.CompKeyManager}, sim.CompGateway},
		{6, []string{sim.CompAllInOne}, sim.CompAllInOne},
	} {
		p, err := patterns.Get(c.pattern)
		if err != nil {
			t.Logf("pattern %d: %v", c.pattern, err)
			continue
		}
		k, err := NewKubeInspector(KubeInspectorOptions{Clientset: fake.NewClientset(), Pattern: p})
		if err != nil {
			t.Fatal(err)
		}
		if got := k.Components(); !reflect.DeepEqual(got, c.comps) {
			t.Errorf("pattern %d: components %v, want %v", c.pattern, got, c.comps)
		}
		if got := k.GatewayComponent(); got != c.gateway {
			t.Errorf("pattern %d: gateway component %s, want %s", c.pattern, got, c.gateway)
		}
	}
}

func TestNodeConfigsAndServicesFake(t *testing.T) {
	objs, _, _, _ := aioGWObjects()
	k, _ := newFakeInspector(t, testPattern(relIS, relAIO, relGW), framework.Endpoints{}, objs...)
	got := k.NodeConfigs()
	want := map[string]string{sim.CompAllInOne: "# aio node 1", sim.CompGateway: "# gateway"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("NodeConfigs = %v, want %v", got, want)
	}
	svcs := k.ServiceNames()
	wantSvcs := []string{gwFull + "-service", aioFull + "-am-service", aioFull + "-am-service-1"}
	if !reflect.DeepEqual(svcs, wantSvcs) {
		t.Errorf("ServiceNames = %v, want %v", svcs, wantSvcs)
	}
}

// TestReleaseAnnotationWins: an object Helm annotated as another release's
// is not ours even when its name has our prefix.
func TestReleaseAnnotationWins(t *testing.T) {
	r := kubeRelease{name: "apim-gw", chart: charts.ChartGateway, namespace: testNS}
	if r.owns(helmMeta(gwFull+"-conf", "other")) {
		t.Error("an object of release other was taken for apim-gw's")
	}
	if !r.owns(helmMeta("renamed-by-fullnameoverride", "apim-gw")) {
		t.Error("an annotated object of apim-gw with another name was not recognised")
	}
	if r.owns(metav1.ObjectMeta{Name: gwFull + "-conf", Namespace: "elsewhere"}) {
		t.Error("an object in another namespace was taken for apim-gw's")
	}
}

func TestReplicasCountsReadyPodsFake(t *testing.T) {
	objs, aio1, aio2, gw := aioGWObjects()
	objs = append(objs,
		runtimePair{fakePod(aio1, aioFull+"-am-deployment-1-abc", true)},
		runtimePair{fakePod(aio2, aioFull+"-am-deployment-2-def", true)},
		runtimePair{fakePod(gw, gwFull+"-deployment-x-1", true)},
		runtimePair{fakePod(gw, gwFull+"-deployment-x-2", false)},
	)
	k, _ := newFakeInspector(t, testPattern(relAIO, relGW), framework.Endpoints{}, objs...)
	if n := k.Replicas(sim.CompAllInOne); n != 2 {
		t.Errorf("all-in-one replicas = %d, want 2 (one pod per node Deployment)", n)
	}
	if n := k.Replicas(sim.CompGateway); n != 1 {
		t.Errorf("gateway replicas = %d, want 1 (one pod is not ready)", n)
	}
	if n := k.Replicas(sim.CompKeyManager); n != 0 {
		t.Errorf("key-manager replicas = %d, want 0 (no such component)", n)
	}
}

// TestDisruptPodFake deletes a replica with the chart's grace period and
// waits for a replacement; a replacement that crash-loops stops the wait
// at once.
func TestDisruptPodFake(t *testing.T) {
	objs, _, _, gw := aioGWObjects()
	objs = append(objs, runtimePair{fakePod(gw, gwFull+"-deployment-x-1", true)}, runtimePair{fakePod(gw, gwFull+"-deployment-x-2", true)})
	k, cs := newFakeInspector(t, testPattern(relAIO, relGW), framework.Endpoints{}, objs...)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	var grace *int64
	cs.PrependReactor("delete", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		grace = a.(k8stesting.DeleteAction).GetDeleteOptions().GracePeriodSeconds
		return false, nil, nil
	})
	if _, err := k.DisruptPod(ctx, sim.CompGateway, 2); err == nil {
		t.Error("replica 2 of 2 was accepted")
	}
	restore, err := k.DisruptPod(ctx, sim.CompGateway, 1)
	if err != nil {
		t.Fatal(err)
	}
	if grace == nil || *grace != 40 {
		t.Errorf("grace period %v, want the pod's 40s", grace)
	}
	if _, err := cs.CoreV1().Pods(testNS).Get(ctx, gwFull+"-deployment-x-2", metav1.GetOptions{}); err == nil {
		t.Fatal("replica 1 (the second pod by name) was not deleted")
	}
	// Not yet restored: the wait runs out within a short context.
	short, cancelShort := context.WithTimeout(ctx, 100*time.Millisecond)
	if err := restore(short); err == nil {
		t.Error("restore returned before a replacement was ready")
	}
	cancelShort()
	if _, err := cs.CoreV1().Pods(testNS).Create(ctx, fakePod(gw, gwFull+"-deployment-x-3", true), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := restore(ctx); err != nil {
		t.Errorf("restore with a ready replacement: %v", err)
	}

	// A crash-looping replacement ends the wait early.
	restore, err = k.DisruptPod(ctx, sim.CompGateway, 0)
	if err != nil {
		t.Fatal(err)
	}
	bad := fakePod(gw, gwFull+"-deployment-x-4", false)
	bad.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "wso2am", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}}}}
	if _, err := cs.CoreV1().Pods(testNS).Create(ctx, bad, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = restore(ctx)
	if err == nil || !strings.Contains(err.Error(), "CrashLoopBackOff") {
		t.Errorf("restore with a crash-looping replacement: %v, want CrashLoopBackOff", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("restore took %s to notice the crash loop", time.Since(start))
	}
}

// TestReplicaURLRegistersHostAndTLSName stands in for the port-forward
// (kwok pods run nothing) with a TLS server, and checks that the URL the
// inspector returns is reachable through Endpoints' client: the pod name
// resolves to the forward and is verified as the Service is.
func TestReplicaURLRegistersHostAndTLSName(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "replica")
	}))
	defer srv.Close()
	objs, _, _, gw := aioGWObjects()
	pod := fakePod(gw, gwFull+"-deployment-x-1", true)
	objs = append(objs, runtimePair{pod}, runtimePair{fakePod(gw, gwFull+"-deployment-x-2", true)})
	eps := framework.Endpoints{
		Gateway: "https://" + gwFull + "-service:8243",
		CAPEM:   pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}),
		// httptest's certificate names example.com, as the stock WSO2 one
		// names localhost.
		TLSNames: map[string]string{gwFull + "-service": "example.com"},
	}
	k, _ := newFakeInspector(t, testPattern(relAIO, relGW), eps, objs...)
	type fwd struct {
		pod  string
		port int
	}
	var forwards []fwd
	stopped := 0
	k.forward = func(ctx context.Context, ns, p string, port int) (string, <-chan struct{}, func(), error) {
		if _, ok := ctx.Deadline(); !ok {
			t.Error("port-forward without a deadline")
		}
		forwards = append(forwards, fwd{p, port})
		return srv.Listener.Addr().String(), nil, func() { stopped++ }, nil
	}

	u, err := k.ReplicaURL(sim.CompGateway, 0, 8243)
	if err != nil {
		t.Fatal(err)
	}
	if want := "https://" + pod.Name + ":8243"; u != want {
		t.Errorf("ReplicaURL = %s, want %s", u, want)
	}
	// The named targetPort pt-https leads to container port 8243.
	if want := []fwd{{pod.Name, 8243}}; !reflect.DeepEqual(forwards, want) {
		t.Errorf("forwards %v, want %v", forwards, want)
	}
	if again, _ := k.ReplicaURL(sim.CompGateway, 0, 8243); again != u || len(forwards) != 1 {
		t.Errorf("a second ReplicaURL gave %s and opened %d forwards; want the same URL and one forward", again, len(forwards))
	}
	if n, _ := k.TLSNameOf(strings.ToUpper(pod.Name)); n != "example.com" {
		t.Errorf("TLS name of the pod %q, want the Service's example.com", n)
	}

	eps.Resolver = k
	client, err := eps.HTTPClient(5 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Get(u + "/")
	if err != nil {
		t.Fatalf("GET %s through the Endpoints' client: %v", u, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "replica" {
		t.Errorf("body %q", body)
	}

	if u, err := k.ReplicaURL(sim.CompGateway, 1, 8280); err != nil || !strings.HasPrefix(u, "http://") {
		t.Errorf("pass-through-http port: %s, %v; want an http:// URL", u, err)
	}
	if _, err := k.ReplicaURL(sim.CompGateway, 2, 8243); err == nil {
		t.Error("replica 2 of 2 was accepted")
	}
	if _, err := k.ReplicaURL(sim.CompGateway, 0, 9999); err == nil {
		t.Error("a port no Service exposes was accepted")
	}

	k.Close()
	if stopped != 2 {
		t.Errorf("Close stopped %d forwards, want 2", stopped)
	}
	if _, ok := k.ResolveHost(pod.Name + ":8243"); ok {
		t.Error("the pod name still resolves after Close")
	}
	if _, err := k.ReplicaURL(sim.CompGateway, 0, 8243); err == nil {
		t.Error("ReplicaURL after Close succeeded")
	}
}

// TestEndpointsResolverOrder: HostMap wins over the Resolver, so a
// provider cannot shadow a Service's forward.
func TestEndpointsResolverOrder(t *testing.T) {
	k, err := NewKubeInspector(KubeInspectorOptions{Clientset: fake.NewClientset(), Pattern: testPattern(relGW)})
	if err != nil {
		t.Fatal(err)
	}
	if err := k.register("svc:1", "svc", "127.0.0.1:1", "resolver-name", &podForward{}); err != nil {
		t.Fatal(err)
	}
	e := framework.Endpoints{TLSNames: map[string]string{"svc": "static-name"}, Resolver: k}
	if got := e.TLSName("SVC"); got != "static-name" {
		t.Errorf("TLSName = %s, want TLSNames' static-name", got)
	}
	e.TLSNames = nil
	if got := e.TLSName("SVC"); got != "resolver-name" {
		t.Errorf("TLSName = %s, want the resolver's", got)
	}
	if got := e.TLSName("other"); got != "other" {
		t.Errorf("TLSName of an unknown host = %s", got)
	}
}
