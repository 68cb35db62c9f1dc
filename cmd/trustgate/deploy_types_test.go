package main

import "time"

// The parts of Kubernetes objects the deployment tests read.
type (
	k8sObject struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name string `json:"name"`
		} `json:"metadata"`
		file string
		raw  []byte
	}
	selector struct {
		MatchLabels map[string]string `json:"matchLabels"`
	}
	deployment struct {
		Spec struct {
			Replicas int      `json:"replicas"`
			Selector selector `json:"selector"`
			Template struct {
				Metadata struct {
					Labels map[string]string `json:"labels"`
				} `json:"metadata"`
				Spec podSpec `json:"spec"`
			} `json:"template"`
		} `json:"spec"`
	}
	podSpec struct {
		TerminationGracePeriodSeconds int `json:"terminationGracePeriodSeconds"`
		SecurityContext               struct {
			RunAsNonRoot *bool `json:"runAsNonRoot"`
			RunAsUser    int   `json:"runAsUser"`
		} `json:"securityContext"`
		TopologySpreadConstraints []struct {
			LabelSelector selector `json:"labelSelector"`
		} `json:"topologySpreadConstraints"`
		Affinity struct {
			PodAntiAffinity struct {
				Preferred []struct {
					PodAffinityTerm struct {
						LabelSelector selector `json:"labelSelector"`
					} `json:"podAffinityTerm"`
				} `json:"preferredDuringSchedulingIgnoredDuringExecution"`
			} `json:"podAntiAffinity"`
		} `json:"affinity"`
		Containers []container `json:"containers"`
		Volumes    []volume    `json:"volumes"`
	}
	container struct {
		Args  []string `json:"args"`
		Ports []struct {
			Name          string `json:"name"`
			ContainerPort int    `json:"containerPort"`
		} `json:"ports"`
		LivenessProbe  probe `json:"livenessProbe"`
		ReadinessProbe probe `json:"readinessProbe"`
		Resources      struct {
			Requests map[string]string `json:"requests"`
			Limits   map[string]string `json:"limits"`
		} `json:"resources"`
		SecurityContext struct {
			RunAsNonRoot             *bool `json:"runAsNonRoot"`
			ReadOnlyRootFilesystem   *bool `json:"readOnlyRootFilesystem"`
			AllowPrivilegeEscalation *bool `json:"allowPrivilegeEscalation"`
			Capabilities             struct {
				Drop []string `json:"drop"`
			} `json:"capabilities"`
		} `json:"securityContext"`
		VolumeMounts []struct {
			Name      string `json:"name"`
			MountPath string `json:"mountPath"`
		} `json:"volumeMounts"`
	}
	probe struct {
		HTTPGet struct {
			Path string `json:"path"`
			Port any    `json:"port"`
		} `json:"httpGet"`
		// PeriodSeconds and FailureThreshold: zero when unset (Kubernetes
		// then uses 10 and 3; see probe.outAfter).
		PeriodSeconds    int `json:"periodSeconds"`
		FailureThreshold int `json:"failureThreshold"`
	}
	volume struct {
		Name      string `json:"name"`
		ConfigMap *struct {
			Name string `json:"name"`
		} `json:"configMap"`
		Secret *struct {
			SecretName string `json:"secretName"`
		} `json:"secret"`
		EmptyDir *struct{} `json:"emptyDir"`
	}
	labelsSpec struct {
		Spec struct {
			Selector     selector `json:"selector"`
			PodSelector  selector `json:"podSelector"`
			MinAvailable any      `json:"minAvailable"`
			Ports        []struct {
				TargetPort any `json:"targetPort"`
			} `json:"ports"`
			Ingress []struct {
				Ports []struct {
					Port any `json:"port"`
				} `json:"ports"`
			} `json:"ingress"`
		} `json:"spec"`
	}
	configMap struct {
		Data map[string]string `json:"data"`
	}
)

// outAfter is how long after a readiness probe starts failing Kubernetes
// takes the pod out of its Services at most: failureThreshold probes,
// periodSeconds apart (Kubernetes' defaults 3 and 10 when unset).
func (p probe) outAfter() time.Duration {
	period, threshold := p.PeriodSeconds, p.FailureThreshold
	if period == 0 {
		period = 10
	}
	if threshold == 0 {
		threshold = 3
	}
	return time.Duration(period*threshold) * time.Second
}
