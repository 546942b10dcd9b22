{{/* Chart name, bounded for label values. */}}
{{- define "agenthost.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Release-qualified name; the release name alone if it already contains the chart name.
Bounded to 54 characters so "-headless" still fits a DNS label. */}}
{{- define "agenthost.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 54 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 54 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 54 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "agenthost.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "agenthost.selectorLabels" -}}
app.kubernetes.io/name: {{ include "agenthost.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "agenthost.labels" -}}
helm.sh/chart: {{ include "agenthost.chart" . }}
{{ include "agenthost.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: agent-service
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* An object's annotations: commonAnnotations overridden by the object's own ("extra").
Call with (dict "ctx" $ "extra" <map>); renders nothing when both are empty. */}}
{{- define "agenthost.annotations" -}}
{{- $all := merge (dict) (.extra | default dict) (.ctx.Values.commonAnnotations | default dict) }}
{{- if $all }}
{{- toYaml $all }}
{{- end }}
{{- end }}

{{/* The ClusterIP Service's name: service.name (e.g. flyteconnector, so propeller's existing
k8s://flyteconnector.<namespace>:8000 keeps working), else the release's full name. */}}
{{- define "agenthost.serviceName" -}}
{{- default (include "agenthost.fullname" .) .Values.service.name | trunc 54 | trimSuffix "-" }}
{{- end }}

{{/* The gRPC port: flyteconnector's ports.containerPort if set, else server.port. */}}
{{- define "agenthost.port" -}}
{{- .Values.ports.containerPort | default .Values.server.port | int }}
{{- end }}

{{/* Whether pods get a service-account token: asked for, or needed by rbac.enabled. */}}
{{- define "agenthost.automountToken" -}}
{{- or .Values.serviceAccount.automountServiceAccountToken .Values.rbac.enabled }}
{{- end }}

{{/* gRPC service config for propeller's client: round robin over every pod, and retries of
UNAVAILABLE on the agent services, plus client-side health checking with
propeller.healthCheck (the same JSON as `agenthost propeller-config [--health-check]`). */}}
{{- define "agenthost.serviceConfig" -}}
{"loadBalancingConfig":[{"round_robin":{}}],"methodConfig":[{"name":[{"service":"flyteidl.service.AsyncAgentService"},{"service":"flyteidl.service.SyncAgentService"},{"service":"flyteidl.service.AgentMetadataService"}],"retryPolicy":{"maxAttempts":5,"initialBackoff":"0.1s","maxBackoff":"1s","backoffMultiplier":2,"retryableStatusCodes":["UNAVAILABLE"]}}]
{{- if .Values.propeller.healthCheck }},"healthCheckConfig":{"serviceName":""}{{ end -}}
}
{{- end }}

{{- define "agenthost.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "agenthost.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The Secret mounted at secrets.mountPath, if any. */}}
{{- define "agenthost.secretName" -}}
{{- if .Values.secrets.existingSecret }}
{{- .Values.secrets.existingSecret }}
{{- else if or .Values.secrets.data .Values.connectorSecret.secretData }}
{{- printf "%s-secrets" (include "agenthost.fullname" .) }}
{{- end }}
{{- end }}

{{- define "agenthost.agentName" -}}
{{- default (include "agenthost.fullname" .) .Values.propeller.agentName }}
{{- end }}

{{/* The address propeller dials: k8s://<service>.<namespace>:<port>, the Kubernetes resolver
Flyte's own charts use; propeller watches the Service's endpoints, so it sees every ready pod
and drops a terminating one at once. */}}
{{- define "agenthost.endpoint" -}}
{{- printf "k8s://%s.%s:%d" (include "agenthost.serviceName" .) .Release.Namespace (int (include "agenthost.port" .)) }}
{{- end }}

{{- define "agenthost.tlsServerName" -}}
{{- default (printf "%s.%s.svc" (include "agenthost.serviceName" .) .Release.Namespace) .Values.tls.serverName }}
{{- end }}

{{/* A probe's action: the native gRPC probe on the health service; with TLS (which
Kubernetes gRPC probes cannot speak), on the plaintext health-only port (--health-port). */}}
{{- define "agenthost.probeAction" -}}
grpc:
  port: {{ ternary (int .Values.server.healthPort) (int (include "agenthost.port" .)) .Values.tls.enabled }}
  service: ""
{{- end }}
