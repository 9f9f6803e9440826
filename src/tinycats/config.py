"""Recipes as small dataclasses read from YAML (configs/*.yaml). Unknown keys are an error, so a
typo in a recipe is caught before hours of training, not after."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, ClassVar, Protocol, TypeVar

import yaml

from tinycats.errors import TinycatsError

T = TypeVar("T")


class Recipe(Protocol):
    """What ``replace_train`` needs of a recipe: a dataclass with a ``train`` section."""

    __dataclass_fields__: ClassVar[dict[str, Any]]
    train: Any


R = TypeVar("R", bound=Recipe)


class ConfigError(TinycatsError, ValueError):
    pass


def from_dict(cls: type[T], data: dict[str, Any], where: str = "") -> T:
    if not dataclasses.is_dataclass(cls):
        raise TypeError(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(data) - set(fields)
    if unknown:
        raise ConfigError(f"unknown key(s) {sorted(unknown)} in {where or cls.__name__}; "
                          f"valid: {sorted(fields)}")
    kwargs: dict[str, Any] = {}
    for k, v in data.items():
        ftype = fields[k].type
        sub = _dataclass_type(cls, k)
        if sub is not None and isinstance(v, dict):
            kwargs[k] = from_dict(sub, v, f"{where}.{k}" if where else k)
        else:
            kwargs[k] = v
        del ftype
    return cls(**kwargs)


def _dataclass_type(cls: type, name: str) -> type | None:
    import typing

    hints = typing.get_type_hints(cls)
    t = hints.get(name)
    return t if isinstance(t, type) and dataclasses.is_dataclass(t) else None


def load_yaml(cls: type[T], path: Path | str) -> T:
    p = Path(path)
    if not p.exists():
        raise ConfigError(f"config file {p} does not exist")
    try:
        data = yaml.safe_load(p.read_text()) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"{p} is not valid YAML: {e}") from e
    if not isinstance(data, dict):
        raise ConfigError(f"{p} must hold a mapping of settings")
    return from_dict(cls, data, p.name)


def to_dict(obj: Any) -> dict[str, Any]:
    return dataclasses.asdict(obj)


def replace_train(recipe: R, **overrides: Any) -> R:
    """``recipe`` with these settings of its ``train`` section changed (a train command's
    ``--steps``, ``--max-minutes``, ...)."""
    return dataclasses.replace(recipe, train=dataclasses.replace(recipe.train, **overrides))
