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
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	"sigs.k8s.io/yaml"
)

func TestSensitiveKey(t *testing.T) {
	for k, want := range map[string]bool{
		"password": true, "adminPassword": true, "keyPassword": true, "key": true, "encryptionKey": true,
		"apiKey": true, "token": true, "client_secret": true, "privateKey": true, "credentials": true,
		"jksSecretName": false, "secretName": false, "keystores": false, "keyManager": false, "alias": false,
		"secretKeyRef": false, "tokenEndpoint": false, "oauth2JWKSUrl": false, "name": false, "enabled": false,
		"file_name": false, "tag": false,
	} {
		if got := SensitiveKey(k); got != want {
			t.Errorf("SensitiveKey(%q)=%v want %v", k, got, want)
		}
	}
}

func TestRedactValues(t *testing.T) {
	in := map[string]any{"wso2": map[string]any{
		"apim": map[string]any{"configurations": map[string]any{
			"adminPassword": "adm1n-pw",
			"encryption":    map[string]any{"key": "0123456789abcdef"},
			"security":      map[string]any{"jksSecretName": "apim-keystore-secret", "truststore": map[string]any{"password": "ts-pw", "name": "client-truststore.jks"}},
			"databases":     map[string]any{"apim_db": map[string]any{"url": "jdbc:mysql://db:3306/apim_db", "username": "apim", "password": "db-pw"}},
			"extraConfigs":  "[x]\npassword = \"toml-pw\"\nname = \"keep\"\n",
			"tokens":        []any{"t1", "t2"},
		}},
	}}
	out, _ := yaml.Marshal(RedactValues(in))
	s := string(out)
	for _, secret := range []string{"adm1n-pw", "0123456789abcdef", "ts-pw", "db-pw", "toml-pw", "t1"} {
		if strings.Contains(s, secret) {
			t.Errorf("%q not redacted:\n%s", secret, s)
		}
	}
	for _, keep := range []string{"apim-keystore-secret", "client-truststore.jks", "jdbc:mysql://db:3306/apim_db", `name = "keep"`} {
		if !strings.Contains(s, keep) {
			t.Errorf("%q should be kept:\n%s", keep, s)
		}
	}
}

func TestRedactText(t *testing.T) {
	in := `[super_admin]
username = "admin"
password = "admin-pw"
[keystore.tls]
file_name = "wso2carbon.jks"
key_password = "kp"
"header.X-WSO2-KEY-MANAGER" = "WSO2-IS"
curl -H "Authorization: Bearer eyJabc.def" https://user:hunter2@host/x
  adminPassword: yaml-pw
  oauth2JWKSUrl: https://km:9443/oauth2/jwks
`
	out := RedactText(in)
	for _, secret := range []string{"admin-pw", `"kp"`, "eyJabc", "hunter2", "yaml-pw"} {
		if strings.Contains(out, secret) {
			t.Errorf("%q not redacted:\n%s", secret, out)
		}
	}
	for _, keep := range []string{`username = "admin"`, `file_name = "wso2carbon.jks"`, "WSO2-IS", "https://km:9443/oauth2/jwks", "user:<redacted>@host"} {
		if !strings.Contains(out, keep) {
			t.Errorf("%q should be kept:\n%s", keep, out)
		}
	}
}

const manifest = `---
# Source: wso2am-all-in-one/templates/secret.yaml
apiVersion: v1
kind: Secret
metadata:
  name: apim-secret
data:
  admin-password: c2VjcmV0LWFkbWlu
stringData:
  db: plain-db-pw
---
# Source: wso2am-all-in-one/templates/conf.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: apim-wso2am-all-in-one-am-conf-1
data:
  deployment.toml: |
    [super_admin]
    username = "admin"
    password = "toml-admin-pw"
    [database.apim_db]
    url = "jdbc:mysql://mysql:3306/apim_db"
    password = "toml-db-pw"
`

