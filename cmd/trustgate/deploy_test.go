package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"sigs.k8s.io/yaml"

	"github.com/trustgate/trustgate/cmd/trustgate/config"
	"github.com/trustgate/trustgate/engine/mint"
	"github.com/trustgate/trustgate/engine/policy"
)

// deployDir is the kustomize base of DESIGN §12.
const deployDir = "../../deploy/kubernetes"

// loadBase parses every manifest of the base, checking that each file is one
// object with an apiVersion, a kind and a name.
func loadBase(t *testing.T) []k8sObject {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(deployDir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in %s: %v", deployDir, err)
	}
	var objs []k8sObject
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(data, []byte("\n---")) {
			t.Fatalf("%s: one object per file, so that the kustomization lists them all", f)
		}
		var o k8sObject
		if err := yaml.Unmarshal(data, &o); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if o.APIVersion == "" || o.Kind == "" || (o.Metadata.Name == "" && o.Kind != "Kustomization") {
			t.Fatalf("%s: apiVersion %q kind %q name %q", f, o.APIVersion, o.Kind, o.Metadata.Name)
		}
		o.file, o.raw = filepath.Base(f), data
		objs = append(objs, o)
	}
	return objs
}

// object decodes the one object of kind (and name, when given) into v.
func object(t *testing.T, objs []k8sObject, kind, name string, v any) {
	t.Helper()
	var found []k8sObject
	for _, o := range objs {
		if o.Kind == kind && (name == "" || o.Metadata.Name == name) {
			found = append(found, o)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d objects of kind %s named %q, want 1", len(found), kind, name)
	}
	if err := yaml.Unmarshal(found[0].raw, v); err != nil {
		t.Fatalf("%s: %v", found[0].file, err)
	}
}

func TestKustomizationListsEveryManifestAndHoldsNoSecret(t *testing.T) {
	objs := loadBase(t)
	var k struct {
		Resources []string `json:"resources"`
		Images    []struct {
			Name string `json:"name"`
		} `json:"images"`
	}
	object(t, objs, "Kustomization", "", &k)
	var files []string
	kinds := map[string]int{}
	for _, o := range objs {
		kinds[o.Kind]++
		if o.Kind != "Kustomization" {
			files = append(files, o.file)
		}
	}
	slices.Sort(files)
	if listed := slices.Sorted(slices.Values(k.Resources)); !slices.Equal(listed, files) {
		t.Fatalf("the kustomization lists %v, the base has %v", listed, files)
	}
	want := map[string]int{"Kustomization": 1, "ConfigMap": 2, "Deployment": 1, "Service": 1, "PodDisruptionBudget": 1, "NetworkPolicy": 1}
	if fmt.Sprint(kinds) != fmt.Sprint(want) {
		t.Fatalf("kinds %v, want %v (Secrets are referred to, never held)", kinds, want)
	}
	var d struct {
		Spec struct {
			Template struct {
				Spec struct {
					Containers []struct{ Image string } `json:"containers"`
				} `json:"spec"`
			} `json:"template"`
		} `json:"spec"`
	}
	object(t, objs, "Deployment", "", &d)
	if len(k.Images) != 1 || len(d.Spec.Template.Spec.Containers) != 1 || k.Images[0].Name != d.Spec.Template.Spec.Containers[0].Image {
		t.Fatalf("the kustomization's images %v do not name the container's image", k.Images)
	}
}

// trustgateDeployment returns the Deployment, its one container and the
// config in its ConfigMap, parsed without validation.
func trustgateDeployment(t *testing.T, objs []k8sObject) (deployment, container, config.Config) {
	t.Helper()
	var d deployment
	object(t, objs, "Deployment", "trustgate", &d)
	if len(d.Spec.Template.Spec.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(d.Spec.Template.Spec.Containers))
	}
	var cm configMap
	object(t, objs, "ConfigMap", "trustgate-config", &cm)
	var c config.Config
	if err := yaml.Unmarshal([]byte(cm.Data["trustgate.yaml"]), &c); err != nil {
		t.Fatalf("trustgate.yaml: %v", err)
	}
	c.FillDefaults()
	return d, d.Spec.Template.Spec.Containers[0], c
}

