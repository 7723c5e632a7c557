// Package diagnostics writes the bundle a failed run leaves behind, under
// reports/out/<run-id>/diagnostics/: per namespace the events, a describe-like
// YAML per pod (status, conditions, container states including the last
// termination), current and previous container logs (capped, tail kept),
// workload status, the nodes, and for each Helm release its values (user
// supplied and computed), manifest and history, read from Helm's release
// secrets with the Helm SDK storage.
//
// Everything written goes through redaction: Secret data, values whose key
// looks like a password/secret/key/token, such assignments inside ConfigMap
// files (deployment.toml), Authorization headers, and the caller's Redact
// (for literal secrets it knows). Collect never fails the caller because
// part of the dump failed: each failure is recorded in index.yaml.
package diagnostics

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/storage"
	"helm.sh/helm/v3/pkg/storage/driver"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"
)

// Release names a Helm release.
type Release struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
}

// Options configure Collect.
type Options struct {
	// RESTConfig reaches the cluster (ignored when Clientset is set).
	RESTConfig *rest.Config
	// Clientset overrides RESTConfig (tests use client-go's fake).
	Clientset kubernetes.Interface
	// Namespaces to dump.
	Namespaces []string
	// HelmReleases to dump (their namespaces need not be in Namespaces).
	HelmReleases []Release
	// OutDir receives the bundle (created).
	OutDir string
	// MaxLogBytes caps each container log stream (current and previous
	// separately); the tail is kept. Default 512 KiB.
	MaxLogBytes int64
	// Redact is applied to every text written, after the built-in redaction
	// (e.g. to remove literal passwords the suite generated).
	Redact func(string) string
	// Timeout bounds the whole collection (default 2 min); each API call is
	// bounded by 20 s.
	Timeout time.Duration
}

// Index is written to <OutDir>/index.yaml.
type Index struct {
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	// Files written, relative to OutDir.
	Files []string `json:"files"`
	// Errors name the step that failed and why; the rest of the dump went on.
	Errors []string `json:"errors,omitempty"`
}

type collector struct {
	o     Options
	cs    kubernetes.Interface
	mu    sync.Mutex
	index Index
}

// Collect writes the bundle and returns its index. The returned error is
// non-nil only when nothing could be written (OutDir unusable, no cluster
// access configured); partial failures are in Index.Errors.
func Collect(ctx context.Context, o Options) (Index, error) {
	if o.OutDir == "" {
		return Index{}, errors.New("diagnostics: OutDir is required")
	}
	if err := os.MkdirAll(o.OutDir, 0o755); err != nil {
		return Index{}, fmt.Errorf("diagnostics: create %s: %w", o.OutDir, err)
	}
	if o.MaxLogBytes <= 0 {
		o.MaxLogBytes = 512 << 10
	}
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	c := &collector{o: o, index: Index{Started: time.Now().UTC()}}
	cs := o.Clientset
	if cs == nil {
		if o.RESTConfig == nil {
			return Index{}, errors.New("diagnostics: RESTConfig or Clientset is required")
		}
		cfg := rest.CopyConfig(o.RESTConfig)
		cfg.Timeout = 20 * time.Second
		var err error
		if cs, err = kubernetes.NewForConfig(cfg); err != nil {
			return Index{}, fmt.Errorf("diagnostics: client: %w", err)
		}
	}
	c.cs = cs

	c.nodes(ctx)
	for _, ns := range o.Namespaces {
		c.namespace(ctx, ns)
	}
	for _, r := range o.HelmReleases {
		c.helmRelease(ctx, r)
	}
	c.index.Finished = time.Now().UTC()
	sort.Strings(c.index.Files)
	b, err := yaml.Marshal(c.index)
	if err == nil {
		err = os.WriteFile(filepath.Join(o.OutDir, "index.yaml"), b, 0o644)
	}
	if err != nil {
		return c.index, fmt.Errorf("diagnostics: write index: %w", err)
	}
	return c.index, nil
}

func (c *collector) fail(step string, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.index.Errors = append(c.index.Errors, step+": "+c.redact(err.Error()))
}

