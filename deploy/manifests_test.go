// Package deploy checks the deployment files: the Kubernetes manifests
// against the Kubernetes API types (no cluster is at hand for
// `kubectl apply --dry-run`), and the configs they carry against the
// server's own config loader. It is a module of its own so that the
// Kubernetes API modules stay out of the server's dependencies.
package deploy

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/flvedge/flvedge/config"
)

// manifests holds every object of every file, decoded strictly.
type manifests struct {
	configMaps   []corev1.ConfigMap
	services     []corev1.Service
	deployments  []appsv1.Deployment
	statefulSets []appsv1.StatefulSet
	hpas         []autoscalingv2.HorizontalPodAutoscaler
}

func load(t *testing.T) manifests {
	t.Helper()
	files, _ := filepath.Glob("kubernetes/*.yaml")
	if len(files) == 0 {
		t.Fatal("no manifests")
	}
	var m manifests
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range bytes.Split(data, []byte("\n---\n")) {
			var head struct{ APIVersion, Kind string }
			if err := yaml.Unmarshal(doc, &head); err != nil {
				t.Fatalf("%s #%d: %v", file, i, err)
			}
			var obj any
			switch head.APIVersion + " " + head.Kind {
			case "v1 Namespace":
				obj = &corev1.Namespace{}
			case "v1 ConfigMap":
				m.configMaps = append(m.configMaps, corev1.ConfigMap{})
				obj = &m.configMaps[len(m.configMaps)-1]
			case "v1 Service":
				m.services = append(m.services, corev1.Service{})
				obj = &m.services[len(m.services)-1]
			case "apps/v1 Deployment":
				m.deployments = append(m.deployments, appsv1.Deployment{})
				obj = &m.deployments[len(m.deployments)-1]
			case "apps/v1 StatefulSet":
				m.statefulSets = append(m.statefulSets, appsv1.StatefulSet{})
				obj = &m.statefulSets[len(m.statefulSets)-1]
			case "autoscaling/v2 HorizontalPodAutoscaler":
				m.hpas = append(m.hpas, autoscalingv2.HorizontalPodAutoscaler{})
				obj = &m.hpas[len(m.hpas)-1]
			default:
				t.Fatalf("%s #%d: unexpected %s %s", file, i, head.APIVersion, head.Kind)
			}
			// Strict: a misspelt field is an error, as kubectl would say.
			if err := yaml.UnmarshalStrict(doc, obj); err != nil {
				t.Fatalf("%s #%d (%s): %v", file, i, head.Kind, err)
			}
		}
	}
	return m
}

func TestPodsAreProbedAndUnprivileged(t *testing.T) {
	m := load(t)
	var pods []corev1.PodTemplateSpec
	for _, d := range m.deployments {
		pods = append(pods, d.Spec.Template)
	}
	for _, s := range m.statefulSets {
		pods = append(pods, s.Spec.Template)
	}
	if len(pods) < 3 {
		t.Fatalf("%d workloads, want ingest, shield and edge", len(pods))
	}
	for _, pod := range pods {
		name := pod.Labels["app.kubernetes.io/name"]
		sc := pod.Spec.SecurityContext
		if sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
			t.Errorf("%s: may run as root", name)
		}
		if pod.Spec.TerminationGracePeriodSeconds == nil || *pod.Spec.TerminationGracePeriodSeconds < 30 {
			t.Errorf("%s: no time to drain viewers", name)
		}
		for _, c := range pod.Spec.Containers {
			ports := map[string]bool{}
			for _, p := range c.Ports {
				ports[p.Name] = true
			}
			for probe, want := range map[*corev1.Probe]string{c.ReadinessProbe: "/readyz", c.LivenessProbe: "/healthz"} {
				if probe == nil || probe.HTTPGet == nil || probe.HTTPGet.Path != want || !ports[probe.HTTPGet.Port.StrVal] {
					t.Errorf("%s: no %s probe on a declared port", name, want)
				}
			}
			if c.SecurityContext == nil || c.SecurityContext.AllowPrivilegeEscalation == nil || *c.SecurityContext.AllowPrivilegeEscalation {
				t.Errorf("%s: privilege escalation allowed", name)
			}
			for _, mount := range c.VolumeMounts {
				if !slices.ContainsFunc(pod.Spec.Volumes, func(v corev1.Volume) bool { return v.Name == mount.Name }) {
					t.Errorf("%s: mounts missing volume %s", name, mount.Name)
				}
			}
		}
	}
}

func TestServicesSelectPods(t *testing.T) {
	m := load(t)
	labels := []map[string]string{}
	for _, d := range m.deployments {
		labels = append(labels, d.Spec.Template.Labels)
	}
	for _, s := range m.statefulSets {
		labels = append(labels, s.Spec.Template.Labels)
	}
	for _, svc := range m.services {
		sel := svc.Spec.Selector
		if _, perPod := sel["statefulset.kubernetes.io/pod-name"]; perPod {
			continue // set by Kubernetes on each StatefulSet pod
		}
		if !slices.ContainsFunc(labels, func(l map[string]string) bool {
			for k, v := range sel {
				if l[k] != v {
					return false
				}
			}
			return true
		}) {
			t.Errorf("service %s selects no pod", svc.Name)
		}
	}
	for _, h := range m.hpas {
		if !slices.ContainsFunc(m.deployments, func(d appsv1.Deployment) bool { return d.Name == h.Spec.ScaleTargetRef.Name }) {
			t.Errorf("autoscaler %s scales no deployment", h.Name)
		}
	}
}

// TestConfigsAreTheSamples checks that the configs in the ConfigMaps are the
// samples under configs/, and that the server accepts them.
func TestConfigsAreTheSamples(t *testing.T) {
	m := load(t)
	samples := map[string]string{}
	files, _ := filepath.Glob("configs/*.yaml")
	for _, f := range files {
		data, _ := os.ReadFile(f)
		samples[strings.TrimSpace(string(data))] = f
		if _, err := config.Load(f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	for _, cm := range m.configMaps {
		for key, data := range cm.Data {
			if _, ok := samples[strings.TrimSpace(data)]; !ok {
				t.Errorf("ConfigMap %s/%s is none of the samples in configs/", cm.Name, key)
			}
			path := filepath.Join(t.TempDir(), key)
			os.WriteFile(path, []byte(data), 0o600)
			if _, err := config.Load(path); err != nil {
				t.Errorf("ConfigMap %s/%s: %v", cm.Name, key, err)
			}
		}
	}
}
