"""Every ``SIGNET_*`` name the code knows, and each setting's default, read from the code.

Two sources, both collected, never listed by hand:

- the fields of every settings class in ``signet/settings.py`` (env name = the class's
  ``env_prefix`` + the field's alias or name, upper-cased, as pydantic-settings reads it);
- the names code reads straight from the environment (``os.environ.get("SIGNET_…")``,
  ``os.getenv``, ``environ[…]``, ``env.get(…)`` on a copy of it, directly or through a
  module constant such as ``LISTEN_SECRET_ENV``) or through a click option's ``envvar``,
  and the ``SIGNET_NAME`` placeholders a command's ``metavar`` shows, found by walking
  the source's syntax trees.

Defaults are those of a process started with no ``SIGNET_*`` variable set: each class is
instantiated with them removed, so derived defaults (a consumer group from the topic
prefix) are what a deployment really gets.
"""

from __future__ import annotations

import ast
import inspect
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache

import pytest
from pydantic import SecretStr
from pydantic_settings import BaseSettings

import signet.settings
from tests.docs.doc_text import ROOT, Quantity, quantity, same

SOURCE_DIRS = ("signet", "services", "bench", "examples", "deploy")
ENV_NAME = re.compile(r"(?<![A-Za-z0-9_])SIGNET_[A-Z0-9_]*[A-Z0-9](?![A-Za-z0-9_])")
# A field's unit, from its name's suffix: (dimension, factor to the dimension's base unit).
FIELD_UNITS: dict[str, tuple[str, float]] = {
    "_seconds": ("time", 1.0),
    "_ms": ("time", 1e-3),
    "_days": ("time", 86400.0),
    "_bytes": ("size", 1.0),
    "_kbytes": ("size", 1024.0),
}
# How the docs name the processes whose classes are not called after a service.
ALIASES = {"devstack": ("dev stack", "signet up"), "keyrotation": ("keys rotate",)}


def settings_classes() -> tuple[type[BaseSettings], ...]:
    """Every settings class ``signet/settings.py`` defines, base first."""
    return tuple(
        cls
        for _, cls in inspect.getmembers(signet.settings, inspect.isclass)
        if issubclass(cls, BaseSettings)
        and cls is not BaseSettings
        and cls.__module__ == signet.settings.__name__
    )


def process_name(cls: type[BaseSettings]) -> str:
    """``DispatcherSettings`` → ``dispatcher``: the word the docs use for its process."""
    return cls.__name__.removesuffix("Settings").lower()


def process_words(cls: type[BaseSettings]) -> tuple[str, ...]:
    return (process_name(cls), *ALIASES.get(process_name(cls), ()))


def env_name(cls: type[BaseSettings], field: str) -> str:
    info = cls.model_fields[field]
    alias = info.validation_alias if isinstance(info.validation_alias, str) else info.alias
    return (str(cls.model_config.get("env_prefix", "")) + (alias or field)).upper()


@dataclass(slots=True, frozen=True)
class Setting:
    """One field of one settings class, as the environment names it."""

    env: str
    owner: type[BaseSettings]
    field: str

    @property
    def default(self) -> object:
        return code_defaults(self.owner)[self.field]

    def unit(self) -> tuple[str, float] | None:
        for suffix, unit in FIELD_UNITS.items():
            if self.field.endswith(suffix):
                return unit
        return None

    def __str__(self) -> str:
        return f"{self.owner.__name__}.{self.field}"


@cache
def settings() -> tuple[Setting, ...]:
    return tuple(
        Setting(env_name(cls, name), cls, name)
        for cls in settings_classes()
        for name in cls.model_fields
    )


def settings_named(env: str) -> list[Setting]:
    return [s for s in settings() if s.env == env]


@cache
def code_defaults(cls: type[BaseSettings]) -> dict[str, object]:
    """Each field's value in a process started without any ``SIGNET_*`` variable."""
    with pytest.MonkeyPatch.context() as patch:
        for key in list(os.environ):
            if key.upper().startswith("SIGNET_"):
                patch.delenv(key)
        instance = cls()
    return {name: getattr(instance, name) for name in cls.model_fields}