func (c *collector) redact(s string) string {
	s = RedactText(s)
	if c.o.Redact != nil {
		s = c.o.Redact(s)
	}
	return s
}

// write stores text (already structurally redacted where it applies) after
// text redaction, under rel.
func (c *collector) write(rel string, text string) {
	p := filepath.Join(c.o.OutDir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		c.fail("write "+rel, err)
		return
	}
	if err := os.WriteFile(p, []byte(c.redact(text)), 0o644); err != nil {
		c.fail("write "+rel, err)
		return
	}
	c.mu.Lock()
	c.index.Files = append(c.index.Files, rel)
	c.mu.Unlock()
}

func (c *collector) writeYAML(rel string, v any) {
	b, err := yaml.Marshal(v)
	if err != nil {
		c.fail("encode "+rel, err)
		return
	}
	c.write(rel, string(b))
}

func callCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, 20*time.Second)
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

func safe(s string) string { return unsafeName.ReplaceAllString(s, "_") }

type nodeSummary struct {
	Name        string                 `json:"name"`
	Labels      map[string]string      `json:"labels,omitempty"`
	Taints      []corev1.Taint         `json:"taints,omitempty"`
	Conditions  []corev1.NodeCondition `json:"conditions,omitempty"`
	Capacity    corev1.ResourceList    `json:"capacity,omitempty"`
	Allocatable corev1.ResourceList    `json:"allocatable,omitempty"`
	NodeInfo    corev1.NodeSystemInfo  `json:"nodeInfo"`
}

func (c *collector) nodes(ctx context.Context) {
	cctx, cancel := callCtx(ctx)
	defer cancel()
	list, err := c.cs.CoreV1().Nodes().List(cctx, metav1.ListOptions{})
	if err != nil {
		c.fail("list nodes", err)
		return
	}
	out := make([]nodeSummary, 0, len(list.Items))
	for _, n := range list.Items {
		out = append(out, nodeSummary{Name: n.Name, Labels: n.Labels, Taints: n.Spec.Taints, Conditions: n.Status.Conditions,
			Capacity: n.Status.Capacity, Allocatable: n.Status.Allocatable, NodeInfo: n.Status.NodeInfo})
	}
	c.writeYAML("nodes.yaml", out)
}

type eventLine struct {
	Last    time.Time `json:"last"`
	Type    string    `json:"type"`
	Reason  string    `json:"reason"`
	Object  string    `json:"object"`
	Count   int32     `json:"count,omitempty"`
	Source  string    `json:"source,omitempty"`
	Message string    `json:"message"`
}

func eventTime(e corev1.Event) time.Time {
	switch {
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	case !e.FirstTimestamp.IsZero():
		return e.FirstTimestamp.Time
	}
	return e.CreationTimestamp.Time
}

type containerDescribe struct {
	Name         string                      `json:"name"`
	Image        string                      `json:"image"`
	ImageID      string                      `json:"imageID,omitempty"`
	Ready        bool                        `json:"ready"`
	Started      *bool                       `json:"started,omitempty"`
	RestartCount int32                       `json:"restartCount"`
	State        corev1.ContainerState       `json:"state"`
	LastState    corev1.ContainerState       `json:"lastState,omitempty"`
	Resources    corev1.ResourceRequirements `json:"resources,omitempty"`
	Ports        []corev1.ContainerPort      `json:"ports,omitempty"`
}

type podDescribe struct {
	Name           string                `json:"name"`
	Namespace      string                `json:"namespace"`
	Node           string                `json:"node,omitempty"`
	Phase          corev1.PodPhase       `json:"phase"`
	Reason         string                `json:"reason,omitempty"`
	Message        string                `json:"message,omitempty"`
	QOSClass       corev1.PodQOSClass    `json:"qosClass,omitempty"`
	StartTime      *metav1.Time          `json:"startTime,omitempty"`
	Labels         map[string]string     `json:"labels,omitempty"`
	Owner          string                `json:"owner,omitempty"`
	Conditions     []corev1.PodCondition `json:"conditions,omitempty"`
	InitContainers []containerDescribe   `json:"initContainers,omitempty"`
	Containers     []containerDescribe   `json:"containers"`
	Volumes        []string              `json:"volumes,omitempty"`
	Events         []eventLine           `json:"events,omitempty"`
}

