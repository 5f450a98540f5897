{{/* Names, labels and the merged settings of one component. */}}

{{- define "dne.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "dne.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* The object name of a component: <fullname>-<component> (at most 49 characters). */}}
{{- define "dne.componentName" -}}
{{- printf "%s-%s" (include "dne.fullname" .root) .name -}}
{{- end -}}

{{- define "dne.selectorLabels" -}}
app.kubernetes.io/name: {{ include "dne.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "dne.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "dne.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: delta-neutral-engine
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* Labels of one component; the component label is also what the pod runs (see component.yaml). */}}
{{- define "dne.componentLabels" -}}
{{ include "dne.labels" .root }}
app.kubernetes.io/component: {{ .name }}
{{- end -}}

{{- define "dne.componentSelectorLabels" -}}
{{ include "dne.selectorLabels" .root }}
app.kubernetes.io/component: {{ .name }}
{{- end -}}

{{/*
A component's settings: the shared `default:` with its row of `components:` over it.
Maps merge key by key; a row can switch a default on but not off (mergo skips empty values).
*/}}
{{- define "dne.component" -}}
{{- $row := index .root.Values.components .name -}}
{{- toYaml (mustMergeOverwrite (deepCopy .root.Values.default) (deepCopy $row)) -}}
{{- end -}}

{{- define "dne.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}
{{- end -}}

{{- define "dne.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "dne.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Secrets: the one the chart makes, or the one the operator made. */}}
{{- define "dne.databaseSecretName" -}}
{{- default (printf "%s-database" (include "dne.fullname" .)) .Values.database.existingSecret -}}
{{- end -}}

{{- define "dne.walletSecretName" -}}
{{- default (printf "%s-wallet" (include "dne.fullname" .)) .Values.wallet.existingSecret -}}
{{- end -}}

{{- define "dne.apiTokenSecretName" -}}
{{- default (printf "%s-api-token" (include "dne.fullname" .)) .Values.apiToken.existingSecret -}}
{{- end -}}

{{- define "dne.serviceTokenSecretName" -}}
{{- default (printf "%s-service-token" (include "dne.fullname" .)) .Values.serviceToken.existingSecret -}}
{{- end -}}

{{- define "dne.usesPostgres" -}}
{{- if or .Values.database.url .Values.database.existingSecret -}}true{{- end -}}
{{- end -}}

{{- define "dne.hasWallet" -}}
{{- if or .Values.wallet.privateKey .Values.wallet.existingSecret -}}true{{- end -}}
{{- end -}}
