"""Exchange types as RabbitMQ routes: topic words, headers x-match, direct and fanout."""

from __future__ import annotations

import pytest

from engine.errors import PreconditionFailed
from engine.messaging.fields import Field, FieldKind, longstr
from engine.messaging.routing import (
    DirectRouter,
    FanoutRouter,
    HeadersRouter,
    MatchKind,
    TopicRouter,
    headers_match,
    topic_matches,
    topic_words,
)


@pytest.mark.parametrize(("pattern", "key", "expected"), [
    ("a.b", "a.b", True),
    ("a.*", "a.b", True),
    ("a.*", "a", False),
    ("a.*", "a.b.c", False),
    ("a.#", "a", True),
    ("a.#", "a.b.c", True),
    ("#", "", True),
    ("*", "", False),
    ("", "", True),
    ("#.c", "a.b.c", True),
    ("#.c", "c", True),
    ("a.#.c", "a.c", True),
    ("a.#.c", "a.x.y.c", True),
    ("a.#.c", "a.x.y.d", False),
    ("*.#.*", "a", False),
    ("*.#.*", "a.b", True),
    ("#.#", "a.b", True),
    ("a.*.#", "a", False),
    ("a..b", "a..b", True),
    ("a.*.b", "a..b", True),
])
def test_topic_matching_follows_rabbitmq_words(pattern, key, expected):
    assert topic_matches(topic_words(pattern), topic_words(key)) is expected


def test_topic_router_deduplicates_and_caches():
    router = TopicRouter()
    router.add("q1", "a.*", {})
    router.add("q1", "#", {})
    router.add("q2", "a.b", {})
    assert set(router.route("a.b", None)) == {"q1", "q2"}
    assert list(router.route("a.b", None)).count("q1") == 1
    router.remove("q2", "a.b", {})
    assert set(router.route("a.b", None)) == {"q1"}  # cache invalidated on unbind


def test_direct_router_keeps_a_destination_while_any_binding_remains():
    router = DirectRouter()
    router.add("q", "k", {})
    router.add("q", "k", {"x-foo": longstr("1")})  # same key, other arguments: a second binding
    router.remove("q", "k", {})
    assert list(router.route("k", None)) == ["q"]
    router.remove("q", "k", {"x-foo": longstr("1")})
    assert list(router.route("k", None)) == []
    assert not router.has_bindings()


def test_fanout_ignores_the_key():
    router = FanoutRouter()
    router.add("q1", "whatever", {})
    router.add("q2", "", {})
    assert set(router.route("anything", None)) == {"q1", "q2"}


def _int(v: int, kind: FieldKind = FieldKind.SIGNEDINT) -> Field:
    return Field(kind, v)


def test_headers_all_and_any():
    pattern = {"a": _int(1), "b": longstr("x")}
    assert headers_match(MatchKind.ALL, pattern, {"a": _int(1, FieldKind.LONG), "b": longstr("x")})
    assert not headers_match(MatchKind.ALL, pattern, {"a": _int(1)})
    assert headers_match(MatchKind.ANY, pattern, {"a": _int(1)})
    assert not headers_match(MatchKind.ANY, pattern, {"a": _int(2)})
    assert not headers_match(MatchKind.ANY, pattern, None)


def test_headers_type_class_must_match_and_void_means_present():
    assert not headers_match(MatchKind.ALL, {"a": _int(1)}, {"a": longstr("1")})
    assert headers_match(MatchKind.ALL, {"a": Field(FieldKind.VOID, None)}, {"a": longstr("anything")})
    assert not headers_match(MatchKind.ALL, {"a": Field(FieldKind.VOID, None)}, {})


def test_headers_x_keys_only_count_with_x_variants():
    pattern = {"x-match": longstr("all"), "x-k": longstr("v")}
    assert headers_match(MatchKind.ALL, pattern, {})  # x- keys ignored: empty pattern matches all
    assert not headers_match(MatchKind.ANY, pattern, {"x-k": longstr("v")})  # empty any matches nothing
    assert headers_match(MatchKind.ALL_WITH_X, pattern, {"x-k": longstr("v")})
    assert headers_match(MatchKind.ANY_WITH_X, pattern, {"x-k": longstr("v")})
    assert not headers_match(MatchKind.ALL_WITH_X, pattern, {})


def test_headers_router_validates_x_match():
    router = HeadersRouter()
    with pytest.raises(PreconditionFailed):
        router.validate("", {"x-match": longstr("some")})
    with pytest.raises(PreconditionFailed):
        router.validate("", {"x-match": _int(1)})
    router.add("q", "", {"x-match": longstr("any"), "k": longstr("v")})
    assert list(router.route("", lambda: {"k": longstr("v")})) == ["q"]
    assert list(router.route("", lambda: None)) == []
