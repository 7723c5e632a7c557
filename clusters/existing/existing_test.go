package existing

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// writeKubeconfig writes a kubeconfig with two contexts; the CA of "lab" is a
// file next to it, referenced by a relative path.
func writeKubeconfig(t *testing.T, dir string) string {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "ca.crt"), []byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["lab"] = &clientcmdapi.Cluster{Server: "https://lab.example:6443", CertificateAuthority: "ca.crt"}
	cfg.Clusters["eks"] = &clientcmdapi.Cluster{Server: "https://eks.example", InsecureSkipTLSVerify: false}
	cfg.AuthInfos["lab-admin"] = &clientcmdapi.AuthInfo{Token: "lab-token"}
	cfg.AuthInfos["eks-user"] = &clientcmdapi.AuthInfo{Token: "eks-token"}
	cfg.Contexts["lab"] = &clientcmdapi.Context{Cluster: "lab", AuthInfo: "lab-admin", Namespace: "apim"}
	cfg.Contexts["eks"] = &clientcmdapi.Context{Cluster: "eks", AuthInfo: "eks-user"}
	cfg.Contexts["broken"] = &clientcmdapi.Context{Cluster: "nope", AuthInfo: "eks-user"}
	cfg.CurrentContext = "eks"
	p := filepath.Join(dir, "config")
	if err := clientcmd.WriteToFile(*cfg, p); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestOpen(t *testing.T) {
	dir := t.TempDir()
	p := writeKubeconfig(t, dir)

	c, err := Open(Options{Kubeconfig: p})
	if err != nil {
		t.Fatal(err)
	}
	if c.Context != "eks" || c.Server != "https://eks.example" || c.RESTConfig().BearerToken != "eks-token" {
		t.Fatalf("current context: %+v", c)
	}

	c, err = Open(Options{Kubeconfig: p, Context: "lab"})
	if err != nil {
		t.Fatal(err)
	}
	rc := c.RESTConfig()
	if rc.Host != "https://lab.example:6443" || rc.BearerToken != "lab-token" {
		t.Fatalf("lab: %+v", rc)
	}
	// The returned kubeconfig is self-contained: one context, CA inlined.
	got, err := clientcmd.Load(c.Kubeconfig())
	if err != nil {
		t.Fatal(err)
	}
	if got.CurrentContext != "lab" || len(got.Contexts) != 1 || len(got.Clusters) != 1 || len(got.Clusters["lab"].CertificateAuthorityData) == 0 || got.Clusters["lab"].CertificateAuthority != "" {
		t.Fatalf("minified kubeconfig: %+v", got)
	}
	if strings.Contains(string(c.Kubeconfig()), "eks-token") {
		t.Fatal("other contexts' credentials must not be carried")
	}
}

func TestOpenFromEnv(t *testing.T) {
	dir := t.TempDir()
	p := writeKubeconfig(t, dir)
	t.Setenv("KUBECONFIG", filepath.Join(dir, "absent")+string(os.PathListSeparator)+p)
	if _, err := Open(Options{}); err == nil || !strings.Contains(err.Error(), "absent") || !strings.Contains(err.Error(), "KUBECONFIG") {
		t.Fatalf("a missing file in KUBECONFIG must be named: %v", err)
	}
	t.Setenv("KUBECONFIG", p)
	c, err := Open(Options{Context: "lab"})
	if err != nil || c.Context != "lab" {
		t.Fatalf("%v %+v", err, c)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	p := writeKubeconfig(t, dir)
	for name, c := range map[string]struct {
		o    Options
		want []string
	}{
		"missing file":    {Options{Kubeconfig: filepath.Join(dir, "nope")}, []string{"nope", "does not exist"}},
		"missing context": {Options{Kubeconfig: p, Context: "gke"}, []string{`context "gke" not found`, "broken, eks, lab"}},
		"dangling":        {Options{Kubeconfig: p, Context: "broken"}, []string{`cluster "nope"`}},
	} {
		_, err := Open(c.o)
		if err == nil {
			t.Errorf("%s: no error", name)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %q lacks %q", name, err, w)
			}
		}
	}
	// No current-context.
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["a"] = &clientcmdapi.Cluster{Server: "https://a"}
	cfg.Contexts["a"] = &clientcmdapi.Context{Cluster: "a"}
	q := filepath.Join(dir, "nocurrent")
	if err := clientcmd.WriteToFile(*cfg, q); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(Options{Kubeconfig: q}); err == nil || !strings.Contains(err.Error(), "no current-context") {
		t.Fatalf("no current context: %v", err)
	}
	// Garbage file.
	g := filepath.Join(dir, "garbage")
	_ = os.WriteFile(g, []byte("{not yaml"), 0o600)
	if _, err := Open(Options{Kubeconfig: g}); err == nil || !strings.Contains(err.Error(), "garbage") {
		t.Fatalf("garbage: %v", err)
	}
}
