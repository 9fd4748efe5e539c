{{/*
Names, labels and the pieces every Signet pod shares. Each service is a "component":
ingest, portal, router, dispatcher, alerter (one Deployment each, same image).
*/}}

{{- define "signet.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "signet.fullname" -}}
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

{{/* The services, in pipeline order. */}}
{{- define "signet.components" -}}
- ingest
- portal
- router
- dispatcher
- alerter
{{- end }}

{{/* The Python module each component runs: `python -m <module>`. */}}
{{- define "signet.module" -}}
services.{{ . }}
{{- end }}

{{/* Port name: ingest and portal serve their API (and /metrics) on "http"; the rest
serve only health and metrics, on "metrics". */}}
{{- define "signet.portName" -}}
{{- if has . (list "ingest" "portal") }}http{{ else }}metrics{{ end }}
{{- end }}

{{- define "signet.componentName" -}}
{{- printf "%s-%s" (include "signet.fullname" .root) .name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "signet.selectorLabels" -}}
app.kubernetes.io/name: {{ include "signet.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .name }}
{{- end }}

{{- define "signet.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" }}
{{ include "signet.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/part-of: signet
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
{{- end }}

{{- define "signet.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{- define "signet.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "signet.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Where the Kafka CA bundle is mounted when kafka.tls.caSecret is set. */}}
{{- define "signet.kafkaCaDir" -}}
/etc/signet/kafka-ca
{{- end }}

{{/*
Settings every service reads (the ConfigMap; the topic Job gets them inline because a
pre-install hook runs before the ConfigMap exists). A YAML map of SIGNET_* to strings.
*/}}
{{- define "signet.commonSettings" -}}
SIGNET_KAFKA_BOOTSTRAP: {{ .Values.kafka.bootstrap | quote }}
SIGNET_KAFKA_SECURITY_PROTOCOL: {{ .Values.kafka.securityProtocol | quote }}
{{- with .Values.kafka.sasl.mechanism }}
SIGNET_KAFKA_SASL_MECHANISM: {{ . | quote }}
{{- end }}
{{- with .Values.kafka.sasl.username }}
SIGNET_KAFKA_SASL_USERNAME: {{ . | quote }}
{{- end }}
{{- if .Values.kafka.tls.caSecret }}
SIGNET_KAFKA_SSL_CA_LOCATION: {{ printf "%s/%s" (include "signet.kafkaCaDir" .) .Values.kafka.tls.caKey | quote }}
{{- end }}
SIGNET_TOPIC_PREFIX: {{ .Values.kafka.topicPrefix | quote }}
SIGNET_PARTITIONS: {{ .Values.kafka.partitions | quote }}
SIGNET_DELIVERIES_PARTITIONS: {{ .Values.kafka.deliveriesPartitions | quote }}
SIGNET_REPLICATION_FACTOR: {{ .Values.kafka.replicationFactor | quote }}
SIGNET_LOG_LEVEL: {{ .Values.settings.logLevel | quote }}
SIGNET_LOG_JSON: {{ .Values.settings.logJson | toString | quote }}
SIGNET_REQUIRE_CATALOGED_EVENT_TYPES: {{ .Values.settings.requireCatalogedEventTypes | toString | quote }}
SIGNET_PUBLIC_URL: {{ .Values.publicUrl | quote }}
{{- range $key, $value := .Values.settings.extra }}
{{ $key }}: {{ $value | toString | quote }}
{{- end }}
{{- end }}

{{/*
OpenTelemetry's standard variables for every service (the ConfigMap; signet/tracing.py,
docs/operations.md#9-tracing). Nothing unless otel.endpoint is set: no export then.
*/}}
{{- define "signet.otelSettings" -}}
{{- with .Values.otel }}
{{- if .endpoint }}
OTEL_EXPORTER_OTLP_ENDPOINT: {{ .endpoint | quote }}
OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf"
OTEL_TRACES_SAMPLER: {{ .sampler | quote }}
{{- if .samplerArg }}
OTEL_TRACES_SAMPLER_ARG: {{ .samplerArg | toString | quote }}
{{- end }}
{{- with .resourceAttributes }}
OTEL_RESOURCE_ATTRIBUTES: {{ . | quote }}
{{- end }}
{{- range $key, $value := .extra }}
{{ $key }}: {{ $value | toString | quote }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/* The Kafka SASL password, from its Secret (every Kafka client). */}}
{{- define "signet.kafkaSecretEnv" -}}
{{- if .Values.kafka.sasl.mechanism }}
- name: SIGNET_KAFKA_SASL_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ .Values.kafka.sasl.existingSecret }}
      key: {{ .Values.kafka.sasl.passwordKey }}
{{- end }}
{{- end }}

{{/* The egress proxy of the services that call out (dispatcher, alerter); the URL from
a Secret when it holds credentials. */}}
{{- define "signet.egressProxyEnv" -}}
{{- with .Values.egressProxy }}
{{- if .existingSecret }}
- name: SIGNET_EGRESS_PROXY_URL
  valueFrom:
    secretKeyRef:
      name: {{ .existingSecret }}
      key: {{ .urlKey }}
{{- else if .url }}
- name: SIGNET_EGRESS_PROXY_URL
  value: {{ .url | quote }}
{{- end }}
{{- if .noProxy }}
- name: SIGNET_EGRESS_NO_PROXY
  value: {{ .noProxy | quote }}
{{- end }}
{{- end }}
{{- end }}

{{/* A component's own environment: where it listens, and the secrets it needs. */}}
{{- define "signet.env" -}}
{{- $root := .root }}
{{- $name := .name }}
{{- $c := index $root.Values $name }}
{{- if has $name (list "ingest" "portal") }}
- name: SIGNET_HOST
  value: "0.0.0.0"
- name: SIGNET_PORT
  value: {{ $c.service.port | quote }}
{{- else if eq $name "router" }}
- name: SIGNET_WEB_HOST
  value: "0.0.0.0"
- name: SIGNET_WEB_PORT
  value: {{ $c.service.port | quote }}
- name: SIGNET_DATA_DIR
  value: /var/lib/signet/router
{{- else }}
- name: SIGNET_METRICS_HOST
  value: "0.0.0.0"
- name: SIGNET_METRICS_PORT
  value: {{ $c.service.port | quote }}
{{- end }}
{{- if has $name (list "portal" "dispatcher" "alerter") }}
- name: SIGNET_MASTER_KEYS
  valueFrom:
    secretKeyRef:
      name: {{ $root.Values.secrets.existingSecret }}
      key: {{ $root.Values.secrets.masterKeysKey }}
{{- end }}
{{- if eq $name "portal" }}
- name: SIGNET_OPERATOR_KEY
  valueFrom:
    secretKeyRef:
      name: {{ $root.Values.secrets.existingSecret }}
      key: {{ $root.Values.secrets.operatorKeyKey }}
- name: SIGNET_SESSION_KEY
  valueFrom:
    secretKeyRef:
      name: {{ $root.Values.secrets.existingSecret }}
      key: {{ $root.Values.secrets.sessionKeyKey }}
      optional: true
- name: SIGNET_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ $root.Values.database.existingSecret }}
      key: {{ $root.Values.database.urlKey }}
{{- end }}
{{- include "signet.kafkaSecretEnv" $root }}
{{- if has $name (list "dispatcher" "alerter") }}
{{- include "signet.egressProxyEnv" $root }}
{{- end }}
{{- if and $root.Values.otel.endpoint $root.Values.otel.headersSecret }}
- name: OTEL_EXPORTER_OTLP_HEADERS
  valueFrom:
    secretKeyRef:
      name: {{ $root.Values.otel.headersSecret }}
      key: {{ $root.Values.otel.headersKey }}
{{- end }}
{{- range $key, $value := $c.env }}
- name: {{ $key }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- end }}

{{/* The Kafka CA volume and mount, when a CA Secret is configured. */}}
{{- define "signet.kafkaCaVolume" -}}
{{- if .Values.kafka.tls.caSecret }}
- name: kafka-ca
  secret:
    secretName: {{ .Values.kafka.tls.caSecret }}
    items:
      - key: {{ .Values.kafka.tls.caKey }}
        path: {{ .Values.kafka.tls.caKey }}
{{- end }}
{{- end }}

{{- define "signet.kafkaCaMount" -}}
{{- if .Values.kafka.tls.caSecret }}
- name: kafka-ca
  mountPath: {{ include "signet.kafkaCaDir" . }}
  readOnly: true
{{- end }}
{{- end }}

{{/*
Refuse values that cannot work, with a message saying what to change. Rendered once
(from the ConfigMap template).
*/}}
{{- define "signet.validate" -}}
{{- $protocols := list "PLAINTEXT" "SSL" "SASL_PLAINTEXT" "SASL_SSL" }}
{{- if not (has .Values.kafka.securityProtocol $protocols) }}
{{- fail (printf "kafka.securityProtocol must be one of %s, not %q" (join ", " $protocols) .Values.kafka.securityProtocol) }}
{{- end }}
{{- if hasPrefix "SASL_" .Values.kafka.securityProtocol }}
{{- if not (and .Values.kafka.sasl.mechanism .Values.kafka.sasl.username .Values.kafka.sasl.existingSecret) }}
{{- fail (printf "kafka.securityProtocol %s needs kafka.sasl.mechanism, kafka.sasl.username and kafka.sasl.existingSecret (the Secret holding the password)" .Values.kafka.securityProtocol) }}
{{- end }}
{{- end }}
{{- if and .Values.kafka.sasl.mechanism (not (hasPrefix "SASL_" .Values.kafka.securityProtocol)) }}
{{- fail "kafka.sasl.mechanism is set but kafka.securityProtocol is not SASL_PLAINTEXT or SASL_SSL" }}
{{- end }}
{{- with .Values.egressProxy }}
{{- if and .url .existingSecret }}
{{- fail "egressProxy: set url or existingSecret (a URL with credentials), not both" }}
{{- end }}
{{- if and .url (not (hasPrefix "http://" .url)) }}
{{- fail (printf "egressProxy.url must be http://host:port, not %q" .url) }}
{{- end }}
{{- if and .url (contains "@" .url) }}
{{- fail "egressProxy.url holds credentials: put the URL in a Secret (egressProxy.existingSecret)" }}
{{- end }}
{{- end }}
{{- if not .Values.secrets.existingSecret }}
{{- fail "secrets.existingSecret must name the Secret holding master-keys and operator-key" }}
{{- end }}
{{- if and .Values.portal.enabled (not .Values.database.existingSecret) }}
{{- fail "database.existingSecret must name the Secret holding the portal's PostgreSQL URL" }}
{{- end }}
{{- $bounds := dict "router" .Values.kafka.partitions "alerter" .Values.kafka.partitions "dispatcher" .Values.kafka.deliveriesPartitions }}
{{- range $name, $partitions := $bounds }}
{{- $c := index $.Values $name }}
{{- $most := $c.replicas }}
{{- if and $c.autoscaling $c.autoscaling.enabled }}
{{- $most = $c.autoscaling.maxReplicas }}
{{- end }}
{{- if and $c.enabled (gt (int $most) (int $partitions)) }}
{{- fail (printf "%s: %d replicas but its topics have %d partitions; the extra replicas would sit idle. Lower the replicas (or autoscaling.maxReplicas) or raise the partition count" $name (int $most) (int $partitions)) }}
{{- end }}
{{- end }}
{{- end }}
