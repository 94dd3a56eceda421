-- Pod-to-pod projection used by dashboards (theia-sf migration 000002).
CREATE OR REPLACE VIEW PODS AS
SELECT
    flowStartSeconds,
    flowEndSeconds,
    packetDeltaCount,
    octetDeltaCount,
    reversePacketDeltaCount,
    reverseOctetDeltaCount,
    sourcePodName,
    sourcePodNamespace,
    sourceTransportPort,
    sourcePodNamespace || '/' || sourcePodName AS source,
    destinationPodName,
    destinationPodNamespace,
    destinationTransportPort,
    destinationPodNamespace || '/' || destinationPodName AS destination,
    throughput,
    reverseThroughput,
    flowType,
    clusterUUID
FROM FLOWS;
