"""Exchange types: each one only answers "where does this message go".

A router holds the bindings of one exchange and maps a routing key (and, for headers
exchanges, the message headers) to destinations. Destinations are opaque hashable objects
(the vhost binds queues and exchanges); the publish path that follows exchange-to-exchange
bindings and alternate exchanges is written once, in engine/messaging/vhost.py
(LavinMQ's `each_destination`).

Semantics follow RabbitMQ:
- direct: routing key equals binding key (`rabbit_exchange_type_direct`).
- fanout: every binding, key ignored.
- topic: keys are words separated by "."; in a binding key "*" is exactly one word and
  "#" zero or more (`rabbit_exchange_type_topic`). The empty key is zero words.
- headers: binding argument `x-match` is `all` (default), `any`, `all-with-x` or
  `any-with-x`; binding keys starting `x-` are ignored unless a `-with-x` form is used; a
  void binding value matches on presence; otherwise type class and value must both be
  equal (`rabbit_exchange_type_headers:headers_match/5`).
"""

from __future__ import annotations

import enum
from typing import Any, Callable, Hashable, Iterable, Mapping

from engine.messaging.errors import PreconditionFailed, Reason, fail
from engine.messaging.fields import Field, FieldKind
from engine.messaging.types import ExchangeType

HeadersSource = Callable[[], Mapping[str, Field] | None]
_TOPIC_CACHE_MAX = 4096


def hashable_value(value: Any) -> Hashable:
    if isinstance(value, dict):
        return tuple(sorted((k, v.kind, hashable_value(v.value)) for k, v in value.items()))
    if isinstance(value, list):
        return tuple((v.kind, hashable_value(v.value)) for v in value)
    if isinstance(value, bytearray):
        return bytes(value)
    return value


def arguments_key(arguments: Mapping[str, Field]) -> Hashable:
    """Binding identity includes its arguments, compared as a whole (type and value)."""
    if not arguments:
        return ()
    return hashable_value(dict(arguments))


class Router:
    """The bindings of one exchange; subclasses decide which match a message."""

    def __init__(self) -> None:
        # destination -> set of (routing_key, arguments_key) it is bound with
        self.bindings: dict[Hashable, dict[tuple, Mapping[str, Field]]] = {}

    def validate(self, routing_key: str, arguments: Mapping[str, Field]) -> None:
        """Raises if this exchange type refuses the binding arguments."""

    def add(self, destination: Hashable, routing_key: str, arguments: Mapping[str, Field]) -> bool:
        keys = self.bindings.setdefault(destination, {})
        key = (routing_key, arguments_key(arguments))
        if key in keys:
            return False
        keys[key] = arguments
        self._added(destination, routing_key, arguments)
        return True

    def remove(self, destination: Hashable, routing_key: str, arguments: Mapping[str, Field]) -> bool:
        keys = self.bindings.get(destination)
        key = (routing_key, arguments_key(arguments))
        if not keys or key not in keys:
            return False
        del keys[key]
        if not keys:
            del self.bindings[destination]
        self._removed(destination, routing_key, arguments)
        return True

    def remove_destination(self, destination: Hashable) -> list[tuple[str, Mapping[str, Field]]]:
        keys = self.bindings.pop(destination, None) or {}
        removed = [(rk, args) for (rk, _), args in keys.items()]
        for rk, args in removed:
            self._removed(destination, rk, args)
        return removed

    def has_bindings(self) -> bool:
        return bool(self.bindings)

    def route(self, routing_key: str, headers: HeadersSource) -> Iterable[Hashable]:
        raise NotImplementedError

    def _added(self, destination: Hashable, routing_key: str, arguments: Mapping[str, Field]) -> None:
        pass

    def _removed(self, destination: Hashable, routing_key: str, arguments: Mapping[str, Field]) -> None:
        pass


class DirectRouter(Router):
    def __init__(self) -> None:
        super().__init__()
        self._by_key: dict[str, dict[Hashable, int]] = {}

    def _added(self, destination, routing_key, arguments) -> None:
        dests = self._by_key.setdefault(routing_key, {})
        dests[destination] = dests.get(destination, 0) + 1

    def _removed(self, destination, routing_key, arguments) -> None:
        dests = self._by_key.get(routing_key)
        if dests is None:
            return
        count = dests.get(destination, 0) - 1
        if count > 0:
            dests[destination] = count
        else:
            dests.pop(destination, None)
            if not dests:
                del self._by_key[routing_key]

    def route(self, routing_key, headers):
        return self._by_key.get(routing_key, ())


class FanoutRouter(Router):
    def route(self, routing_key, headers):
        return self.bindings.keys()


def topic_words(key: str) -> tuple[str, ...]:
    return tuple(key.split(".")) if key else ()


