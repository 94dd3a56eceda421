-- Throughput series of standard Theia's anomaly detection, formed in the warehouse, one row
-- per point, ordered by series and time (standard Theia leaves the order to its engine).
-- Structure: flows_table; agg_flow: 'none' (per connection: 5-tuple and flowStartSeconds,
--   the point is the max throughput of the connection's records with one flowEndSeconds),
--   'external' (per destinationIP of flowType 3 flows, summed), 'svc' (per
--   destinationServicePortName, summed), 'pod' (per pod namespace and labels, or pod name with
--   pod_by_name, and direction: 'inbound' sums the flows to the pod, 'outbound' those from
--   it); with_cluster; ns_ignore_count (flows with either side in one of those namespaces are
--   left out); with_external_ip, with_svc_port_name, with_pod_label, with_pod_name,
--   with_pod_namespace (the filters of standard Theia; pod without label or name: every pod
--   with labels).
-- Binds: :start_ts, :end_ts (flowStartSeconds >= start, flowEndSeconds < end, in every
--   mode), :cluster_uuid, :ns_ignore_<i>, :external_ip, :svc_port_name, :pod_label (a
--   case-insensitive substring of the labels JSON), :pod_name, :pod_namespace.
-- Output: the series key (source_ip, source_port, destination_ip, destination_port,
--   protocol, flow_start, pod_namespace, pod_labels, pod_name, service_port_name,
--   direction; NULL where the mode does not use it; flow_start in Unix seconds), flow_end
--   (Unix seconds: flow times have 1 s resolution, and numbers cost the reader far less than
--   time zone-aware timestamps), throughput, and stddev: the series' sample standard
--   deviation (NULL for a single point).
-- one_series: only the series whose key columns equal :key_<column> (NULL matches NULL) for
--   each column in key_columns (a list of output column names; the Theia page draws one).
{%- macro common() %}
      flowStartSeconds >= :start_ts
      AND flowEndSeconds < :end_ts
      AND throughput IS NOT NULL
{%- if with_cluster %}
      AND clusterUUID = :cluster_uuid
{%- endif %}
{%- if ns_ignore_count %}
      AND COALESCE(sourcePodNamespace, '') NOT IN (
          {%- for i in range(ns_ignore_count) %}:ns_ignore_{{ i }}{{ ", " if not loop.last }}{% endfor %})
      AND COALESCE(destinationPodNamespace, '') NOT IN (
          {%- for i in range(ns_ignore_count) %}:ns_ignore_{{ i }}{{ ", " if not loop.last }}{% endfor %})
{%- endif %}
{%- endmacro %}
{%- macro pod_side(side, direction) %}
    SELECT
        CAST(NULL AS STRING) AS source_ip,
        CAST(NULL AS NUMBER(5,0)) AS source_port,
        CAST(NULL AS STRING) AS destination_ip,
        CAST(NULL AS NUMBER(5,0)) AS destination_port,
        CAST(NULL AS NUMBER(3,0)) AS protocol,
        CAST(NULL AS TIMESTAMP_TZ) AS flow_start,
        {{ side }}PodNamespace AS pod_namespace,
{%- if pod_by_name %}
        CAST(NULL AS STRING) AS pod_labels,
        {{ side }}PodName AS pod_name,
{%- else %}
        {{ side }}PodLabels AS pod_labels,
        CAST(NULL AS STRING) AS pod_name,
{%- endif %}
        CAST(NULL AS STRING) AS service_port_name,
        '{{ direction }}' AS direction,
        flowEndSeconds AS flow_end,
        CAST(SUM(throughput) AS DOUBLE) AS throughput
    FROM {{ flows_table | ident }}
    WHERE {{- common() }}
{%- if with_pod_label %}
      AND POSITION(LOWER(:pod_label) IN LOWER({{ side }}PodLabels)) > 0
{%- endif %}
{%- if with_pod_name %}
      AND {{ side }}PodName = :pod_name
{%- endif %}
{%- if with_pod_namespace %}
      AND {{ side }}PodNamespace = :pod_namespace
{%- endif %}
{%- if not (with_pod_label or with_pod_name) %}
      AND COALESCE({{ side }}PodLabels, '') <> ''
{%- endif %}
    GROUP BY {{ side }}PodNamespace, {{ side }}{{ "PodName" if pod_by_name else "PodLabels" }}, flowEndSeconds
{%- endmacro %}
WITH points AS (
{%- if agg_flow == 'none' %}
    SELECT
        sourceIP AS source_ip,
        sourceTransportPort AS source_port,
        destinationIP AS destination_ip,
        destinationTransportPort AS destination_port,
        protocolIdentifier AS protocol,
        flowStartSeconds AS flow_start,
        CAST(NULL AS STRING) AS pod_namespace,
        CAST(NULL AS STRING) AS pod_labels,
        CAST(NULL AS STRING) AS pod_name,
        CAST(NULL AS STRING) AS service_port_name,
        CAST(NULL AS STRING) AS direction,
        flowEndSeconds AS flow_end,
        CAST(MAX(throughput) AS DOUBLE) AS throughput
    FROM {{ flows_table | ident }}
    WHERE {{- common() }}
    GROUP BY 1, 2, 3, 4, 5, 6, flowEndSeconds
{%- elif agg_flow == 'external' %}
    SELECT
        CAST(NULL AS STRING) AS source_ip,
        CAST(NULL AS NUMBER(5,0)) AS source_port,
        destinationIP AS destination_ip,
        CAST(NULL AS NUMBER(5,0)) AS destination_port,
        CAST(NULL AS NUMBER(3,0)) AS protocol,
        CAST(NULL AS TIMESTAMP_TZ) AS flow_start,
        CAST(NULL AS STRING) AS pod_namespace,
        CAST(NULL AS STRING) AS pod_labels,
        CAST(NULL AS STRING) AS pod_name,
        CAST(NULL AS STRING) AS service_port_name,
        CAST(NULL AS STRING) AS direction,
        flowEndSeconds AS flow_end,
        CAST(SUM(throughput) AS DOUBLE) AS throughput
    FROM {{ flows_table | ident }}
    WHERE {{- common() }}
      AND flowType = 3
{%- if with_external_ip %}
      AND destinationIP = :external_ip
{%- endif %}
    GROUP BY destinationIP, flowEndSeconds
{%- elif agg_flow == 'svc' %}
    SELECT
        CAST(NULL AS STRING) AS source_ip,
        CAST(NULL AS NUMBER(5,0)) AS source_port,
        CAST(NULL AS STRING) AS destination_ip,
        CAST(NULL AS NUMBER(5,0)) AS destination_port,
        CAST(NULL AS NUMBER(3,0)) AS protocol,
        CAST(NULL AS TIMESTAMP_TZ) AS flow_start,
        CAST(NULL AS STRING) AS pod_namespace,
        CAST(NULL AS STRING) AS pod_labels,
        CAST(NULL AS STRING) AS pod_name,
        destinationServicePortName AS service_port_name,
        CAST(NULL AS STRING) AS direction,
        flowEndSeconds AS flow_end,
        CAST(SUM(throughput) AS DOUBLE) AS throughput
    FROM {{ flows_table | ident }}
    WHERE {{- common() }}
{%- if with_svc_port_name %}
      AND destinationServicePortName = :svc_port_name
{%- else %}
      AND COALESCE(destinationServicePortName, '') <> ''
{%- endif %}
    GROUP BY destinationServicePortName, flowEndSeconds
{%- elif agg_flow == 'pod' %}
{{- pod_side('destination', 'inbound') }}
    UNION ALL
{{- pod_side('source', 'outbound') }}
{%- endif %}
)
SELECT
    source_ip, source_port, destination_ip, destination_port, protocol,
    DATE_PART(EPOCH_SECOND, flow_start) AS flow_start,
    pod_namespace, pod_labels, pod_name, service_port_name, direction,
    DATE_PART(EPOCH_SECOND, flow_end) AS flow_end,
    throughput,
    STDDEV_SAMP(throughput) OVER (
        PARTITION BY source_ip, source_port, destination_ip, destination_port, protocol,
                     flow_start, pod_namespace, pod_labels, pod_name, service_port_name,
                     direction
    ) AS stddev
FROM points
{%- if one_series %}
WHERE {% for column in key_columns %}points.{{ column | ident }} IS NOT DISTINCT FROM :key_{{ column | ident }}{{ " AND " if not loop.last }}{% endfor %}
{%- endif %}
ORDER BY points.source_ip, points.source_port, points.destination_ip, points.destination_port,
         points.protocol, points.flow_start, points.pod_namespace, points.pod_labels,
         points.pod_name, points.service_port_name, points.direction, points.flow_end