func TestRedactManifest(t *testing.T) {
	out := RedactManifest(manifest)
	for _, secret := range []string{"c2VjcmV0LWFkbWlu", "plain-db-pw", "toml-admin-pw", "toml-db-pw"} {
		if strings.Contains(out, secret) {
			t.Errorf("%q not redacted:\n%s", secret, out)
		}
	}
	for _, keep := range []string{"# Source: wso2am-all-in-one/templates/secret.yaml", "admin-password: <redacted>", "jdbc:mysql://mysql:3306/apim_db", "apim-wso2am-all-in-one-am-conf-1"} {
		if !strings.Contains(out, keep) {
			t.Errorf("%q should be kept:\n%s", keep, out)
		}
	}
	if strings.Count(out, "\n---\n") != 1 {
		t.Errorf("two documents expected:\n%s", out)
	}
}

func TestCapping(t *testing.T) {
	b := []byte(strings.Repeat("line of log text\n", 1000)) // 17000 bytes
	out, err := readCapped(strings.NewReader(string(b)), 1000, 100000)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(out), "[diagnostics: log capped, showing the last") || len(out) > 1000+100 {
		t.Fatalf("capped output: %d bytes: %q", len(out), out[:80])
	}
	body := out[strings.IndexByte(string(out), '\n')+1:]
	if !strings.HasPrefix(string(body), "line of log text") || !strings.HasSuffix(string(body), "line of log text\n") {
		t.Fatal("the tail must start at a line boundary and end with the last line")
	}
	// Transfer bound.
	out, _ = readCapped(strings.NewReader(string(b)), 100000, 500)
	if len(out) != 500 {
		t.Fatalf("limit: %d", len(out))
	}
	small, _ := readCapped(strings.NewReader("abc\n"), 1000, 4000)
	if string(small) != "abc\n" {
		t.Fatal(string(small))
	}
}

func seed(t *testing.T, cs kubernetes.Interface) {
	t.Helper()
	ctx := context.Background()
	one := int32(1)
	now := metav1.NewTime(time.Now())
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "apim-wso2am-all-in-one-am-deployment-1-abc", Namespace: "apim", Labels: map[string]string{"app": "apim"},
			OwnerReferences: []metav1.OwnerReference{{Kind: "ReplicaSet", Name: "apim-rs"}}},
		Spec: corev1.PodSpec{NodeName: "kind-control-plane", Containers: []corev1.Container{{Name: "wso2am", Image: "local/wso2am-mysql:4.7.0-abc",
			Env: []corev1.EnvVar{{Name: "WSO2_ADMIN_PASSWORD", Value: "env-secret-pw"}}}},
			Volumes: []corev1.Volume{{Name: "ks", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "apim-keystore-secret"}}}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionFalse, Reason: "ContainersNotReady"}},
			ContainerStatuses: []corev1.ContainerStatus{{Name: "wso2am", RestartCount: 3,
				State:                corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
				LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "OOMKilled", ExitCode: 137, FinishedAt: now}}}}},
	}
	if _, err := cs.CoreV1().Pods("apim").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ev := &corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: "e1", Namespace: "apim"}, InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: pod.Name},
		Type: "Warning", Reason: "BackOff", Message: "Back-off restarting failed container", LastTimestamp: now, Count: 4}
	if _, err := cs.CoreV1().Events("apim").Create(ctx, ev, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "apim-wso2am-all-in-one-am-deployment-1", Namespace: "apim"}, Spec: appsv1.DeploymentSpec{Replicas: &one}}
	if _, err := cs.AppsV1().Deployments("apim").Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	store := storage.Init(driver.NewSecrets(cs.CoreV1().Secrets("apim")))
	ch := &chart.Chart{Metadata: &chart.Metadata{Name: "wso2am-all-in-one", Version: "4.7.0-1", AppVersion: "4.7.0"},
		Values: map[string]any{"wso2": map[string]any{"apim": map[string]any{"configurations": map[string]any{"adminPassword": "chart-default-pw", "adminUsername": "admin"}}}}}
	for v, st := range []release.Status{release.StatusFailed, release.StatusDeployed} {
		rel := &release.Release{Name: "apim", Namespace: "apim", Version: v + 1, Chart: ch, Manifest: manifest,
			Info:   &release.Info{Status: st, Description: "Install complete", LastDeployed: helmtime.Now()},
			Config: map[string]any{"wso2": map[string]any{"apim": map[string]any{"configurations": map[string]any{"adminPassword": "user-pw", "encryption": map[string]any{"key": "user-enc-key"}}}}}}
		if err := store.Create(rel); err != nil {
			t.Fatal(err)
		}
	}
}

