"""The metric names a PromQL expression (an alerting rule's, a dashboard panel's) selects,
and the names a syncd /metrics exposition serves, to check the first against the second.

No PromQL parser comes with Python; the expressions here are plain enough for a lexer's
view: once strings, label matchers, ranges, grouping clauses and Grafana's variables are
taken out, an identifier that is neither a keyword nor followed by "(" (a function or an
aggregation) is a metric name.
"""

from __future__ import annotations

import re

from prometheus_client.parser import text_string_to_metric_families

KEYWORDS = frozenset({
    "and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right",
    "offset", "bool", "inf", "nan",
})
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGE = re.compile(r"\[[^\]]*\]")
_GROUPING = re.compile(
    r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", re.IGNORECASE
)
_VARIABLE = re.compile(r"\$\{[^}]*\}|\$\w+")
_IDENTIFIER = re.compile(r"(?<![\w.:])([A-Za-z_:][\w:]*)(\s*\()?")
_NUMBER = re.compile(r"(?<![\w:])\d[\w.]*")  # 0.5, 15m (an offset), 1e3, 0x1F
HISTOGRAM_SERIES = ("_bucket", "_sum", "_count")


def metric_names(expression: str) -> set[str]:
    """The metric names `expression` selects (a histogram's series by their own names)."""
    text = _STRING.sub(" ", expression)
    text = _VARIABLE.sub(" ", text)
    text = _MATCHERS.sub(" ", text)
    text = _RANGE.sub(" ", text)
    text = _GROUPING.sub(" ", text)
    text = _NUMBER.sub(" ", text)
    return {
        name
        for name, call in _IDENTIFIER.findall(text)
        if not call and name.lower() not in KEYWORDS
    }


def served_series_names(exposition: str) -> set[str]:
    """Every series name an exposition's families stand for, samples or not yet: a counter's
    `_total`, a histogram's `_bucket`, `_sum`, `_count`, a gauge's own name."""
    names: set[str] = set()
    for family in text_string_to_metric_families(exposition):
        if family.type == "counter":
            names.add(family.name + "_total")
        elif family.type == "histogram":
            names.update(family.name + suffix for suffix in HISTOGRAM_SERIES)
        else:
            names.add(family.name)
    return names