func describeContainers(specs []corev1.Container, sts []corev1.ContainerStatus) []containerDescribe {
	byName := map[string]corev1.ContainerStatus{}
	for _, s := range sts {
		byName[s.Name] = s
	}
	out := make([]containerDescribe, 0, len(specs))
	for _, sp := range specs {
		st := byName[sp.Name]
		out = append(out, containerDescribe{Name: sp.Name, Image: sp.Image, ImageID: st.ImageID, Ready: st.Ready, Started: st.Started,
			RestartCount: st.RestartCount, State: st.State, LastState: st.LastTerminationState, Resources: sp.Resources, Ports: sp.Ports})
	}
	return out
}

// DescribePod renders the describe-like view of a pod with its events.
func DescribePod(p corev1.Pod, events []corev1.Event) ([]byte, error) {
	d := podDescribe{Name: p.Name, Namespace: p.Namespace, Node: p.Spec.NodeName, Phase: p.Status.Phase, Reason: p.Status.Reason,
		Message: p.Status.Message, QOSClass: p.Status.QOSClass, StartTime: p.Status.StartTime, Labels: p.Labels, Conditions: p.Status.Conditions,
		InitContainers: describeContainers(p.Spec.InitContainers, p.Status.InitContainerStatuses),
		Containers:     describeContainers(p.Spec.Containers, p.Status.ContainerStatuses)}
	for _, or := range p.OwnerReferences {
		d.Owner = or.Kind + "/" + or.Name
	}
	for _, v := range p.Spec.Volumes {
		src := "other"
		switch {
		case v.Secret != nil:
			src = "secret " + v.Secret.SecretName
		case v.ConfigMap != nil:
			src = "configMap " + v.ConfigMap.Name
		case v.PersistentVolumeClaim != nil:
			src = "pvc " + v.PersistentVolumeClaim.ClaimName
		case v.EmptyDir != nil:
			src = "emptyDir"
		case v.Projected != nil:
			src = "projected"
		}
		d.Volumes = append(d.Volumes, v.Name+": "+src)
	}
	for _, e := range events {
		if e.InvolvedObject.Kind == "Pod" && e.InvolvedObject.Name == p.Name {
			d.Events = append(d.Events, toLine(e))
		}
	}
	sort.Slice(d.Events, func(i, j int) bool { return d.Events[i].Last.Before(d.Events[j].Last) })
	return yaml.Marshal(d)
}

func toLine(e corev1.Event) eventLine {
	src := e.Source.Component
	if src == "" {
		src = e.ReportingController
	}
	return eventLine{Last: eventTime(e).UTC(), Type: e.Type, Reason: e.Reason, Object: e.InvolvedObject.Kind + "/" + e.InvolvedObject.Name,
		Count: e.Count, Source: src, Message: e.Message}
}

