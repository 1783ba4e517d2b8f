"""Fixtures of the operations tests: a migrated runtime with a memory connector, and the
series names a running `syncd run` serves."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from syncd.config import Settings, load_config
from syncd.runtime import Runtime
from syncd.store.schema import upgrade
from syncd.wiring import build_runtime
from tests.api.helpers import API_KEY
from tests.dbs import MigratedSqlite
from tests.metrics_daemon import MetricsDaemon
from tests.promql import served_series_names


def settings_for(database_url: str, **environ: str) -> Settings:
    return load_config(None, environ={
        "SYNCD_DATABASE__URL": database_url,
        "SYNCD_API__KEY_ENV": "SYNCD_OPS_TEST_KEY",
        "SYNCD_CONNECTORS__LOCAL__KIND": "memory",
        **environ,
    })


@pytest.fixture
def runtime(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, migrated_sqlite: MigratedSqlite
) -> Iterator[Runtime]:
    monkeypatch.setenv("SYNCD_OPS_TEST_KEY", API_KEY)
    runtime = build_runtime(settings_for(migrated_sqlite.copy_into(tmp_path)))
    upgrade(runtime.engine)
    yield runtime
    runtime.close()


def samples(exposition: str, name: str) -> list[Sample]:
    """Every sample of the metric family `name` in a text exposition."""
    return [
        sample
        for family in text_string_to_metric_families(exposition)
        if family.name == name
        for sample in family.samples
    ]


def registry_samples(registry: CollectorRegistry, name: str) -> list[Sample]:
    return [s for family in registry.collect() if family.name == name for s in family.samples]


@pytest.fixture(scope="session")
def served_series(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """Every series name a real `syncd run` (web, worker, senders) serves on its /metrics,
    with a histogram's `_bucket`, `_sum` and `_count` and a counter's `_total`."""
    workdir = tmp_path_factory.mktemp("served-metrics")
    with MetricsDaemon(workdir, {"local": {"kind": "memory"}}) as daemon:
        return served_series_names(daemon.scrape())
