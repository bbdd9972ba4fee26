"""Building kio entities of any version from one set of keyword values.

A handler serving versions 3–11 of an API fills in every field it knows; `make` keeps
only the fields the negotiated version's class has, so a field added in v5 is simply
dropped at v3 (kio classes are frozen dataclasses per version). `schema(entity_type)`
gives the module of a version's classes, for its nested entity types.
"""

from __future__ import annotations

import dataclasses
import sys
from functools import cache
from types import ModuleType
from typing import Any


@cache
def field_names(cls: type) -> frozenset[str]:
    return frozenset(f.name for f in dataclasses.fields(cls))


def make(cls: type, **values: Any) -> Any:
    names = field_names(cls)
    return cls(**{k: v for k, v in values.items() if k in names})


def schema(entity_type: type) -> ModuleType:
    return sys.modules[entity_type.__module__]
