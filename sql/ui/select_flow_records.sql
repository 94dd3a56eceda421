-- Flow records of the window, newest first, with optional filters.
-- Structure: with_cluster, with_namespace, with_pod, with_protocol, with_flow_type,
--   action ('any' | 'allowed' | 'denied' | 'unprotected'), limit (an integer).
-- Binds: :start_ts, :end_ts, :cluster_uuid, :namespace (either side), :pod (pod name prefix,
--   either side), :protocol, :flow_type, each only with its structure flag.
{% import "ui/flow_filters.sql.j2" as f -%}
SELECT
    flowEndSeconds AS flow_end,
    sourcePodNamespace AS source_namespace,
    sourcePodName AS source_pod,
    sourceIP AS source_ip,
    sourceTransportPort AS source_port,
    destinationPodNamespace AS destination_namespace,
    destinationPodName AS destination_pod,
    destinationIP AS destination_ip,
    destinationTransportPort AS destination_port,
    destinationServicePortName AS destination_service,
    protocolIdentifier AS protocol,
    flowType AS flow_type,
    octetDeltaCount AS bytes,
    reverseOctetDeltaCount AS reverse_bytes,
    CASE WHEN COALESCE(ingressNetworkPolicyNamespace, '') <> ''
        THEN ingressNetworkPolicyNamespace || '/' || ingressNetworkPolicyName
        ELSE ingressNetworkPolicyName END AS ingress_policy,
    ingressNetworkPolicyRuleAction AS ingress_action,
    CASE WHEN COALESCE(egressNetworkPolicyNamespace, '') <> ''
        THEN egressNetworkPolicyNamespace || '/' || egressNetworkPolicyName
        ELSE egressNetworkPolicyName END AS egress_policy,
    egressNetworkPolicyRuleAction AS egress_action,
    clusterUUID AS cluster_uuid
FROM FLOWS
WHERE {{ f.in_window(with_cluster, "      ") }}
{%- if with_namespace %}
  AND (sourcePodNamespace = :namespace OR destinationPodNamespace = :namespace)
{%- endif %}
{%- if with_pod %}
  AND (STARTSWITH(sourcePodName, :pod) OR STARTSWITH(destinationPodName, :pod))
{%- endif %}
{%- if with_protocol %}
  AND protocolIdentifier = :protocol
{%- endif %}
{%- if with_flow_type %}
  AND flowType = :flow_type
{%- endif %}
{%- if action == 'allowed' %}
  AND COALESCE(ingressNetworkPolicyRuleAction, 0) NOT IN (2, 3)
  AND COALESCE(egressNetworkPolicyRuleAction, 0) NOT IN (2, 3)
{%- elif action == 'denied' %}
  AND (ingressNetworkPolicyRuleAction IN (2, 3) OR egressNetworkPolicyRuleAction IN (2, 3))
{%- elif action == 'unprotected' %}
  AND COALESCE(ingressNetworkPolicyName, '') = ''
  AND COALESCE(egressNetworkPolicyName, '') = ''
{%- endif %}
ORDER BY flowEndSeconds DESC, sourceIP, destinationIP
LIMIT {{ limit | int }}
