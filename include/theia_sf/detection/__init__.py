"""Abnormal traffic drop detection: models, detection methods and attribution (pure core)."""

from __future__ import annotations

from theia_sf.detection.methods import detect, detect_baseline, detect_theia, group_series
from theia_sf.detection.model import (
    Anomaly,
    Attribution,
    DailyCount,
    DetectionConfig,
    Direction,
    Granularity,
    Method,
    PeerShare,
    RuleShare,
    Series,
    anomaly_key,
    run_id_for,
)

__all__ = [
    "Anomaly",
    "Attribution",
    "DailyCount",
    "DetectionConfig",
    "Direction",
    "Granularity",
    "Method",
    "PeerShare",
    "RuleShare",
    "Series",
    "anomaly_key",
    "detect",
    "detect_baseline",
    "detect_theia",
    "group_series",
    "run_id_for",
]
