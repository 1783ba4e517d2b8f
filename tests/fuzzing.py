"""Hypothesis strategies for hostile request bodies, built from syncd's pydantic request models.

`body_for(Model)` walks the model's JSON schema: mostly values of the right
shape (so requests get past parsing and reach the store), each field now and
then replaced by arbitrary JSON, left out, or joined by an unknown key. Field
names the store resolves (service, staff, timezone, ...) draw from values that
exist, so the interesting paths run, and from junk.

The profile: `fuzz-ci` under CI=true (a few thousand cases in all), `fuzz-dev`
otherwise; HYPOTHESIS_PROFILE names another.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from pydantic import BaseModel

Strategy = st.SearchStrategy[Any]
_OMIT = object()  # an optional field left out
_QUIET = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
          HealthCheck.data_too_large, HealthCheck.filter_too_much]
settings.register_profile("fuzz-ci", max_examples=400, deadline=None, database=None,
                          suppress_health_check=_QUIET, print_blob=True)
settings.register_profile("fuzz-dev", max_examples=40, deadline=None,
                          suppress_health_check=_QUIET)
FUZZ = settings.get_profile(
    os.environ.get("HYPOTHESIS_PROFILE")
    or ("fuzz-ci" if os.environ.get("CI", "").lower() == "true" else "fuzz-dev")
)

JUNK: Strategy = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=4),
    max_leaves=8,
)
HOSTILE_TEXT: Strategy = st.sampled_from([
    "", " ", "\x00", "a\u2028b", "\r\nX-Injected: 1", "<script>alert(1)</script>", "../../etc",
    "{{ 7*7 }}", "' OR 1=1 --", "é" * 300, "9" * 400, "-1", "NaN", "9999-12-31T23:59:59Z",
    "0001-01-01T00:00:00+14:00",
]) | st.text(max_size=60)
ZONES = st.sampled_from(["Europe/Berlin", "UTC", "America/New_York", "Asia/Kathmandu",
                         "Nowhere/Else", "", "../../etc/localtime"])
TIMES = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30),
                     timezones=st.sampled_from([UTC]) | st.timezones()).map(
    lambda moment: moment.isoformat())
NEAR_TIMES = st.datetimes(min_value=datetime(2030, 1, 1), max_value=datetime(2030, 12, 31),
                          timezones=st.just(UTC)).map(lambda moment: moment.isoformat())


def body_for(model: type[BaseModel], hints: dict[str, Strategy] | None = None) -> Strategy:
    schema = model.model_json_schema()
    return _object(schema, schema.get("$defs", {}), hints or {})


def _object(schema: dict[str, Any], defs: dict[str, Any], hints: dict[str, Strategy]) -> Strategy:
    required = set(schema.get("required", []))
    fields = {name: _field(name, sub, defs, hints)
              for name, sub in schema.get("properties", {}).items()}
    kept = {name: (s if name in required else st.just(_OMIT) | s) for name, s in fields.items()}
    extra = st.dictionaries(st.text(max_size=8), JUNK, max_size=1)

    def assemble(values: dict[str, Any], dropped: set[str], more: dict[str, Any]) -> Any:
        body = {k: v for k, v in values.items() if k not in dropped and v is not _OMIT}
        return body | more

    return st.builds(assemble, st.fixed_dictionaries(kept),
                     st.just(set()) | st.sets(st.sampled_from(sorted(fields) or [""]),
                                              max_size=1),
                     st.just({}) | extra)


def _field(name: str, schema: dict[str, Any], defs: dict[str, Any],
           hints: dict[str, Strategy]) -> Strategy:
    shaped = hints[name] if name in hints else _value(name, schema, defs, hints)
    return st.one_of(*[shaped] * 12, JUNK, HOSTILE_TEXT)  # one field in seven is junk


def _value(name: str, schema: dict[str, Any], defs: dict[str, Any],
           hints: dict[str, Strategy]) -> Strategy:
    if "$ref" in schema:
        return _object(defs[schema["$ref"].rsplit("/", 1)[1]], defs, hints)
    if "anyOf" in schema:
        return st.one_of([_value(name, s, defs, hints) for s in schema["anyOf"]])
    if "enum" in schema or "const" in schema:
        return st.sampled_from(schema.get("enum") or [schema["const"]])
    if schema.get("type") == "object":
        return _mapping(name, schema, defs, hints)
    if schema.get("type") == "array":
        items = _value(name, schema.get("items", {}), defs, hints)
        return st.lists(items, max_size=min(schema.get("maxItems", 4), 4))
    return _scalar(name, schema.get("type"), schema)


def _mapping(name: str, schema: dict[str, Any], defs: dict[str, Any],
             hints: dict[str, Strategy]) -> Strategy:
    if "properties" in schema:
        return _object(schema, defs, hints)
    keys = st.sampled_from(schema.get("propertyNames", {}).get("enum") or ["k"])
    values = _value(name, schema.get("additionalProperties", {}), defs, hints)
    return st.dictionaries(keys, values, max_size=3)


def _scalar(name: str, kind: str | None, schema: dict[str, Any]) -> Strategy:
    if kind == "boolean":
        return st.booleans()
    if kind == "integer":
        low, high = schema.get("minimum", -(2**31)), schema.get("maximum", 2**31)
        return st.integers(low, high) | st.integers()
    if kind == "null":
        return st.none()
    if kind == "string":
        return _string(name, schema)
    return JUNK


_FORMATS: dict[str, Strategy] = {
    "date-time": NEAR_TIMES | TIMES,
    "email": st.emails() | HOSTILE_TEXT,
    "uri": st.sampled_from(["https://platform.example/hooks", "http://127.0.0.1/",
                            "https://[::1]/", "http://169.254.169.254/", "ftp://x/"]),
}
_NAMED: dict[str, Strategy] = {
    "timezone": ZONES,
    "working_hours": st.sampled_from(["09:00", "17:00", "24:00", "25:61", "9", ""]),
}


def _string(name: str, schema: dict[str, Any]) -> Strategy:
    if name in _NAMED:
        return _NAMED[name]
    if schema.get("format") in _FORMATS:
        return _FORMATS[schema["format"]]
    if "pattern" in schema:
        size = schema.get("maxLength", 40)
        return st.from_regex(schema["pattern"], fullmatch=True).filter(lambda s: len(s) <= size)
    longest = min(schema.get("maxLength", 60), 60)
    return st.text(min_size=schema.get("minLength", 0), max_size=longest)