func (c *collector) namespace(ctx context.Context, ns string) {
	base := "namespaces/" + safe(ns) + "/"
	cctx, cancel := callCtx(ctx)
	evs, err := c.cs.CoreV1().Events(ns).List(cctx, metav1.ListOptions{})
	cancel()
	var events []corev1.Event
	if err != nil {
		c.fail("list events in "+ns, err)
	} else {
		events = evs.Items
		lines := make([]eventLine, 0, len(events))
		for _, e := range events {
			lines = append(lines, toLine(e))
		}
		sort.Slice(lines, func(i, j int) bool { return lines[i].Last.Before(lines[j].Last) })
		c.writeYAML(base+"events.yaml", lines)
	}

	c.workloads(ctx, ns, base)

	cctx, cancel = callCtx(ctx)
	pods, err := c.cs.CoreV1().Pods(ns).List(cctx, metav1.ListOptions{})
	cancel()
	if err != nil {
		c.fail("list pods in "+ns, err)
		return
	}
	for _, p := range pods.Items {
		b, err := DescribePod(p, events)
		if err != nil {
			c.fail("describe pod "+ns+"/"+p.Name, err)
		} else {
			c.write(base+"pods/"+safe(p.Name)+".yaml", string(b))
		}
		all := append(append([]corev1.ContainerStatus{}, p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...)
		for _, st := range all {
			if ctx.Err() != nil {
				c.fail("logs", ctx.Err())
				return
			}
			if st.State.Waiting == nil || st.RestartCount > 0 || st.LastTerminationState.Terminated != nil {
				c.logs(ctx, ns, p.Name, st.Name, false, base)
			}
			if st.RestartCount > 0 || st.LastTerminationState.Terminated != nil {
				c.logs(ctx, ns, p.Name, st.Name, true, base)
			}
		}
	}
}

type workloadLine struct {
	Kind       string   `json:"kind"`
	Name       string   `json:"name"`
	Desired    int32    `json:"desired"`
	Ready      int32    `json:"ready"`
	Updated    int32    `json:"updated"`
	Available  int32    `json:"available"`
	Conditions []string `json:"conditions,omitempty"`
}

func (c *collector) workloads(ctx context.Context, ns, base string) {
	var out []workloadLine
	cctx, cancel := callCtx(ctx)
	deps, err := c.cs.AppsV1().Deployments(ns).List(cctx, metav1.ListOptions{})
	cancel()
	if err != nil {
		c.fail("list deployments in "+ns, err)
	} else {
		for _, d := range deps.Items {
			w := workloadLine{Kind: "Deployment", Name: d.Name, Ready: d.Status.ReadyReplicas, Updated: d.Status.UpdatedReplicas, Available: d.Status.AvailableReplicas}
			if d.Spec.Replicas != nil {
				w.Desired = *d.Spec.Replicas
			}
			for _, cnd := range d.Status.Conditions {
				w.Conditions = append(w.Conditions, fmt.Sprintf("%s=%s %s: %s", cnd.Type, cnd.Status, cnd.Reason, cnd.Message))
			}
			out = append(out, w)
		}
	}
	cctx, cancel = callCtx(ctx)
	sts, err := c.cs.AppsV1().StatefulSets(ns).List(cctx, metav1.ListOptions{})
	cancel()
	if err != nil {
		c.fail("list statefulsets in "+ns, err)
	} else {
		for _, s := range sts.Items {
			w := workloadLine{Kind: "StatefulSet", Name: s.Name, Ready: s.Status.ReadyReplicas, Updated: s.Status.UpdatedReplicas, Available: s.Status.AvailableReplicas}
			if s.Spec.Replicas != nil {
				w.Desired = *s.Spec.Replicas
			}
			out = append(out, w)
		}
	}
	cctx, cancel = callCtx(ctx)
	svcs, err := c.cs.CoreV1().Services(ns).List(cctx, metav1.ListOptions{})
	cancel()
	type svcLine struct {
		Name      string               `json:"name"`
		Type      corev1.ServiceType   `json:"type"`
		ClusterIP string               `json:"clusterIP,omitempty"`
		Ports     []corev1.ServicePort `json:"ports,omitempty"`
		Selector  map[string]string    `json:"selector,omitempty"`
	}
	var svcOut []svcLine
	if err != nil {
		c.fail("list services in "+ns, err)
	} else {
		for _, s := range svcs.Items {
			svcOut = append(svcOut, svcLine{Name: s.Name, Type: s.Spec.Type, ClusterIP: s.Spec.ClusterIP, Ports: s.Spec.Ports, Selector: s.Spec.Selector})
		}
	}
	c.writeYAML(base+"workloads.yaml", map[string]any{"workloads": out, "services": svcOut})
}

func (c *collector) logs(ctx context.Context, ns, pod, container string, previous bool, base string) {
	name := base + "logs/" + safe(pod) + "/" + safe(container)
	step := "logs " + ns + "/" + pod + "/" + container
	if previous {
		name += ".previous"
		step += " (previous)"
	}
	name += ".log"
	max := c.o.MaxLogBytes
	// Ask for roughly the tail that fits, bound the transfer, keep the tail.
	tail := max / 80
	if tail < 200 {
		tail = 200
	}
	limit := 4 * max
	cctx, cancel := callCtx(ctx)
	defer cancel()
	rc, err := c.cs.CoreV1().Pods(ns).GetLogs(pod, &corev1.PodLogOptions{Container: container, Previous: previous, TailLines: &tail, LimitBytes: &limit, Timestamps: true}).Stream(cctx)
	if err != nil {
		c.fail(step, err)
		return
	}
	defer rc.Close()
	b, err := readCapped(rc, max, limit)
	if err != nil {
		c.fail(step, err)
	}
	if len(b) == 0 && err != nil {
		return
	}
	c.write(name, string(b))
}

// readCapped reads at most limit bytes from r and returns the last max of
// them, prefixed by a marker when something was dropped.
func readCapped(r io.Reader, max, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit))
	out, cut := capTail(b, max)
	if cut {
		out = append([]byte(fmt.Sprintf("[diagnostics: log capped, showing the last %d of %d bytes read]\n", len(out), len(b))), out...)
	}
	return out, err
}