// containerPort resolves a probe's or a Service's port, a name or a number,
// against the container's ports; 0 when it names none of them.
func containerPort(c container, port any) int {
	for _, p := range c.Ports {
		if port == p.Name || port == float64(p.ContainerPort) {
			return p.ContainerPort
		}
	}
	return 0
}

func listenPort(t *testing.T, c config.Config) int {
	t.Helper()
	var port int
	if _, err := fmt.Sscanf(c.Listen[strings.LastIndex(c.Listen, ":")+1:], "%d", &port); err != nil {
		t.Fatalf("listen %q: %v", c.Listen, err)
	}
	return port
}

func selects(sel selector, labels map[string]string) bool {
	for k, v := range sel.MatchLabels {
		if labels[k] != v {
			return false
		}
	}
	return len(sel.MatchLabels) > 0
}

func TestDeploymentRunsThreeHardenedReplicasProbedOnHealthzAndReadyz(t *testing.T) {
	d, c, cfg := trustgateDeployment(t, loadBase(t))
	pod, labels := d.Spec.Template.Spec, d.Spec.Template.Metadata.Labels
	port := listenPort(t, cfg)
	checks := []struct {
		name string
		ok   bool
	}{
		{"there are three replicas", d.Spec.Replicas == 3},
		{"the selector selects the pod template's labels", selects(d.Spec.Selector, labels)},
		{"liveness is GET /healthz on the port trustgate listens on", c.LivenessProbe.HTTPGet.Path == "/healthz" && containerPort(c, c.LivenessProbe.HTTPGet.Port) == port},
		{"readiness is GET /readyz on the port trustgate listens on", c.ReadinessProbe.HTTPGet.Path == "/readyz" && containerPort(c, c.ReadinessProbe.HTTPGet.Port) == port},
		{"the pod runs as a non-root user", pod.SecurityContext.RunAsNonRoot != nil && *pod.SecurityContext.RunAsNonRoot && pod.SecurityContext.RunAsUser > 0},
		{"the container runs as non-root", c.SecurityContext.RunAsNonRoot != nil && *c.SecurityContext.RunAsNonRoot},
		{"the root file system is read-only", c.SecurityContext.ReadOnlyRootFilesystem != nil && *c.SecurityContext.ReadOnlyRootFilesystem},
		{"privilege escalation is off", c.SecurityContext.AllowPrivilegeEscalation != nil && !*c.SecurityContext.AllowPrivilegeEscalation},
		{"every capability is dropped", slices.Equal(c.SecurityContext.Capabilities.Drop, []string{"ALL"})},
		{"CPU and memory are requested and memory is limited",
			c.Resources.Requests["cpu"] != "" && c.Resources.Requests["memory"] != "" && c.Resources.Limits["memory"] != ""},
		{"replicas are spread over zones", len(pod.TopologySpreadConstraints) > 0 && selects(pod.TopologySpreadConstraints[0].LabelSelector, labels)},
		{"replicas avoid sharing a node", len(pod.Affinity.PodAntiAffinity.Preferred) > 0 &&
			selects(pod.Affinity.PodAntiAffinity.Preferred[0].PodAffinityTerm.LabelSelector, labels)},
		{"the pod outlives shutdown_delay and shutdown_grace after SIGTERM",
			time.Duration(pod.TerminationGracePeriodSeconds)*time.Second > time.Duration(*cfg.ShutdownDelay+cfg.ShutdownGrace)},
		// Endpoints learn of readiness only at the next probe; a second
		// more is for the endpoint controller and kube-proxy to follow.
		{"the pod keeps serving until the readiness probe has taken it out of the Service",
			time.Duration(*cfg.ShutdownDelay) >= c.ReadinessProbe.outAfter()+time.Second},
	}
	for _, ch := range checks {
		if !ch.ok {
			t.Errorf("not so: %s", ch.name)
		}
	}
}

