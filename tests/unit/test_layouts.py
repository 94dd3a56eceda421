from __future__ import annotations

import pytest

from theia_sf.errors import ConfigurationError
from theia_sf.layouts import (
    FLOW_COLUMNS,
    LAYOUTS,
    THEIA_COLUMNS,
    detect_layout,
    get_layout,
    split_fields,
)


def test_theia_table_has_51_columns_in_reference_order():
    assert len(THEIA_COLUMNS) == 51
    names = [c.name for c in THEIA_COLUMNS]
    assert names[0] == "flowStartSeconds"
    assert names[26] == "destinationServicePortName"
    assert names[47:] == ["clusterUUID", "timeInserted", "egressName", "egressIP"]
    assert [c.name for c in FLOW_COLUMNS[51:]] == [
        "destinationServiceIP", "appProtocolName", "httpVals", "egressNodeName"]


@pytest.mark.parametrize(("name", "count"), [
    ("v1.9", 49), ("v1.13", 51), ("v1.15", 53), ("v2.0", 54), ("v2.6", 52), ("v2.7", 53)])
def test_field_counts(name, count):
    assert len(LAYOUTS[name].fields) == count


def test_v27_inserts_service_ip_after_cluster_ip():
    fields = LAYOUTS["v2.7"].fields
    assert fields[fields.index("destinationClusterIP") + 1] == "destinationServiceIP"
    assert "appProtocolName" not in fields and fields[-1] == "egressNodeName"


def test_v26_drops_l7_fields():
    assert "httpVals" not in LAYOUTS["v2.6"].fields
    assert LAYOUTS["v2.6"].fields[-3:] == ("egressName", "egressIP", "egressNodeName")


def test_unknown_layout_names_the_setting():
    with pytest.raises(ConfigurationError, match="THEIA_FLOW_LAYOUT"):
        get_layout("v9.9")


def _line(layout, **values):
    return ",".join(values.get(f, "0") for f in LAYOUTS[layout].fields)


@pytest.mark.parametrize("name", ["v1.9", "v1.13", "v2.0", "v2.6"])
def test_detect_by_field_count(name):
    assert detect_layout([_line(name)]).name == name


def test_detect_tells_the_53_field_layouts_apart():
    assert detect_layout([_line("v1.15", destinationServicePort="8080")]).name == "v1.15"
    assert detect_layout([_line("v2.7", destinationServiceIP="10.96.0.1")]).name == "v2.7"
    assert detect_layout([_line("v2.7", destinationServiceIP="")]).name == "v2.7"


def test_detect_fails_on_unknown_counts():
    with pytest.raises(ValueError, match="cannot detect"):
        detect_layout(["a,b,c"])


def test_split_fields_honours_single_quotes():
    assert split_fields("1,'{\"a\":\"x,y\"}',,'',null") == ["1", '{"a":"x,y"}', "", "", "null"]
    assert split_fields("a,") == ["a", ""]


@pytest.mark.parametrize("bad", ["1,'{\"a\":1}", "1,'x'y,2", "1,ab'c"])
def test_split_fields_rejects_broken_quotes(bad):
    with pytest.raises(ValueError):
        split_fields(bad)