def numeric_default(cls: type[BaseSettings], field: str) -> float:
    """A number field's default, as a float (in the field's own unit)."""
    value = code_defaults(cls)[field]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{cls.__name__}.{field} defaults to {value!r}, not a number")
    return float(value)


def default_as_quantity(setting: Setting) -> Quantity | None:
    """A numeric default in the base unit its name implies (None when not a number)."""
    value = setting.default
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    unit = setting.unit()
    if unit is None:
        return Quantity(float(value), None)
    dimension, factor = unit
    return Quantity(float(value) * factor, dimension)


def default_text(setting: Setting) -> str:
    """A non-numeric default as a doc would write it: ``false``, ``uvloop``, empty ("")."""
    value = setting.default
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def states_default(setting: Setting, stated: str) -> bool:
    """Whether ``stated`` (a number with or without a unit, or a literal) is the default.

    A bare number is in the field's own unit ("| `SIGNET_X_SECONDS` | 60 |"); a number
    with a unit is compared in the base unit ("5 days" for 432000 seconds), so "5 ms" for
    a field of seconds is a mismatch, not a conversion."""
    code = default_as_quantity(setting)
    if code is not None:
        try:
            doc = quantity(stated)
        except ValueError:
            return False
        if doc.dimension is None:
            unit = setting.unit()
            return same(doc.value * (unit[1] if unit else 1.0), code.value)
        return doc.dimension == code.dimension and same(doc.value, code.value)
    literal = stated.strip().strip("`")
    if literal.lower() in ("empty", "unset", "none", "null", '""'):
        literal = ""
    return literal.lower() == default_text(setting).lower()


# -- names the code reads from the environment itself -------------------------------------


def _python_trees() -> Iterator[ast.Module]:
    for top in SOURCE_DIRS:
        for path in sorted((ROOT / top).rglob("*.py")):
            try:
                source = path.read_text(encoding="utf-8")
            except FileNotFoundError:  # removed since listed (a tree being edited)
                continue
            yield ast.parse(source, str(path))


def _string(node: ast.expr, constants: dict[str, str]) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name):
        return constants.get(node.id)
    return None


def _reads_environment(call: ast.Call) -> bool:
    """``os.getenv(x)``, ``os.environ.get(x)``, and ``env.get(x)`` on a mapping whose
    keys are environment variables (the argument must then be a ``SIGNET_`` name)."""
    func = call.func
    if isinstance(func, ast.Attribute) and func.attr in ("get", "getenv", "pop", "setdefault"):
        return True
    return isinstance(func, ast.Name) and func.id == "getenv"


@cache
def names_read_directly() -> frozenset[str]:
    """``SIGNET_*`` names some code reads from the environment without a settings class."""
    found: set[str] = set()
    for tree in _python_trees():
        constants = {
            target.id: node.value.value
            for node in tree.body
            if isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
            for target in node.targets
            if isinstance(target, ast.Name)
        }
        for node in ast.walk(tree):
            keys: list[ast.expr] = []
            if isinstance(node, ast.Call) and _reads_environment(node) and node.args:
                keys = [node.args[0]]
            elif isinstance(node, ast.keyword) and node.arg == "envvar":  # click options
                keys = (
                    list(node.value.elts)
                    if isinstance(node.value, ast.Tuple | ast.List)
                    else [node.value]
                )
            elif (
                isinstance(node, ast.Subscript)
                and isinstance(node.value, ast.Attribute)
                and node.value.attr == "environ"
            ):
                keys = [node.slice]
            for key in keys:
                name = _string(key, constants)
                if name is not None and ENV_NAME.fullmatch(name):
                    found.add(name)
    return frozenset(found)


@cache
def placeholder_names() -> frozenset[str]:
    """Placeholders a command's help shows (``--set SIGNET_NAME=value``): names that stand
    for any setting, so a doc may repeat them."""
    found: set[str] = set()
    for tree in _python_trees():
        for node in ast.walk(tree):
            if isinstance(node, ast.keyword) and node.arg == "metavar":
                text = _string(node.value, {})
                found.update(ENV_NAME.findall(text or ""))
    return frozenset(found)
