from __future__ import annotations

import pickle
from typing import Any

import pytest

from proxyflow.store import (
    INSTALL_HINTS,
    Store,
    StoreConfig,
    StoreConfigError,
    UnknownConnectorError,
    available_connector_kinds,
    connector_class,
    connector_from_config,
)


def test_defaults_and_dict_round_trip() -> None:
    cfg = StoreConfig("s", "file", {"store_dir": "/tmp/x"})
    assert cfg.serializer == "default"
    assert cfg.cache_size == 16
    assert cfg.to_dict() == {
        "name": "s",
        "connector": "file",
        "options": {"store_dir": "/tmp/x"},
        "serializer": "default",
        "cache_size": 16,
    }
    assert StoreConfig.from_dict(cfg.to_dict()) == cfg
    assert StoreConfig.from_dict({"name": "s", "connector": "file", "options": {}}).cache_size == 16


def test_json_round_trip_and_cache_key() -> None:
    cfg = StoreConfig("s", "redis", {"url": "redis://h:1/0", "prefix": ("a", "b")})
    assert cfg.options["prefix"] == ["a", "b"]  # normalised through JSON
    again = StoreConfig.from_json(cfg.to_json())
    assert again == cfg
    assert hash(again) == hash(cfg)
    assert again.cache_key == cfg.cache_key
    assert {cfg: 1}[again] == 1
    assert cfg.cache_key.startswith('{"cache_size":16,')
    assert pickle.loads(pickle.dumps(cfg)) == cfg


def test_order_of_options_does_not_matter() -> None:
    a = StoreConfig("s", "k", {"x": 1, "y": 2})
    b = StoreConfig("s", "k", {"y": 2, "x": 1})
    assert a == b
    assert a.cache_key == b.cache_key
    assert a != StoreConfig("s", "k", {"x": 1, "y": 3})


def test_frozen() -> None:
    cfg = StoreConfig("s", "k", {})
    with pytest.raises(AttributeError):
        cfg.name = "t"  # type: ignore[misc]


def test_from_dict_names_unknown_and_missing_fields() -> None:
    with pytest.raises(StoreConfigError) as info:
        StoreConfig.from_dict({"name": "s", "connector": "k", "color": "red", "size": 1})
    msg = str(info.value)
    assert "color" in msg
    assert "size" in msg
    assert "options" in msg
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    "data",
    [
        {"name": 1, "connector": "k", "options": {}},
        {"name": "", "connector": "k", "options": {}},
        {"name": "s", "connector": None, "options": {}},
        {"name": "s", "connector": "k", "options": []},
        {"name": "s", "connector": "k", "options": {1: "int key"}},
        {"name": "s", "connector": "k", "options": {"f": object()}},
        {"name": "s", "connector": "k", "options": {"nan": float("nan")}},
        {"name": "s", "connector": "k", "options": {}, "cache_size": "16"},
        {"name": "s", "connector": "k", "options": {}, "cache_size": -1},
        {"name": "s", "connector": "k", "options": {}, "serializer": 5},
    ],
)
def test_wrong_types_raise_store_config_error(data: dict[str, Any]) -> None:
    with pytest.raises(StoreConfigError):
        StoreConfig.from_dict(data)


@pytest.mark.parametrize("text", ["not json", "[1, 2]", '{"name": "s"}'])
def test_from_json_errors(text: str) -> None:
    with pytest.raises(StoreConfigError):
        StoreConfig.from_json(text)


# -- connector registry --------------------------------------------------------------------------


def test_builtin_kinds_are_available() -> None:
    kinds = available_connector_kinds()
    assert {"local", "file", "redis"} <= set(kinds)
    from proxyflow.connectors.local import LocalConnector

    assert connector_class("local") is LocalConnector
    assert connector_class("local") is connector_class("local")


def test_connector_from_config_builds_by_kind(tmp_path: Any) -> None:
    connector = connector_from_config("file", {"store_dir": str(tmp_path)})
    assert connector.kind == "file"
    key = connector.put(b"x")
    assert bytes(connector.get(key) or b"") == b"x"
    connector.close()


def test_unknown_kind_names_a_generic_hint() -> None:
    with pytest.raises(UnknownConnectorError) as info:
        connector_class("carrier-pigeon")
    msg = str(info.value)
    assert "carrier-pigeon" in msg
    assert "proxyflow.connectors" in msg
    assert info.value.kind == "carrier-pigeon"
    assert isinstance(info.value, StoreConfigError)
    assert isinstance(info.value, LookupError)


def test_builtin_kinds_have_install_hints(monkeypatch: pytest.MonkeyPatch) -> None:
    import proxyflow.store.connector_registry as reg

    monkeypatch.setattr(reg, "entry_points", lambda **kw: [])
    monkeypatch.setattr(reg, "_classes", {})
    for kind, dist in INSTALL_HINTS.items():
        with pytest.raises(UnknownConnectorError) as info:
            connector_class(kind)
        assert dist in str(info.value)
    assert INSTALL_HINTS["redis"] == "proxyflow-connectors[redis]"


def test_store_from_config_with_unknown_kind() -> None:
    with pytest.raises(UnknownConnectorError, match="no connector of kind 'tape'"):
        Store.from_config({"name": "s", "connector": "tape", "options": {}})
