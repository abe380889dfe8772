{{/* The base name of every object. */}}
{{- define "stowage.fullname" -}}
{{- if contains "stowage" .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-stowage" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "stowage.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "stowage.labels" -}}
app.kubernetes.io/name: stowage
app.kubernetes.io/part-of: stowage
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "stowage.selectorLabels" -}}
app.kubernetes.io/name: stowage
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end -}}

{{- define "stowage.serviceAccount" -}}
{{- include "stowage.fullname" . }}-operator
{{- end -}}

{{- define "stowage.webhookService" -}}
{{- include "stowage.fullname" . }}-webhook
{{- end -}}

{{- define "stowage.tlsSecret" -}}
{{- if .Values.webhook.certManager.enabled -}}
{{- include "stowage.fullname" . }}-webhook-tls
{{- else -}}
{{- required "webhook.tlsSecretName is required when webhook.certManager.enabled is false" .Values.webhook.tlsSecretName -}}
{{- end -}}
{{- end -}}

{{/* Annotations and caBundle of the webhook configurations. */}}
{{- define "stowage.webhookAnnotations" -}}
{{- if .Values.webhook.certManager.enabled }}
annotations:
  cert-manager.io/inject-ca-from: {{ .Release.Namespace }}/{{ include "stowage.fullname" . }}-webhook
{{- end }}
{{- end -}}

{{- define "stowage.clientConfig" -}}
clientConfig:
  service:
    name: {{ include "stowage.webhookService" .root }}
    namespace: {{ .root.Release.Namespace }}
    path: {{ .path }}
    port: 443
  {{- if and (not .root.Values.webhook.certManager.enabled) .root.Values.webhook.caBundle }}
  caBundle: {{ .root.Values.webhook.caBundle }}
  {{- end }}
{{- end -}}
