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
{{- else if .Values.secrets.data }}
{{- printf "%s-secrets" (include "agenthost.fullname" .) }}
{{- end }}
{{- end }}

{{- define "agenthost.agentName" -}}
{{- default (include "agenthost.fullname" .) .Values.propeller.agentName }}
{{- end }}

{{/* The address propeller dials: the headless Service if there is one (so its round-robin
client sees every pod), else the ClusterIP Service. */}}
{{- define "agenthost.endpoint" -}}
{{- $service := include "agenthost.fullname" . }}
{{- if .Values.service.headless }}{{ $service = printf "%s-headless" $service }}{{ end }}
{{- printf "dns:///%s.%s.svc.cluster.local:%d" $service .Release.Namespace (int .Values.server.port) }}
{{- end }}

{{- define "agenthost.tlsServerName" -}}
{{- default (printf "%s.%s.svc" (include "agenthost.fullname" .) .Release.Namespace) .Values.tls.serverName }}
{{- end }}

{{/* A probe's action: the native gRPC probe on the health service; with TLS (which
Kubernetes gRPC probes cannot speak), on the plaintext health-only port (--health-port). */}}
{{- define "agenthost.probeAction" -}}
grpc:
  port: {{ ternary (int .Values.server.healthPort) (int .Values.server.port) .Values.tls.enabled }}
  service: ""
{{- end }}