func TestDisruptionBudgetServiceAndNetworkPolicySelectTheTrustgatePods(t *testing.T) {
	objs := loadBase(t)
	d, c, cfg := trustgateDeployment(t, objs)
	labels, port := d.Spec.Template.Metadata.Labels, listenPort(t, cfg)
	var pdb, svc, np labelsSpec
	object(t, objs, "PodDisruptionBudget", "", &pdb)
	object(t, objs, "Service", "", &svc)
	object(t, objs, "NetworkPolicy", "", &np)
	if !selects(pdb.Spec.Selector, labels) {
		t.Errorf("the PodDisruptionBudget selects %v, not the pods %v", pdb.Spec.Selector.MatchLabels, labels)
	}
	if n, ok := pdb.Spec.MinAvailable.(float64); !ok || n < 1 || int(n) >= d.Spec.Replicas {
		t.Errorf("minAvailable %v: want a number of pods between 1 and replicas-1", pdb.Spec.MinAvailable)
	}
	if len(svc.Spec.Ports) != 1 || !selects(selector{MatchLabels: svcSelector(t, objs)}, labels) || containerPort(c, svc.Spec.Ports[0].TargetPort) != port {
		t.Errorf("the Service does not send to the pods' port %d", port)
	}
	if !selects(np.Spec.PodSelector, labels) {
		t.Errorf("the NetworkPolicy applies to %v, not the pods %v", np.Spec.PodSelector.MatchLabels, labels)
	}
	if len(np.Spec.Ingress) == 0 || len(np.Spec.Ingress[0].Ports) == 0 || containerPort(c, np.Spec.Ingress[0].Ports[0].Port) != port {
		t.Errorf("the NetworkPolicy does not let traffic in on port %d", port)
	}
}

// svcSelector is the Service's selector, a plain map (not matchLabels).
func svcSelector(t *testing.T, objs []k8sObject) map[string]string {
	t.Helper()
	var s struct {
		Spec struct {
			Selector map[string]string `json:"selector"`
		} `json:"spec"`
	}
	object(t, objs, "Service", "", &s)
	return s.Spec.Selector
}

// podFS is the pod's volumes mounted under a test directory.
type podFS struct {
	root   string
	mounts map[string]volume // by mount path
}

// mountPod mounts c's volumes under a new directory: ConfigMaps with their
// files, Secrets and emptyDirs empty.
func mountPod(t *testing.T, objs []k8sObject, pod podSpec, c container) *podFS {
	t.Helper()
	fs := &podFS{root: t.TempDir(), mounts: map[string]volume{}}
	volumes := map[string]volume{}
	for _, v := range pod.Volumes {
		volumes[v.Name] = v
	}
	for _, m := range c.VolumeMounts {
		v, ok := volumes[m.Name]
		if !ok {
			t.Fatalf("mount %s names no volume", m.Name)
		}
		fs.mounts[m.MountPath] = v
		dir := filepath.Join(fs.root, m.MountPath)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if v.ConfigMap != nil {
			var cm configMap
			object(t, objs, "ConfigMap", v.ConfigMap.Name, &cm)
			for name, content := range cm.Data {
				writeFile(t, filepath.Join(dir, name), content)
			}
		}
	}
	return fs
}

// rewrite points the paths of a config text into the mounts, in one pass
// (a rewritten path is never rewritten again), longest mount path first.
func (fs *podFS) rewrite(text string) string {
	paths := slices.Collect(maps.Keys(fs.mounts))
	slices.SortFunc(paths, func(a, b string) int { return len(b) - len(a) })
	var pairs []string
	for _, p := range paths {
		pairs = append(pairs, " "+p, " "+filepath.Join(fs.root, p), "["+p, "["+filepath.Join(fs.root, p))
	}
	return strings.NewReplacer(pairs...).Replace(text)
}

