{{/* Names and labels shared by every object. */}}
{{- define "whippet.name" -}}
{{ .Release.Name }}
{{- end -}}

{{- define "whippet.labels" -}}
app.kubernetes.io/name: whippet
app.kubernetes.io/instance: {{ .Release.Name | quote }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service | quote }}
{{- end -}}

{{- define "whippet.selector" -}}
app.kubernetes.io/name: whippet
app.kubernetes.io/instance: {{ .Release.Name | quote }}
{{- end -}}
