package platform

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/apim-conformance/apim-conformance/clusters/local"
	"github.com/apim-conformance/apim-conformance/fixtures/charts"
	"github.com/apim-conformance/apim-conformance/internal/testenvreq"
	"github.com/apim-conformance/apim-conformance/tools/apimsim/sim"
)

// TestKubeInspectorOnLocal runs the inspector against a real API server,
// controller-manager and scheduler with kwok nodes: objects shaped like
// the WSO2 charts' (an HA all-in-one and a two-replica gateway) are
// created with client-go, kwok makes their pods Ready, and a deleted pod is
// recreated by its ReplicaSet. Port-forwards cannot run (kwok pods run
// nothing); TestReplicaURLRegistersHostAndTLSName covers the rest of
// ReplicaURL.
func TestKubeInspectorOnLocal(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bin, err := local.DefaultBinDir()
	testenvreq.Require(t, "control-plane binaries (clusters/local)", err)
	c, err := local.Start(ctx, local.Options{BinDir: bin, Log: testWriter{t}, NoSignalHandler: true})
	testenvreq.Require(t, "local control plane (clusters/local)", err)
	t.Cleanup(func() { _ = c.Stop() })
	cs, err := c.Clientset()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: testNS}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	objs, aio1, aio2, gw := aioGWObjects()
	for _, o := range objs {
		if err := createObject(ctx, cs, o.obj); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []*appsv1.Deployment{aio1, aio2, gw} {
		w := charts.PodWait{Namespace: testNS, Selector: metav1.FormatLabelSelector(d.Spec.Selector), MinReady: int(*d.Spec.Replicas), Timeout: 2 * time.Minute, Interval: 250 * time.Millisecond}
		if err := charts.WaitPodsReady(ctx, cs, w, testWriter{t}); err != nil {
			t.Fatalf("Deployment %s: %v", d.Name, err)
		}
	}

	k, err := NewKubeInspector(KubeInspectorOptions{RESTConfig: c.RESTConfig(), Pattern: testPattern(relIS, relAIO, relGW), Interval: 250 * time.Millisecond, RestoreTimeout: 2 * time.Minute, Log: testWriter{t}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(k.Close)

	if got, want := k.NodeConfigs(), map[string]string{sim.CompAllInOne: "# aio node 1", sim.CompGateway: "# gateway"}; !reflect.DeepEqual(got, want) {
		t.Errorf("NodeConfigs = %v, want %v", got, want)
	}
	if got, want := k.ServiceNames(), []string{gwFull + "-service", aioFull + "-am-service", aioFull + "-am-service-1"}; !reflect.DeepEqual(got, want) {
		t.Errorf("ServiceNames = %v, want %v", got, want)
	}
	if n := k.Replicas(sim.CompAllInOne); n != 2 {
		t.Errorf("all-in-one replicas = %d, want 2", n)
	}
	if n := k.Replicas(sim.CompGateway); n != 2 {
		t.Errorf("gateway replicas = %d, want 2", n)
	}
	if k.GatewayComponent() != sim.CompGateway {
		t.Errorf("gateway component %s", k.GatewayComponent())
	}

	// DisruptPod: the pod is gone (terminating or deleted) at once, and
	// restore returns once its ReplicaSet's replacement is Ready.
	before, err := k.ReadyPods(ctx, sim.CompGateway)
	if err != nil {
		t.Fatal(err)
	}
	restore, err := k.DisruptPod(ctx, sim.CompGateway, 0)
	if err != nil {
		t.Fatal(err)
	}
	victim := before[0]
	// The replacement may already be Ready (kwok is quick), so only the
	// victim's absence is certain.
	now, err := k.ReadyPods(ctx, sim.CompGateway)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range now {
		if p.UID == victim.UID {
			t.Errorf("the deleted pod %s still counts as a ready replica", victim.Name)
		}
	}
	rctx, rcancel := context.WithTimeout(ctx, 2*time.Minute)
	defer rcancel()
	if err := restore(rctx); err != nil {
		t.Fatalf("restore: %v", err)
	}
	after, err := k.ReadyPods(ctx, sim.CompGateway)
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != 2 {
		t.Fatalf("ready gateway pods after restore: %d, want 2", len(after))
	}
	for _, p := range after {
		if p.UID == victim.UID {
			t.Errorf("the deleted pod %s is still among the ready ones", victim.Name)
		}
	}

	// The Inspector form on the all-in-one: a node Deployment of one pod.
	restoreAIO, err := k.Disrupt(sim.CompAllInOne, 1)
	if err != nil {
		t.Fatal(err)
	}
	restoreAIO()
	if n := k.Replicas(sim.CompAllInOne); n != 2 {
		t.Errorf("all-in-one replicas after restore = %d, want 2", n)
	}
	if _, err := k.Disrupt(sim.CompAllInOne, 2); err == nil {
		t.Error("replica 2 of the all-in-one's 2 was accepted")
	}

	// ReplicaURL gets as far as the port-forward, which kwok cannot serve;
	// it must fail within its own deadline rather than hang.
	start := time.Now()
	if _, err := k.ReplicaURL(sim.CompGateway, 0, 8243); err == nil {
		t.Error("a port-forward to a kwok pod succeeded")
	} else {
		t.Logf("ReplicaURL on kwok: %v (after %s)", err, time.Since(start).Round(time.Millisecond))
	}
}

func createObject(ctx context.Context, cs kubernetes.Interface, obj any) error {
	var err error
	switch x := obj.(type) {
	case *corev1.ConfigMap:
		_, err = cs.CoreV1().ConfigMaps(x.Namespace).Create(ctx, x, metav1.CreateOptions{})
	case *corev1.Service:
		_, err = cs.CoreV1().Services(x.Namespace).Create(ctx, x, metav1.CreateOptions{})
	case *appsv1.Deployment:
		_, err = cs.AppsV1().Deployments(x.Namespace).Create(ctx, x, metav1.CreateOptions{})
	case *corev1.Pod:
		_, err = cs.CoreV1().Pods(x.Namespace).Create(ctx, x, metav1.CreateOptions{})
	default:
		err = fmt.Errorf("unexpected fixture %T", obj)
	}
	return err
}