type releaseSummary struct {
	Name         string         `json:"name"`
	Namespace    string         `json:"namespace"`
	Revision     int            `json:"revision"`
	Status       release.Status `json:"status"`
	Chart        string         `json:"chart,omitempty"`
	ChartVersion string         `json:"chartVersion,omitempty"`
	AppVersion   string         `json:"appVersion,omitempty"`
	Description  string         `json:"description,omitempty"`
	LastDeployed time.Time      `json:"lastDeployed"`
	History      []string       `json:"history,omitempty"`
}

func (c *collector) helmRelease(ctx context.Context, r Release) {
	base := "helm/" + safe(r.Namespace) + "/" + safe(r.Name) + "/"
	step := "helm release " + r.Namespace + "/" + r.Name
	if ctx.Err() != nil {
		c.fail(step, ctx.Err())
		return
	}
	// The Helm storage driver has no context; the client's 20 s timeout
	// bounds each call.
	store := storage.Init(driver.NewSecrets(c.cs.CoreV1().Secrets(r.Namespace)))
	hist, err := store.History(r.Name)
	if err != nil {
		c.fail(step, fmt.Errorf("read release history: %w", err))
		return
	}
	if len(hist) == 0 {
		c.fail(step, errors.New("no such release (never installed, or uninstalled)"))
		return
	}
	sort.Slice(hist, func(i, j int) bool { return hist[i].Version < hist[j].Version })
	rel := hist[len(hist)-1]
	s := releaseSummary{Name: rel.Name, Namespace: rel.Namespace, Revision: rel.Version}
	if rel.Info != nil {
		s.Status, s.Description, s.LastDeployed = rel.Info.Status, rel.Info.Description, rel.Info.LastDeployed.Time
	}
	if rel.Chart != nil && rel.Chart.Metadata != nil {
		s.Chart, s.ChartVersion, s.AppVersion = rel.Chart.Metadata.Name, rel.Chart.Metadata.Version, rel.Chart.Metadata.AppVersion
	}
	for _, h := range hist {
		line := fmt.Sprintf("revision %d", h.Version)
		if h.Info != nil {
			line += fmt.Sprintf(": %s %s", h.Info.Status, h.Info.Description)
		}
		s.History = append(s.History, line)
	}
	c.writeYAML(base+"release.yaml", s)
	c.writeYAML(base+"values.yaml", RedactValues(map[string]any(rel.Config)))
	if rel.Chart != nil {
		all, err := chartutil.CoalesceValues(rel.Chart, rel.Config)
		if err != nil {
			c.fail(step+": computed values", err)
		} else {
			c.writeYAML(base+"computed-values.yaml", RedactValues(map[string]any(all)))
		}
	}
	var m bytes.Buffer
	m.WriteString(RedactManifest(rel.Manifest))
	for _, h := range rel.Hooks {
		if h == nil {
			continue
		}
		m.WriteString("---\n# Hook: " + h.Name + " " + strings.Join(eventsOf(h), ",") + "\n")
		m.WriteString(RedactManifest(h.Manifest))
	}
	c.write(base+"manifest.yaml", m.String())
}

func eventsOf(h *release.Hook) []string {
	out := make([]string, 0, len(h.Events))
	for _, e := range h.Events {
		out = append(out, string(e))
	}
	return out
}
