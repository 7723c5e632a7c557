// Package existing runs the suite against a cluster it did not create: any
// kubeconfig context (EKS, GKE, AKS, a lab cluster, or the local control
// plane). It only reads the kubeconfig; nothing is written to it.
package existing

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Options select the kubeconfig and context.
type Options struct {
	// Kubeconfig is a path, or a list separated by os.PathListSeparator as in
	// KUBECONFIG. Empty: $KUBECONFIG, then ~/.kube/config.
	Kubeconfig string
	// Context is the context to use. Empty: the kubeconfig's current-context.
	Context string
}

// Cluster is a resolved existing cluster.
type Cluster struct {
	// Context is the context actually used.
	Context string
	// Server is the API server URL of that context.
	Server string
	// Paths are the kubeconfig files read.
	Paths []string

	restConfig *rest.Config
	kubeconfig []byte
}

// RESTConfig returns a copy of the client configuration.
func (c *Cluster) RESTConfig() *rest.Config { return rest.CopyConfig(c.restConfig) }

// Kubeconfig returns a self-contained kubeconfig holding only the selected
// context (certificate files inlined), for the Helm SDK and for reports'
// reproduction steps. It contains credentials: do not log it.
func (c *Cluster) Kubeconfig() []byte { return c.kubeconfig }

// Open resolves o into a cluster. Errors name the file or context and list
// what exists.
func Open(o Options) (*Cluster, error) {
	paths, err := resolvePaths(o.Kubeconfig)
	if err != nil {
		return nil, err
	}
	rules := &clientcmd.ClientConfigLoadingRules{Precedence: paths}
	raw, err := rules.Load()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %w", strings.Join(paths, string(os.PathListSeparator)), err)
	}
	ctxName := o.Context
	if ctxName == "" {
		ctxName = raw.CurrentContext
	}
	if ctxName == "" {
		return nil, fmt.Errorf("kubeconfig %s has no current-context: give a context (have: %s)", strings.Join(paths, ", "), contextList(raw))
	}
	kctx, ok := raw.Contexts[ctxName]
	if !ok {
		return nil, fmt.Errorf("context %q not found in kubeconfig %s (have: %s)", ctxName, strings.Join(paths, ", "), contextList(raw))
	}
	cl, ok := raw.Clusters[kctx.Cluster]
	if !ok {
		return nil, fmt.Errorf("context %q refers to cluster %q, which kubeconfig %s does not define", ctxName, kctx.Cluster, strings.Join(paths, ", "))
	}
	if _, ok := raw.AuthInfos[kctx.AuthInfo]; !ok && kctx.AuthInfo != "" {
		return nil, fmt.Errorf("context %q refers to user %q, which kubeconfig %s does not define", ctxName, kctx.AuthInfo, strings.Join(paths, ", "))
	}
	cc := clientcmd.NewNonInteractiveClientConfig(*raw, ctxName, &clientcmd.ConfigOverrides{}, rules)
	rc, err := cc.ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("context %q in %s: %w", ctxName, strings.Join(paths, ", "), err)
	}
	// A self-contained kubeconfig with only this context.
	min := raw.DeepCopy()
	min.CurrentContext = ctxName
	if err := clientcmdapi.MinifyConfig(min); err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	if err := clientcmdapi.FlattenConfig(min); err != nil {
		return nil, fmt.Errorf("kubeconfig: inline certificate files of context %q: %w", ctxName, err)
	}
	kb, err := clientcmd.Write(*min)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	return &Cluster{Context: ctxName, Server: cl.Server, Paths: paths, restConfig: rc, kubeconfig: kb}, nil
}

func resolvePaths(spec string) ([]string, error) {
	src := "the kubeconfig option"
	if spec == "" {
		spec = os.Getenv(clientcmd.RecommendedConfigPathEnvVar)
		src = "KUBECONFIG"
	}
	if spec == "" {
		spec = clientcmd.RecommendedHomeFile
		src = "the default"
	}
	var paths []string
	for _, p := range filepath.SplitList(spec) {
		if p == "" {
			continue
		}
		if _, err := os.Stat(p); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("kubeconfig %s (from %s) does not exist: set KUBECONFIG or pass the path of an existing kubeconfig", p, src)
			}
			return nil, fmt.Errorf("kubeconfig %s (from %s): %w", p, src, err)
		}
		paths = append(paths, p)
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("no kubeconfig given (%s is empty): set KUBECONFIG or pass a path", src)
	}
	return paths, nil
}

func contextList(c *clientcmdapi.Config) string {
	if len(c.Contexts) == 0 {
		return "no contexts"
	}
	names := make([]string, 0, len(c.Contexts))
	for n := range c.Contexts {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}
