{{/* Names ------------------------------------------------------------------------- */}}
{{- define "shieldx.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "shieldx.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* A component's name: <fullname>-<component>, within the 63 characters of a DNS label. */}}
{{- define "shieldx.componentName" -}}
{{- printf "%s-%s" (include "shieldx.fullname" .root | trunc (int (sub 62 (len .component))) | trimSuffix "-") .component -}}
{{- end -}}

{{- define "shieldx.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels ------------------------------------------------------------------------ */}}
{{- define "shieldx.selectorLabels" -}}
app.kubernetes.io/name: {{ include "shieldx.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "shieldx.labels" -}}
helm.sh/chart: {{ include "shieldx.chart" . }}
{{ include "shieldx.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: shieldx
{{- end -}}

{{/* dict "root" $ "component" "credits" */}}
{{- define "shieldx.componentSelectorLabels" -}}
{{ include "shieldx.selectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "shieldx.componentLabels" -}}
{{ include "shieldx.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Image and identity ------------------------------------------------------------ */}}
{{- define "shieldx.image" -}}
{{- $image := .Values.image -}}
{{- if $image.digest -}}
{{- printf "%s@%s" $image.repository $image.digest -}}
{{- else -}}
{{- printf "%s:%s" $image.repository (default .Chart.AppVersion $image.tag) -}}
{{- end -}}
{{- end -}}

{{- define "shieldx.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "shieldx.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "shieldx.secretName" -}}
{{- default (include "shieldx.fullname" .) .Values.secrets.existingSecret -}}
{{- end -}}

{{/* Environment ------------------------------------------------------------------- */}}
{{/* Host names Django accepts: the public ones, the Services' in-cluster names, and the
     pod's own IP (kubelet probes and Prometheus scrapes address the pod by IP). */}}
{{- define "shieldx.allowedHosts" -}}
{{- $root := . -}}
{{- $hosts := list -}}
{{- range .Values.allowedHosts -}}
{{- $hosts = append $hosts . -}}
{{- end -}}
{{- range $role, $cfg := .Values.roles -}}
{{- if $cfg.enabled -}}
{{- $svc := include "shieldx.componentName" (dict "root" $root "component" $role) -}}
{{- $hosts = append $hosts $svc -}}
{{- $hosts = append $hosts (printf "%s.%s.svc" $svc $root.Release.Namespace) -}}
{{- $hosts = append $hosts (printf "%s.%s.svc.cluster.local" $svc $root.Release.Namespace) -}}
{{- end -}}
{{- end -}}
{{- $hosts = append $hosts "$(POD_IP)" -}}
{{- join "," $hosts -}}
{{- end -}}

{{/* dict "root" $ "role" "credits" */}}
{{- define "shieldx.env" -}}
{{- $v := .root.Values -}}
{{- $mount := $v.secrets.mountPath -}}
- name: POD_IP
  valueFrom:
    fieldRef:
      fieldPath: status.podIP
- name: SHIELDX_ENV
  value: {{ $v.environment | quote }}
- name: SHIELDX_ROLE
  value: {{ .role | quote }}
- name: ALLOWED_HOSTS
  value: {{ include "shieldx.allowedHosts" .root | quote }}
- name: SECURE_SSL_REDIRECT
  value: {{ ternary "1" "0" $v.secureSslRedirect | quote }}
- name: LOG_LEVEL
  value: {{ $v.logLevel | quote }}
- name: SHIELDX_RATE_LIMIT
  value: {{ $v.rateLimitPerMinute | quote }}
- name: PROMETHEUS_MULTIPROC_DIR
  value: {{ $v.volumes.metrics.path | quote }}
- name: TMPDIR
  value: /tmp
- name: DATABASE_URL_FILE
  value: {{ printf "%s/DATABASE_URL" $mount | quote }}
- name: REDIS_URL_FILE
  value: {{ printf "%s/REDIS_URL" $mount | quote }}
- name: SECRET_KEY_FILE
  value: {{ printf "%s/SECRET_KEY" $mount | quote }}
- name: SHIELDX_KEYRING_FILE
  value: {{ printf "%s/SHIELDX_KEYRING" $mount | quote }}
{{- with $v.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Volumes: /tmp and the metrics directory are the only writable paths; secrets are files. */}}
{{- define "shieldx.volumes" -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ .Values.volumes.tmp.sizeLimit }}
- name: metrics
  emptyDir:
    medium: Memory
    sizeLimit: {{ .Values.volumes.metrics.sizeLimit }}
- name: secrets
  secret:
    secretName: {{ include "shieldx.secretName" . }}
    defaultMode: 0440
    items:
      - key: {{ .Values.secrets.keys.databaseUrl }}
        path: DATABASE_URL
      - key: {{ .Values.secrets.keys.redisUrl }}
        path: REDIS_URL
      - key: {{ .Values.secrets.keys.secretKey }}
        path: SECRET_KEY
      - key: {{ .Values.secrets.keys.keyring }}
        path: SHIELDX_KEYRING
{{- end -}}

{{- define "shieldx.volumeMounts" -}}
- name: tmp
  mountPath: /tmp
- name: metrics
  mountPath: {{ .Values.volumes.metrics.path }}
- name: secrets
  mountPath: {{ .Values.secrets.mountPath }}
  readOnly: true
{{- end -}}

{{/* Pod-level settings shared by every ShieldX pod. */}}
{{- define "shieldx.podCommon" -}}
serviceAccountName: {{ include "shieldx.serviceAccountName" . }}
automountServiceAccountToken: false
enableServiceLinks: false
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* dict "root" $ "component" "credits" */}}
{{- define "shieldx.topologySpread" -}}
{{- if .root.Values.topologySpread.enabled }}
topologySpreadConstraints:
  - maxSkew: {{ .root.Values.topologySpread.maxSkew }}
    topologyKey: kubernetes.io/hostname
    whenUnsatisfiable: ScheduleAnyway
    labelSelector:
      matchLabels:
        {{- include "shieldx.componentSelectorLabels" . | nindent 8 }}
  - maxSkew: {{ .root.Values.topologySpread.maxSkew }}
    topologyKey: topology.kubernetes.io/zone
    whenUnsatisfiable: ScheduleAnyway
    labelSelector:
      matchLabels:
        {{- include "shieldx.componentSelectorLabels" . | nindent 8 }}
{{- end }}
{{- end -}}

{{/* Pod annotations: roll the pods when the chart-made Secret changes. */}}
{{- define "shieldx.podAnnotations" -}}
{{- if not .Values.secrets.existingSecret }}
checksum/secret: {{ include (print .Template.BasePath "/secret.yaml") . | sha256sum }}
{{- end }}
{{- with .Values.podAnnotations }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* The metrics ports Prometheus and the NetworkPolicy need, per component. */}}
{{- define "shieldx.checkValues" -}}
{{- range $role, $cfg := .Values.roles -}}
{{- if and $cfg.enabled $cfg.podDisruptionBudget.enabled -}}
{{- $min := ternary $cfg.autoscaling.minReplicas $cfg.replicas $cfg.autoscaling.enabled -}}
{{- if ge (int $cfg.podDisruptionBudget.minAvailable) (int $min) -}}
{{- fail (printf "roles.%s.podDisruptionBudget.minAvailable (%v) must be below its replica count (%v), or no node could ever be drained" $role $cfg.podDisruptionBudget.minAvailable $min) -}}
{{- end -}}
{{- end -}}
{{- if and $cfg.enabled $cfg.autoscaling.enabled (gt (int $cfg.autoscaling.minReplicas) (int $cfg.autoscaling.maxReplicas)) -}}
{{- fail (printf "roles.%s.autoscaling.minReplicas must not exceed maxReplicas" $role) -}}
{{- end -}}
{{- end -}}
{{- if and (not .Values.secrets.existingSecret) (eq .Values.environment "production") -}}
{{- range $key := list "databaseUrl" "redisUrl" "secretKey" "keyring" -}}
{{- if not (index $.Values.secrets $key) -}}
{{- fail (printf "secrets.%s is required when secrets.existingSecret is not set (production refuses to start without it)" $key) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