func TestCollectWithFakeClient(t *testing.T) {
	cs := fake.NewSimpleClientset()
	seed(t, cs)
	out := filepath.Join(t.TempDir(), "diagnostics")
	idx, err := Collect(context.Background(), Options{
		Clientset:    cs,
		Namespaces:   []string{"apim", "empty"},
		HelmReleases: []Release{{Name: "apim", Namespace: "apim"}, {Name: "is", Namespace: "apim"}},
		OutDir:       out,
		MaxLogBytes:  4,
		Redact:       func(s string) string { return strings.ReplaceAll(s, "Back-off", "BACKOFF") },
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"nodes.yaml",
		"namespaces/apim/events.yaml",
		"namespaces/apim/workloads.yaml",
		"namespaces/apim/pods/apim-wso2am-all-in-one-am-deployment-1-abc.yaml",
		"namespaces/apim/logs/apim-wso2am-all-in-one-am-deployment-1-abc/wso2am.log",
		"namespaces/apim/logs/apim-wso2am-all-in-one-am-deployment-1-abc/wso2am.previous.log",
		"helm/apim/apim/release.yaml", "helm/apim/apim/values.yaml", "helm/apim/apim/computed-values.yaml", "helm/apim/apim/manifest.yaml",
	}
	got := strings.Join(idx.Files, "\n")
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("missing %s in\n%s", w, got)
		}
	}
	// The missing release is an index error, not a failure.
	if len(idx.Errors) != 1 || !strings.Contains(idx.Errors[0], "helm release apim/is") {
		t.Errorf("errors: %v", idx.Errors)
	}
	read := func(rel string) string {
		b, err := os.ReadFile(filepath.Join(out, rel))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	pod := read("namespaces/apim/pods/apim-wso2am-all-in-one-am-deployment-1-abc.yaml")
	for _, w := range []string{"OOMKilled", "exitCode: 137", "CrashLoopBackOff", "restartCount: 3", "BACKOFF restarting", "secret apim-keystore-secret", "owner: ReplicaSet/apim-rs"} {
		if !strings.Contains(pod, w) {
			t.Errorf("pod describe lacks %q:\n%s", w, pod)
		}
	}
	if log := read("namespaces/apim/logs/apim-wso2am-all-in-one-am-deployment-1-abc/wso2am.log"); !strings.Contains(log, "log capped") {
		t.Errorf("log not capped: %q", log)
	}
	rel := read("helm/apim/apim/release.yaml")
	if !strings.Contains(rel, "revision: 2") || !strings.Contains(rel, "status: deployed") || !strings.Contains(rel, "revision 1: failed") || !strings.Contains(rel, "chartVersion: 4.7.0-1") {
		t.Errorf("release:\n%s", rel)
	}
	if cv := read("helm/apim/apim/computed-values.yaml"); !strings.Contains(cv, "adminUsername: admin") {
		t.Errorf("computed values should merge chart defaults:\n%s", cv)
	}
	// Nothing secret anywhere in the bundle.
	_ = filepath.Walk(out, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		b, _ := os.ReadFile(p)
		for _, s := range []string{"user-pw", "user-enc-key", "chart-default-pw", "c2VjcmV0LWFkbWlu", "plain-db-pw", "toml-admin-pw", "toml-db-pw", "env-secret-pw"} {
			if strings.Contains(string(b), s) {
				t.Errorf("%s leaks %q", p, s)
			}
		}
		return nil
	})
	if _, err := os.Stat(filepath.Join(out, "index.yaml")); err != nil {
		t.Fatal(err)
	}
}

func TestCollectNeedsOutDirAndClient(t *testing.T) {
	if _, err := Collect(context.Background(), Options{}); err == nil {
		t.Fatal("OutDir required")
	}
	if _, err := Collect(context.Background(), Options{OutDir: t.TempDir()}); err == nil {
		t.Fatal("client required")
	}
}