// volumeOf is the volume a rewritten path is in, directly.
func (fs *podFS) volumeOf(path string) volume {
	rel, ok := strings.CutPrefix(path, fs.root)
	if !ok {
		return volume{}
	}
	if v, ok := fs.mounts[rel]; ok {
		return v
	}
	return fs.mounts[filepath.Dir(rel)]
}

// placeSecrets writes what the config takes from Secrets, a real signing
// key and client secrets, after checking each is in a Secret's mount.
func (fs *podFS) placeSecrets(t *testing.T, raw config.Config) {
	t.Helper()
	inSecret := func(key, path string) {
		t.Helper()
		if fs.volumeOf(path).Secret == nil {
			t.Fatalf("%s %s is not in a Secret's mount", key, path)
		}
	}
	for i, path := range append([]string{raw.Signing.KeyFile}, raw.Signing.PreviousKeyFiles...) {
		inSecret(fmt.Sprintf("signing key file %d", i), path)
		key, err := mint.Generate(raw.Signing.Algorithm)
		if err != nil {
			t.Fatal(err)
		}
		if err := mint.WriteKeyFile(path, key); err != nil {
			t.Fatal(err)
		}
	}
	if pw := raw.State.PasswordFile; pw != "" {
		inSecret("state.password_file", pw)
		writeFile(t, pw, randomSecret(t))
	}
	for i, cl := range raw.Introspection.Clients {
		inSecret(fmt.Sprintf("introspection.clients[%d].secret_file", i), cl.SecretFile)
		writeFile(t, cl.SecretFile, randomSecret(t)+"\n")
	}
}

func TestConfigMapConfigPassesTrustgatesOwnValidationWithTheDeploymentsMounts(t *testing.T) {
	objs := loadBase(t)
	d, c, _ := trustgateDeployment(t, objs)
	if len(c.Args) != 3 || c.Args[0] != "serve" || c.Args[1] != "--config" {
		t.Fatalf("args %v, want serve --config PATH", c.Args)
	}
	fs := mountPod(t, objs, d.Spec.Template.Spec, c)
	configPath := filepath.Join(fs.root, c.Args[2])
	if v := fs.volumeOf(configPath); v.ConfigMap == nil || v.ConfigMap.Name != "trustgate-config" {
		t.Fatalf("--config %s is not in the trustgate-config ConfigMap's mount", c.Args[2])
	}
	text, err := os.ReadFile(configPath)
	if err != nil {
		t.Fatalf("--config %s is not a key of trustgate-config: %v", c.Args[2], err)
	}
	rewritten := fs.rewrite(string(text))
	var raw config.Config
	if err := yaml.Unmarshal([]byte(rewritten), &raw); err != nil {
		t.Fatal(err)
	}
	fs.placeSecrets(t, raw)
	if dir := raw.BundleCacheDir; dir != "" && fs.volumeOf(dir).EmptyDir == nil {
		t.Fatalf("bundle_cache_dir %s is not an emptyDir mount: the root file system is read-only", dir)
	}
	if !strings.HasPrefix(raw.State.URL, "postgres://") {
		t.Fatalf("state.url %q: replicas need one shared PostgreSQL", raw.State.URL)
	}
	cfg, err := config.Parse([]byte(rewritten))
	if err != nil {
		t.Fatalf("the ConfigMap's trustgate.yaml does not validate: %v", err)
	}
	if _, _, err := cfg.NetworkOptions(); err != nil {
		t.Fatal(err)
	}
	if _, err := mint.LoadKeyFile(cfg.Signing.KeyFile, cfg.Signing.Algorithm); err != nil {
		t.Fatal(err)
	}
	opts := policy.Options{ServerIssuer: cfg.Issuer, Logger: zap.NewNop(), EvalTimeout: time.Duration(cfg.Limits.EvalTimeout)}
	if _, err := policy.Load(context.Background(), cfg.Bundles, opts); err != nil {
		t.Fatalf("the bundle ConfigMap does not load: %v", err)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func randomSecret(t *testing.T) string {
	t.Helper()
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
