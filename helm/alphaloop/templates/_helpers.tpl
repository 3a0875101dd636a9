{{/*
Shared blocks. Every Deployment, Service and CronJob is built from these, so a change to the
environment, the security context or the container shape is made once, here.
Blocks that need a service name take (dict "root" $ "name" "<service>").
*/}}

{{/* Chart name, overridable. */}}
{{- define "alphaloop.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Name prefix of every resource: the release name when it already says "alphaloop" (so
`helm install alphaloop` gives alphaloop-risk, as the runbooks use), else <release>-alphaloop.
Services append "-<service>", so the prefix is kept short enough for 63-char DNS names.
*/}}
{{- define "alphaloop.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 42 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 42 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 42 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Name of one service's Deployment and Service: <prefix>-<service>. */}}
{{- define "alphaloop.componentName" -}}
{{- printf "%s-%s" (include "alphaloop.fullname" .root) .name }}
{{- end }}

{{- define "alphaloop.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels on every resource. */}}
{{- define "alphaloop.labels" -}}
helm.sh/chart: {{ include "alphaloop.chart" . }}
app.kubernetes.io/name: {{ include "alphaloop.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: alphaloop
{{- end }}

{{/* Selector labels of the whole release. */}}
{{- define "alphaloop.releaseSelectorLabels" -}}
app.kubernetes.io/name: {{ include "alphaloop.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Selector labels of one service's pods: (dict "root" $ "name" svc). */}}
{{- define "alphaloop.selectorLabels" -}}
{{ include "alphaloop.releaseSelectorLabels" .root }}
app.kubernetes.io/component: {{ .name }}
{{- end }}

{{- define "alphaloop.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "alphaloop.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The chart's own Secret (auth token, optional database password). */}}
{{- define "alphaloop.secretName" -}}
{{- include "alphaloop.fullname" . }}
{{- end }}

{{- define "alphaloop.authSecretName" -}}
{{- default (include "alphaloop.secretName" .) .Values.auth.existingSecret }}
{{- end }}

{{/* True when the chart must create its Secret. */}}
{{- define "alphaloop.createSecret" -}}
{{- if or (not .Values.auth.existingSecret) (and (eq .Values.store.backend "postgres") (not .Values.store.password.existingSecret) .Values.store.password.value) }}true{{ end }}
{{- end }}

{{/* One service's values, failing early when it is missing: (dict "root" $ "name" svc). */}}
{{- define "alphaloop.checkService" -}}
{{- if not (index .root.Values.services .name) }}{{ fail (printf "services.%s is not defined" .name) }}{{ end }}
{{- end }}

{{/* Image of one service: <registry>/alphaloop-<service>:<tag>. */}}
{{- define "alphaloop.image" -}}
{{- $tag := default .root.Chart.AppVersion .root.Values.image.tag }}
{{- printf "%s/alphaloop-%s:%s" (trimSuffix "/" .root.Values.image.registry) .name $tag }}
{{- end }}

{{/* gRPC address of one service as its peers dial it: <prefix>-<service>:<grpcPort>. */}}
{{- define "alphaloop.address" -}}
{{- include "alphaloop.checkService" . }}
{{- $svc := index .root.Values.services .name }}
{{- printf "%s:%v" (include "alphaloop.componentName" .) (required (printf "services.%s.grpcPort is required" .name) $svc.grpcPort) }}
{{- end }}

{{/*
The environment of one service's containers: every setting as ALPHALOOP_<SERVICE>_*, the
database password as PGPASSWORD (libpq reads it), peer addresses from the peers' Service names.
(dict "root" $ "name" svc)
*/}}
{{- define "alphaloop.env" -}}
{{- $root := .root }}
{{- $v := $root.Values }}
{{- include "alphaloop.checkService" . }}
{{- $svc := index .root.Values.services .name }}
{{- $p := printf "ALPHALOOP_%s_" (upper .name) -}}
- name: {{ $p }}HOST
  value: "0.0.0.0"
- name: {{ $p }}GRPC_PORT
  value: {{ $svc.grpcPort | quote }}
- name: {{ $p }}METRICS_PORT
  value: {{ $svc.metricsPort | quote }}
- name: {{ $p }}BUS_BACKEND
  value: {{ $v.bus.backend | quote }}
- name: {{ $p }}BUS_URL
  value: {{ $v.bus.url | quote }}
- name: {{ $p }}STORE_BACKEND
  value: {{ $v.store.backend | quote }}
{{- if eq $v.store.backend "postgres" }}
- name: {{ $p }}STORE_URL
  value: {{ $v.store.url | quote }}
{{- if or $v.store.password.existingSecret $v.store.password.value }}
- name: PGPASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ default (include "alphaloop.secretName" $root) $v.store.password.existingSecret }}
      key: {{ $v.store.password.key }}
{{- end }}
{{- end }}
- name: {{ $p }}STATE_DIR
  value: {{ $v.stateDir | quote }}
{{- /* numba caches compiled kernels next to the code by default: the root fs is read-only */}}
- name: NUMBA_CACHE_DIR
  value: {{ printf "%s/numba-cache" $v.stateDir | quote }}
- name: MPLCONFIGDIR
  value: "/tmp/matplotlib"
- name: {{ $p }}LOG_FORMAT
  value: {{ $v.log.format | quote }}
- name: {{ $p }}LOG_LEVEL
  value: {{ $v.log.level | quote }}
- name: {{ $p }}OTEL_EXPORTER
  value: {{ $v.otel.exporter | quote }}
- name: {{ $p }}OTEL_ENDPOINT
  value: {{ $v.otel.endpoint | quote }}
- name: {{ $p }}SHUTDOWN_GRACE_SECONDS
  value: {{ $v.shutdownGraceSeconds | quote }}
{{- if $svc.mountAuthToken }}
- name: {{ $p }}AUTH_TOKEN_FILE
  value: {{ printf "%s/%s" (trimSuffix "/" $v.auth.mountPath) $v.auth.key | quote }}
{{- end }}
{{- range $peer := $svc.peers }}
{{- if not (index $v.services $peer) }}{{ fail (printf "services.%s.peers names %q, which is not a service" $.name $peer) }}{{ end }}
{{- if not (index $v.services $peer).enabled }}{{ fail (printf "services.%s.peers names %q, which is disabled: enable it, or drop the peer and set the address in services.%s.env" $.name $peer $.name) }}{{ end }}
- name: {{ $p }}{{ upper $peer }}_ADDRESS
  value: {{ include "alphaloop.address" (dict "root" $root "name" $peer) | quote }}
{{- end }}
- name: OTEL_SERVICE_NAME
  value: {{ printf "alphaloop-%s" .name | quote }}
{{- with $v.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- with $svc.env }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Volume mounts of one service's containers: (dict "root" $ "name" svc). */}}
{{- define "alphaloop.volumeMounts" -}}
{{- include "alphaloop.checkService" . }}
{{- $svc := index .root.Values.services .name -}}
- name: state
  mountPath: {{ .root.Values.stateDir }}
- name: tmp
  mountPath: /tmp
{{- if $svc.mountAuthToken }}
- name: auth-token
  mountPath: {{ .root.Values.auth.mountPath }}
  readOnly: true
{{- end }}
{{- end }}

{{/*
Volumes of a pod: writable emptyDirs for state and /tmp (the root fs is read-only) and the
token Secret when any container of the pod mounts it.
(dict "root" $ "stateSizeLimit" "1Gi" "authToken" true|false)
*/}}
{{- define "alphaloop.volumes" -}}
- name: state
  emptyDir:
    sizeLimit: {{ .stateSizeLimit }}
- name: tmp
  emptyDir:
    sizeLimit: {{ .root.Values.tmpSizeLimit }}
{{- if .authToken }}
- name: auth-token
  secret:
    secretName: {{ include "alphaloop.authSecretName" .root }}
    defaultMode: 0440
    items:
      - key: {{ .root.Values.auth.key }}
        path: {{ .root.Values.auth.key }}
{{- end }}
{{- end }}

{{/* Container securityContext of every container. */}}
{{- define "alphaloop.containerSecurityContext" -}}
{{- $c := .Values.containerSecurityContext }}
{{- if not $c.readOnlyRootFilesystem }}{{ fail "containerSecurityContext.readOnlyRootFilesystem must stay true" }}{{ end }}
{{- if not $c.runAsNonRoot }}{{ fail "containerSecurityContext.runAsNonRoot must stay true" }}{{ end }}
{{- toYaml $c }}
{{- end }}

{{/*
The pod-level fields every pod shares: service account, no API token, no service links
(Kubernetes would otherwise inject ALPHALOOP_RISK_PORT=tcp://... and friends, which collide with
the ALPHALOOP_<SERVICE>_ settings prefix), the security context and scheduling.
*/}}
{{- define "alphaloop.podSpecCommon" -}}
serviceAccountName: {{ include "alphaloop.serviceAccountName" . }}
automountServiceAccountToken: false
enableServiceLinks: false
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
terminationGracePeriodSeconds: {{ .Values.terminationGracePeriodSeconds }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* A gRPC health probe on the service's own port: (dict "port" N "service" "" "timing" {...}). */}}
{{- define "alphaloop.grpcProbe" -}}
grpc:
  port: {{ .port }}
  {{- with .service }}
  service: {{ . | quote }}
  {{- end }}
{{- with .timing }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
The container of a long-running service: `alphaloop serve <service>`, gRPC and metrics ports,
native gRPC startup/liveness/readiness probes, the shared env, mounts and security context.
(dict "root" $ "name" svc)
*/}}
{{- define "alphaloop.serviceContainer" -}}
{{- $root := .root }}
{{- $v := $root.Values }}
{{- include "alphaloop.checkService" . }}
{{- $svc := index .root.Values.services .name }}
{{- $port := required (printf "services.%s.grpcPort is required" .name) $svc.grpcPort }}
{{- $metricsPort := required (printf "services.%s.metricsPort is required" .name) $svc.metricsPort -}}
- name: {{ .name }}
  image: {{ include "alphaloop.image" . | quote }}
  imagePullPolicy: {{ $v.image.pullPolicy }}
  args: ["serve", {{ .name | quote }}]
  ports:
    - name: grpc
      containerPort: {{ $port }}
      protocol: TCP
    - name: metrics
      containerPort: {{ $metricsPort }}
      protocol: TCP
  env:
    {{- include "alphaloop.env" . | nindent 4 }}
  startupProbe:
    {{- include "alphaloop.grpcProbe" (dict "port" $port "timing" $v.probes.startup) | nindent 4 }}
  livenessProbe:
    {{- include "alphaloop.grpcProbe" (dict "port" $port "timing" $v.probes.liveness) | nindent 4 }}
  readinessProbe:
    {{- include "alphaloop.grpcProbe" (dict "port" $port "service" $svc.readinessService "timing" $v.probes.readiness) | nindent 4 }}
  {{- if gt (int $v.preStopSleepSeconds) 0 }}
  lifecycle:
    preStop:
      sleep:
        seconds: {{ $v.preStopSleepSeconds }}
  {{- end }}
  resources:
    {{- toYaml $svc.resources | nindent 4 }}
  securityContext:
    {{- include "alphaloop.containerSecurityContext" $root | nindent 4 }}
  volumeMounts:
    {{- include "alphaloop.volumeMounts" . | nindent 4 }}
{{- end }}

{{/*
One step of an overnight job: `alphaloop <args>` in the image and environment of its service.
(dict "root" $ "step" {name, service, args, resources})
*/}}
{{- define "alphaloop.jobContainer" -}}
{{- $root := .root }}
{{- $step := .step }}
{{- $svcCtx := dict "root" $root "name" (required "every cronJobs step needs a service" $step.service) }}
{{- if not (index $root.Values.services $step.service) }}{{ fail (printf "cronJobs step %q names service %q, which is not defined" $step.name $step.service) }}{{ end -}}
- name: {{ required "every cronJobs step needs a name" $step.name }}
  image: {{ include "alphaloop.image" $svcCtx | quote }}
  imagePullPolicy: {{ $root.Values.image.pullPolicy }}
  args:
    {{- toYaml (required (printf "cronJobs step %q needs args" $step.name) $step.args) | nindent 4 }}
  env:
    {{- include "alphaloop.env" $svcCtx | nindent 4 }}
  {{- with $step.resources }}
  resources:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  securityContext:
    {{- include "alphaloop.containerSecurityContext" $root | nindent 4 }}
  volumeMounts:
    {{- include "alphaloop.volumeMounts" $svcCtx | nindent 4 }}
{{- end }}

{{/* Refuse values that would cut graceful shutdown short. */}}
{{- define "alphaloop.validate" -}}
{{- $v := .Values }}
{{- $needed := add (int $v.shutdownGraceSeconds) (int $v.preStopSleepSeconds) }}
{{- if le (int $v.terminationGracePeriodSeconds) (int $needed) }}
{{- fail (printf "terminationGracePeriodSeconds (%v) must exceed shutdownGraceSeconds + preStopSleepSeconds (%v), or pods are killed while draining" $v.terminationGracePeriodSeconds $needed) }}
{{- end }}
{{- if not (has $v.bus.backend (list "memory" "redis" "kafka")) }}
{{- fail (printf "bus.backend must be memory, redis or kafka, got %q" $v.bus.backend) }}
{{- end }}
{{- if not (has $v.store.backend (list "duckdb" "postgres")) }}
{{- fail (printf "store.backend must be duckdb or postgres, got %q" $v.store.backend) }}
{{- end }}
{{- end }}