def topic_matches(pattern: tuple[str, ...], words: tuple[str, ...]) -> bool:
    """Word-wise glob: "#" like "*" in a file glob, "*" like "?" (greedy with backtracking)."""
    p = w = 0
    star_p, star_w = -1, 0
    np, nw = len(pattern), len(words)
    while w < nw:
        if p < np and pattern[p] == "#":
            star_p, star_w = p, w
            p += 1
        elif p < np and (pattern[p] == "*" or pattern[p] == words[w]):
            p += 1
            w += 1
        elif star_p >= 0:
            p = star_p + 1
            star_w += 1
            w = star_w
        else:
            return False
    while p < np and pattern[p] == "#":
        p += 1
    return p == np


class TopicRouter(Router):
    def __init__(self) -> None:
        super().__init__()
        self._patterns: dict[str, tuple[tuple[str, ...], dict[Hashable, int]]] = {}
        self._cache: dict[str, tuple[Hashable, ...]] = {}

    def _added(self, destination, routing_key, arguments) -> None:
        words, dests = self._patterns.setdefault(routing_key, (topic_words(routing_key), {}))
        dests[destination] = dests.get(destination, 0) + 1
        self._cache.clear()

    def _removed(self, destination, routing_key, arguments) -> None:
        entry = self._patterns.get(routing_key)
        if entry is not None:
            dests = entry[1]
            count = dests.get(destination, 0) - 1
            if count > 0:
                dests[destination] = count
            else:
                dests.pop(destination, None)
                if not dests:
                    del self._patterns[routing_key]
        self._cache.clear()

    def route(self, routing_key, headers):
        hit = self._cache.get(routing_key)
        if hit is not None:
            return hit
        words = topic_words(routing_key)
        found: dict[Hashable, None] = {}
        for pattern, dests in self._patterns.values():
            if topic_matches(pattern, words):
                for dest in dests:
                    found[dest] = None
        result = tuple(found)
        if len(self._cache) >= _TOPIC_CACHE_MAX:
            self._cache.clear()
        self._cache[routing_key] = result
        return result


class MatchKind(enum.Enum):
    ALL = "all"
    ANY = "any"
    ALL_WITH_X = "all-with-x"
    ANY_WITH_X = "any-with-x"


def _x_match(arguments: Mapping[str, Field]) -> MatchKind:
    field = arguments.get("x-match")
    if field is None:
        return MatchKind.ALL
    if field.kind is not FieldKind.LONGSTR:
        raise fail(PreconditionFailed, Reason.INVALID_X_MATCH, value=field.value, type=str(field.kind))
    text = bytes(field.value).decode("utf-8", "replace")
    try:
        return MatchKind(text)
    except ValueError:
        raise fail(PreconditionFailed, Reason.INVALID_X_MATCH, value=text, type=None) from None


def headers_match(kind: MatchKind, pattern: Mapping[str, Field], data: Mapping[str, Field] | None) -> bool:
    data = data or {}
    with_x = kind in (MatchKind.ALL_WITH_X, MatchKind.ANY_WITH_X)
    want_all = kind in (MatchKind.ALL, MatchKind.ALL_WITH_X)
    any_matched = False
    for key, expected in pattern.items():
        if key == "x-match" or (not with_x and key.startswith("x-")):
            continue
        got = data.get(key)
        if got is None:
            ok = False
        elif expected.kind is FieldKind.VOID:
            ok = True
        else:
            ok = expected.type_class() == got.type_class() and expected.value == got.value
        if ok:
            any_matched = True
            if not want_all:
                return True
        elif want_all:
            return False
    return want_all or any_matched


class HeadersRouter(Router):
    def __init__(self) -> None:
        super().__init__()
        self._rules: dict[tuple, tuple[MatchKind, Mapping[str, Field], dict[Hashable, int]]] = {}

    def validate(self, routing_key, arguments) -> None:
        _x_match(arguments)

    def _added(self, destination, routing_key, arguments) -> None:
        key = arguments_key(arguments)
        rule = self._rules.get(key)
        if rule is None:
            rule = self._rules[key] = (_x_match(arguments), dict(arguments), {})
        rule[2][destination] = rule[2].get(destination, 0) + 1

    def _removed(self, destination, routing_key, arguments) -> None:
        key = arguments_key(arguments)
        rule = self._rules.get(key)
        if rule is None:
            return
        dests = rule[2]
        count = dests.get(destination, 0) - 1
        if count > 0:
            dests[destination] = count
        else:
            dests.pop(destination, None)
            if not dests:
                del self._rules[key]

    def route(self, routing_key, headers):
        if not self._rules:
            return ()
        data = headers() if headers is not None else None
        found: dict[Hashable, None] = {}
        for kind, pattern, dests in self._rules.values():
            if headers_match(kind, pattern, data):
                for dest in dests:
                    found[dest] = None
        return found.keys()


ROUTERS: dict[ExchangeType, type[Router]] = {
    ExchangeType.DIRECT: DirectRouter,
    ExchangeType.FANOUT: FanoutRouter,
    ExchangeType.TOPIC: TopicRouter,
    ExchangeType.HEADERS: HeadersRouter,
}
