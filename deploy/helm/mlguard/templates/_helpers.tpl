{{/* Names, truncated to the 63 characters Kubernetes allows in a label value. */}}
{{- define "mlguard.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "mlguard.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "mlguard.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every mlguard object but the component, which callers add. */}}
{{- define "mlguard.baseLabels" -}}
helm.sh/chart: {{ include "mlguard.chart" . }}
app.kubernetes.io/name: {{ include "mlguard.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "mlguard.labels" -}}
{{ include "mlguard.baseLabels" . }}
app.kubernetes.io/component: gateway
{{- end }}

{{- define "mlguard.selectorLabels" -}}
app.kubernetes.io/name: {{ include "mlguard.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: gateway
{{- end }}

{{- define "mlguard.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* The bundled MLflow server's Service name and the URL mlguard forwards to. */}}
{{- define "mlguard.mlflow.fullname" -}}
{{- printf "%s-mlflow" (include "mlguard.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "mlguard.mlflow.selectorLabels" -}}
app.kubernetes.io/name: {{ include "mlguard.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: mlflow
{{- end }}

{{- define "mlguard.mlflow.labels" -}}
helm.sh/chart: {{ include "mlguard.chart" . }}
{{ include "mlguard.mlflow.selectorLabels" . }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "mlguard.sqlite" -}}
{{- if eq .Values.database.kind "sqlite" }}true{{ end }}
{{- end }}

{{- define "mlguard.containerPort" -}}8080{{- end }}

{{/*
Non-secret settings as environment variables (a YAML map, read back with fromYaml).
Every name is MLGUARD_<SECTION>__<KEY> of a key under .Values.config, or one the
chart owns: the listen address, and the database URL when it is the SQLite file.
*/}}
{{- define "mlguard.configEnv" -}}
{{- $env := dict "MLGUARD_SERVER__LISTEN" (printf "0.0.0.0:%s" (include "mlguard.containerPort" .)) }}
{{- range $section, $keys := .Values.config }}
{{- range $key, $value := $keys }}
{{- if not (or (kindIs "invalid" $value) (eq (toString $value) "")) }}
{{- /* Helm reads numbers as floats: 67108864 would print as 6.7108864e+07. */}}
{{- $text := ternary (printf "%d" (int64 $value)) (toString $value) (kindIs "float64" $value) }}
{{- $_ := set $env (printf "MLGUARD_%s__%s" (upper $section) (upper $key)) $text }}
{{- end }}
{{- end }}
{{- end }}
{{- /* mlguard answers only the Host names it knows (DNS-rebinding guard): its
Service's names, the Ingress hosts, and whatever config.server.allowed_hosts adds. */}}
{{- $service := include "mlguard.fullname" . }}
{{- $hosts := list $service (printf "%s.%s.svc" $service .Release.Namespace) (printf "%s.%s.svc.cluster.local" $service .Release.Namespace) }}
{{- if .Values.ingress.enabled }}
{{- range .Values.ingress.hosts }}
{{- if .host }}
{{- $hosts = append $hosts .host }}
{{- end }}
{{- end }}
{{- end }}
{{- with .Values.config.server.allowed_hosts }}
{{- $hosts = append $hosts . }}
{{- end }}
{{- $_ := set $env "MLGUARD_SERVER__ALLOWED_HOSTS" (join "," $hosts) }}
{{- if .Values.mlflow.enabled }}
{{- $_ := set $env "MLGUARD_UPSTREAM__URL" (printf "http://%s:%v" (include "mlguard.mlflow.fullname" .) .Values.mlflow.port) }}
{{- end }}
{{- if include "mlguard.sqlite" . }}
{{- $_ := set $env "MLGUARD_DATABASE__URL" "sqlite:///data/mlguard.db" }}
{{- end }}
{{- toYaml $env }}
{{- end }}

{{/* Sensitive settings for the chart's own Secret (empty with existingSecret). */}}
{{- define "mlguard.secretEnv" -}}
{{- $env := dict }}
{{- if not .Values.secret.existingSecret }}
{{- if and (not (include "mlguard.sqlite" .)) .Values.database.url }}
{{- $_ := set $env "MLGUARD_DATABASE__URL" .Values.database.url }}
{{- end }}
{{- with .Values.secret.adminPassword }}
{{- $_ := set $env "MLGUARD_AUTH__ADMIN_PASSWORD" . }}
{{- end }}
{{- with .Values.secret.kek }}
{{- $_ := set $env "MLGUARD_SECRETS__KEK" . }}
{{- end }}
{{- with .Values.secret.previousKeks }}
{{- $_ := set $env "MLGUARD_SECRETS__PREVIOUS_KEKS" . }}
{{- end }}
{{- with .Values.secret.jwtSecret }}
{{- $_ := set $env "MLGUARD_AUTH__JWT_SECRET" . }}
{{- end }}
{{- with .Values.secret.jwtPreviousSecret }}
{{- $_ := set $env "MLGUARD_AUTH__JWT_PREVIOUS_SECRET" . }}
{{- end }}
{{- range $name, $value := .Values.secret.extraEnv }}
{{- $_ := set $env $name (toString $value) }}
{{- end }}
{{- end }}
{{- toYaml $env }}
{{- end }}

{{/* The Secret the pods read their sensitive settings from; empty if there is none. */}}
{{- define "mlguard.secretName" -}}
{{- if .Values.secret.existingSecret }}
{{- .Values.secret.existingSecret }}
{{- else if fromYaml (include "mlguard.secretEnv" .) }}
{{- include "mlguard.fullname" . }}
{{- end }}
{{- end }}

{{/*
Combinations the schema cannot express. Failing here, at render time, beats a pod
that crash-loops (or, worse, runs) with a half-configured store.
*/}}
{{- define "mlguard.validate" -}}
{{- if include "mlguard.sqlite" . }}
{{- if or (gt (int .Values.replicaCount) 1) .Values.autoscaling.enabled }}
{{- fail "SQLite serves a single replica: set database.kind=postgres to run more than one (replicaCount > 1 or autoscaling.enabled)" }}
{{- end }}
{{- else }}
{{- if not (or .Values.database.url .Values.secret.existingSecret) }}
{{- fail "database.kind=postgres needs database.url, or secret.existingSecret holding MLGUARD_DATABASE__URL" }}
{{- end }}
{{- end }}
{{- if and .Values.config.secrets.enabled (not (or .Values.secret.kek .Values.secret.existingSecret)) }}
{{- fail "config.secrets.enabled needs a key-encryption key: secret.kek, or secret.existingSecret holding MLGUARD_SECRETS__KEK" }}
{{- end }}
{{- if and .Values.secret.jwtPreviousSecret (not .Values.secret.jwtSecret) }}
{{- fail "secret.jwtPreviousSecret needs secret.jwtSecret (the key that replaced it)" }}
{{- end }}
{{- if and .Values.autoscaling.enabled (gt (int .Values.autoscaling.minReplicas) (int .Values.autoscaling.maxReplicas)) }}
{{- fail "autoscaling.minReplicas must not exceed autoscaling.maxReplicas" }}
{{- end }}
{{- end }}

{{/* Pod-level security settings, from a map of overrides (podSecurityContext values). */}}
{{- define "mlguard.podSecurityContext" -}}
{{- $context := dict "runAsNonRoot" true "seccompProfile" (dict "type" "RuntimeDefault") }}
{{- range $key, $value := .podSecurityContext }}
{{- /* null drops a default (platforms that assign their own UIDs). */}}
{{- if not (kindIs "invalid" $value) }}
{{- $_ := set $context $key $value }}
{{- end }}
{{- end }}
{{- /* Set last: no values file can turn it off. */}}
{{- $_ := set $context "runAsNonRoot" true }}
{{- toYaml $context }}
{{- end }}

{{/* Container-level: not configurable, so no values file can weaken them. */}}
{{- define "mlguard.containerSecurityContext" -}}
runAsNonRoot: true
readOnlyRootFilesystem: true
allowPrivilegeEscalation: false
capabilities:
  drop: [ALL]
{{- end }}
