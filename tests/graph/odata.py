"""The OData query options the double understands on event collections.

$filter: comparisons (eq ne gt ge lt le), contains/startswith/endswith, and/or/not,
parentheses, and lambda `any` over singleValueExtendedProperties — enough for
``singleValueExtendedProperties/Any(ep: ep/id eq '...' and ep/value eq '...')`` and for
``transactionId eq '...'``. A malformed expression is 400 like Graph's; a valid one on a
property the double does not index is 501 (never a made-up Graph rejection).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.graph.errors import GraphError, bad_request, not_implemented
from tests.graph.extended import canonical_id

Resolver = Callable[[str], Any]  # property path -> value (a list for collections)
Predicate = Callable[[Resolver], bool]

_TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:[^']|'')*')|(?P<punct>[(),:])|(?P<word>[A-Za-z_@$][\w./@$-]*|-?\d[\w.:+-]*))"
)
_COMPARISONS = {"eq", "ne", "gt", "ge", "lt", "le"}
_FUNCTIONS = {"contains", "startswith", "endswith"}


@dataclass(frozen=True)
class Token:
    kind: str  # string | punct | word
    text: str


def tokenize(text: str) -> list[Token]:
    tokens, position = [], 0
    while position < len(text.rstrip()):
        match = _TOKEN.match(text, position)
        if not match or match.end() == position:
            raise _syntax(text)
        kind = next(k for k in ("string", "punct", "word") if match[k] is not None)
        value = match[kind]
        tokens.append(Token(kind, value[1:-1].replace("''", "'") if kind == "string" else value))
        position = match.end()
    return tokens


def _syntax(text: str) -> GraphError:
    return bad_request(f"Invalid filter clause: syntax error in '{text}'.")


class _Parser:
    """Recursive descent: or < and < not < primary."""

    def __init__(self, text: str, known: set[str]) -> None:
        self.text, self.tokens, self.index = text, tokenize(text), 0
        self.known = known
        self.scopes: list[str] = []

    def parse(self) -> Predicate:
        predicate = self._or()
        if self.index != len(self.tokens):
            raise _syntax(self.text)
        return predicate

    def _peek(self) -> Token | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def _take(self, text: str | None = None) -> Token:
        token = self._peek()
        if token is None or (text is not None and token.text.lower() != text):
            raise _syntax(self.text)
        self.index += 1
        return token

    def _is_word(self, *words: str) -> bool:
        token = self._peek()
        return token is not None and token.kind == "word" and token.text.lower() in words

    def _or(self) -> Predicate:
        left = self._and()
        while self._is_word("or"):
            self._take()
            left = _either(left, self._and())
        return left

    def _and(self) -> Predicate:
        left = self._not()
        while self._is_word("and"):
            self._take()
            left = _both(left, self._not())
        return left

    def _not(self) -> Predicate:
        if self._is_word("not"):
            self._take()
            inner = self._not()
            return lambda r: not inner(r)
        return self._primary()

    def _primary(self) -> Predicate:
        token = self._take()
        if token.text == "(":
            inner = self._or()
            self._take(")")
            return inner
        if token.kind != "word":
            raise _syntax(self.text)
        if token.text.lower() in _FUNCTIONS:
            return self._function(token.text.lower())
        if token.text.lower().endswith("/any"):
            return self._any(token.text[: -len("/any")])
        return self._comparison(token.text)

    def _function(self, name: str) -> Predicate:
        self._take("(")
        path = self._path(self._take().text)
        self._take(",")
        literal = self._literal()
        self._take(")")
        test = {
            "contains": str.__contains__,
            "startswith": str.startswith,
            "endswith": str.endswith,
        }[name]
        return lambda r: isinstance(r(path), str) and test(r(path).lower(), str(literal).lower())

    def _any(self, collection: str) -> Predicate:
        if collection.lower() != "singlevalueextendedproperties":
            raise not_implemented(f"$filter lambda operators on '{collection}'")
        self._take("(")
        variable = self._take().text
        self._take(":")
        self.scopes.append(variable)
        body = self._or()
        self.scopes.pop()
        self._take(")")

        def any_property(resolve: Resolver) -> bool:
            items = resolve("singleValueExtendedProperties")
            return any(body(_item_resolver(variable, item, resolve)) for item in items)

        return any_property

    def _comparison(self, path_text: str) -> Predicate:
        path = self._path(path_text)
        operator = self._take().text.lower()
        if operator not in _COMPARISONS:
            raise _syntax(self.text)
        literal = self._literal()
        if path.endswith("/id") and path.split("/")[0] in self.scopes:
            if operator not in {"eq", "ne"}:
                raise _syntax(self.text)
            key = canonical_id(literal)  # exact: the Name part is case-sensitive
            return lambda r: (r(path) == key) == (operator == "eq")
        return lambda r: _compare(r(path), operator, literal)

    def _path(self, text: str) -> str:
        root = text.split("/", maxsplit=1)[0]
        if root in self.scopes:
            if text not in {f"{root}/id", f"{root}/value"}:
                raise bad_request(f"Could not find a property named '{text}'.")
            return text
        if text not in self.known:
            roots = {known.split("/", maxsplit=1)[0] for known in self.known}
            if text.split("/", maxsplit=1)[0] in roots or text in _EVENT_NAMES:
                raise not_implemented(f"$filter on '{text}'")
            raise bad_request(
                f"Could not find a property named '{text}' on type 'microsoft.graph.event'."
            )
        return text

    def _literal(self) -> Any:
        token = self._take()
        if token.kind == "string":
            return token.text
        lowered = token.text.lower()
        if lowered in {"true", "false"}:
            return lowered == "true"
        if lowered == "null":
            return None
        try:
            return int(token.text)
        except ValueError:
            return token.text  # DateTimeOffset literals and the like compare as text


def _either(first: Predicate, second: Predicate) -> Predicate:
    return lambda resolve: first(resolve) or second(resolve)


def _both(first: Predicate, second: Predicate) -> Predicate:
    return lambda resolve: first(resolve) and second(resolve)


def _item_resolver(variable: str, item: tuple[str, str], outer: Resolver) -> Resolver:
    key, value = item

    def resolve(path: str) -> Any:
        if path == f"{variable}/id":
            return key
        if path == f"{variable}/value":
            return value
        return outer(path)

    return resolve


def _compare(actual: Any, operator: str, expected: Any) -> bool:
    if isinstance(actual, str) and isinstance(expected, str):
        actual, expected = actual.lower(), expected.lower()
    if operator == "eq":
        return bool(actual == expected)
    if operator == "ne":
        return bool(actual != expected)
    if actual is None or expected is None:
        return False
    try:
        return bool(
            {
                "gt": actual > expected,
                "ge": actual >= expected,
                "lt": actual < expected,
                "le": actual <= expected,
            }[operator]
        )
    except TypeError:
        return False


# Properties of microsoft.graph.event (resource reference, v1.0); $select accepts these.
_EVENT_NAMES = {
    "allowNewTimeProposals",
    "attendees",
    "body",
    "bodyPreview",
    "categories",
    "changeKey",
    "createdDateTime",
    "end",
    "hasAttachments",
    "hideAttendees",
    "iCalUId",
    "id",
    "importance",
    "isAllDay",
    "isCancelled",
    "isDraft",
    "isOnlineMeeting",
    "isOrganizer",
    "isReminderOn",
    "lastModifiedDateTime",
    "location",
    "locations",
    "onlineMeeting",
    "onlineMeetingProvider",
    "onlineMeetingUrl",
    "organizer",
    "originalEndTimeZone",
    "originalStart",
    "originalStartTimeZone",
    "recurrence",
    "reminderMinutesBeforeStart",
    "responseRequested",
    "responseStatus",
    "sensitivity",
    "seriesMasterId",
    "showAs",
    "start",
    "subject",
    "transactionId",
    "type",
    "webLink",
    "singleValueExtendedProperties",
    "multiValueExtendedProperties",
}
EVENT_PROPERTIES = frozenset(_EVENT_NAMES)
FILTERABLE = {
    "subject",
    "transactionId",
    "iCalUId",
    "showAs",
    "isCancelled",
    "type",
    "importance",
    "start/dateTime",
    "end/dateTime",
    "lastModifiedDateTime",
    "createdDateTime",
    "singleValueExtendedProperties",
}


def parse_filter(text: str) -> Predicate:
    return _Parser(text, FILTERABLE).parse()


def refuse_unmodelled_options(query: dict[str, str]) -> None:
    """Query options Graph supports on event collections but the double does not model."""
    for name in ("$count", "$search", "$apply", "$compute", "$levels"):
        if name in query:
            raise not_implemented(f"the {name} query option")


def parse_select(text: str | None) -> set[str] | None:
    if not text:
        return None
    names = {name.strip() for name in text.split(",") if name.strip()}
    lowered = {n.lower(): n for n in _EVENT_NAMES}
    for name in names:
        if name.lower() not in lowered:
            raise bad_request(
                f"Could not find a property named '{name}' on type 'microsoft.graph.event'.",
                code="RequestBroker--ParseUri",
            )
    return {lowered[n.lower()] for n in names}


_EXPAND = re.compile(
    r"^singleValueExtendedProperties(?:\(\$filter=(?P<filter>.*)\))?$", re.IGNORECASE
)
_ID_EQ = re.compile(r"^\s*id\s+eq\s+'((?:[^']|'')*)'\s*$", re.IGNORECASE)


def parse_expand(text: str | None) -> set[str] | None:
    """Canonical ids the $expand asks for; None = no expansion; every id = empty filter.

    Graph documents `$expand=singleValueExtendedProperties($filter=id eq '...')` as the way
    to read extended properties; an expand without a filter is accepted and returns all
    (the documentation is silent on it).
    """
    if not text:
        return None
    match = _EXPAND.match(text.strip())
    if not match:
        raise not_implemented(f"$expand={text}")
    if match["filter"] is None:
        return {"*"}
    wanted = set()
    for clause in re.split(r"\s+or\s+", match["filter"], flags=re.IGNORECASE):
        id_match = _ID_EQ.match(clause)
        if not id_match:
            raise bad_request(f"Invalid $expand filter: '{match['filter']}'.")
        wanted.add(canonical_id(id_match[1].replace("''", "'")))
    return wanted


def parse_top(text: str | None) -> int | None:
    if text is None:
        return None
    if not text.isdigit() or int(text) < 1:
        raise bad_request(f"Invalid value '{text}' for $top query option found.")
    # Outlook serves at most 1000 items per page; larger $top is capped (docs: paging).
    return min(int(text), 1000)


def parse_skip(text: str | None) -> int:
    if text is None:
        return 0
    if not text.isdigit():
        raise bad_request(f"Invalid value '{text}' for $skip query option found.")
    return int(text)
