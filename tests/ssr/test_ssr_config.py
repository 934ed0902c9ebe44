"""`.mendelrc`'s `ssr` keys: a bundle's server module and export, the engine and its limits."""
from __future__ import annotations

from pathlib import Path

import pytest

from mendel_py.config import BundleSsr, SsrConfig, config_from_dict
from mendel_py.errors import ConfigError


def config(tmp_path: Path, **top: object) -> object:
    (tmp_path / "src").mkdir(exist_ok=True)
    data = {"base-config": {"dir": "src"}, "bundles": {"main": {"entries": ["src/main.js"], "ssr": {"module": "src/ssr.js"}}}}
    data.update(top)
    return config_from_dict(data, tmp_path)


def test_the_server_module_is_relative_to_the_base_folder_with_export_render(tmp_path: Path) -> None:
    loaded = config(tmp_path)
    assert loaded.bundles["main"].ssr == BundleSsr(module="ssr.js", export="render")
    assert loaded.ssr == SsrConfig()
    assert "ssr" not in loaded.bundles["main"].options


def test_engine_and_limits(tmp_path: Path) -> None:
    loaded = config(tmp_path, ssr={"engine": "v8", "memory-limit-mb": 16, "timeout": 0.25, "cache-mb": 32})
    assert loaded.ssr == SsrConfig(engine="v8", memory_limit_mb=16, timeout=0.25, cache_mb=32)


@pytest.mark.parametrize("top, bundle, message", [
    ({"ssr": {"engine": "rhino"}}, None, "ssr.engine"),
    ({"ssr": {"timeout": 0}}, None, "ssr.timeout"),
    ({"ssr": {"memory": 1}}, None, "unknown key"),
    ({}, {"export": "page"}, "ssr.module"),
    ({}, {"module": "../outside.js"}, "outside"),
])
def test_mistakes_name_the_key(tmp_path: Path, top: dict, bundle: dict | None, message: str) -> None:
    (tmp_path / "src").mkdir()
    data = {"base-config": {"dir": "src"}, "bundles": {"main": {"entries": ["main.js"]}}, **top}
    if bundle is not None:
        data["bundles"]["main"]["ssr"] = bundle
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        config_from_dict(data, tmp_path)
