package diagnostics

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/storage"
	"helm.sh/helm/v3/pkg/storage/driver"
	helmtime "helm.sh/helm/v3/pkg/time"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/apim-conformance/apim-conformance/clusters/local"
	"github.com/apim-conformance/apim-conformance/internal/testenvreq"
)

// TestCollectAgainstLocalControlPlane dumps a namespace with a rolled-out
// Deployment (kwok pods) and a Helm release stored through the real API
// server. kwok pods serve no logs, so the log steps must land in the index
// as errors while the rest of the bundle is written.
func TestCollectAgainstLocalControlPlane(t *testing.T) {
	bin, err := local.DefaultBinDir()
	testenvreq.Require(t, "local control plane binaries", err)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c, err := local.Start(ctx, local.Options{BinDir: bin})
	if err != nil {
		t.Fatalf("start local control plane: %v", err)
	}
	defer c.Stop()
	cs, err := kubernetes.NewForConfig(c.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "apim"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	one := int32(1)
	labels := map[string]string{"app": "is"}
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "is-identity-server", Namespace: "apim"},
		Spec: appsv1.DeploymentSpec{Replicas: &one, Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "wso2is", Image: "local/wso2is-km:7.2.0-abc"}}}}},
	}
	if _, err := cs.AppsV1().Deployments("apim").Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	store := storage.Init(driver.NewSecrets(cs.CoreV1().Secrets("apim")))
	rel := &release.Release{Name: "is", Namespace: "apim", Version: 1, Manifest: manifest,
		Chart:  &chart.Chart{Metadata: &chart.Metadata{Name: "identity-server", Version: "7.1.0-3"}},
		Info:   &release.Info{Status: release.StatusDeployed, LastDeployed: helmtime.Now()},
		Config: map[string]any{"deploymentToml": map[string]any{"superAdmin": map[string]any{"password": "local-admin-pw"}}}}
	if err := store.Create(rel); err != nil {
		t.Fatal(err)
	}
	// Bounded poll until the pod is Ready (kwok).
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		pods, err := cs.CoreV1().Pods("apim").List(ctx, metav1.ListOptions{LabelSelector: "app=is"})
		if err != nil || len(pods.Items) == 0 {
			return false, nil
		}
		for _, cnd := range pods.Items[0].Status.Conditions {
			if cnd.Type == corev1.PodReady && cnd.Status == corev1.ConditionTrue {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("pod never became Ready: %v", err)
	}

	out := filepath.Join(t.TempDir(), "diagnostics")
	idx, err := Collect(ctx, Options{RESTConfig: c.RESTConfig(), Namespaces: []string{"apim"}, HelmReleases: []Release{{Name: "is", Namespace: "apim"}}, OutDir: out, Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	files := strings.Join(idx.Files, "\n")
	for _, w := range []string{"nodes.yaml", "namespaces/apim/events.yaml", "namespaces/apim/workloads.yaml", "namespaces/apim/pods/is-identity-server-", "helm/apim/is/manifest.yaml", "helm/apim/is/values.yaml"} {
		if !strings.Contains(files, w) {
			t.Errorf("missing %s in\n%s", w, files)
		}
	}
	t.Logf("index errors (expected for kwok pods without a kubelet): %v", idx.Errors)
	wl, _ := os.ReadFile(filepath.Join(out, "namespaces/apim/workloads.yaml"))
	if !strings.Contains(string(wl), "is-identity-server") {
		t.Errorf("workloads:\n%s", wl)
	}
	v, _ := os.ReadFile(filepath.Join(out, "helm/apim/is/values.yaml"))
	if strings.Contains(string(v), "local-admin-pw") || !strings.Contains(string(v), Redacted) {
		t.Errorf("values not redacted:\n%s", v)
	}
}
