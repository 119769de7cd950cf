"""Converting plain command-line values without pydantic: paths, choices, flags and lists of strings.

Typer (0.2x) converts every parameter through a pydantic `TypeAdapter`, even `--help`. For `leakline
scan` that was a quarter of its start-up (~0.15 s: importing pydantic and building eight adapters) for a
path, two choices, two flags and a list of strings. Commands and groups declared with the classes below
convert the plain cases themselves, with Typer's own pydantic-free helpers where it has them (the path
checks, the choice matching): a str for a path, a valid choice, a bool for a flag, strings for a list.
Anything else, every invalid value included, goes to Typer's own converter, so error messages are
Typer's. A test runs both converters over the same command lines and compares what the command receives
and prints. Typer versions without this converter layer keep theirs (they convert with click).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_args, get_origin

from typer.core import TyperCommand, TyperGroup

if TYPE_CHECKING:
    from typer._click import Context
    from typer._click.core import Parameter
    from typer._coercion import RuntimeParam


class NotPlain(Exception):
    """The value is not one of the plain cases: Typer's own converter decides (and words any error)."""


Convert = Callable[[Any, Any, "Context"], Any]
"""(value, parameter, context) -> converted value, or NotPlain."""


def _convert_path(path_type: type[Path], parameter_info: Any) -> Convert:
    from typer._param_types import coerce_cli_path

    def convert(value: Any, param: Any, ctx: Context) -> Any:
        if not isinstance(value, str):
            raise NotPlain
        # Typer's checks (existence, readability, file or folder) and messages run on the text as given;
        # Typer then makes the Path with pydantic, which amounts to `Path(text)`.
        checked = coerce_cli_path(value, parameter_info, path_type=None, param=param, ctx=ctx)
        return path_type(os.fsdecode(checked))

    return convert


def _convert_choice(choices: tuple[Enum, ...], case_sensitive: bool) -> Convert:
    from typer._param_types import coerce_cli_choice

    def convert(value: Any, param: Any, ctx: Context) -> Any:
        try:
            return coerce_cli_choice(value, choices=choices, case_sensitive=case_sensitive, ctx=ctx)
        except ValueError:
            raise NotPlain from None

    return convert


def _convert_flag(value: Any, param: Any, ctx: Context) -> Any:
    if not isinstance(value, bool):
        raise NotPlain
    return value


def _convert_strings(value: Any, param: Any, ctx: Context) -> Any:
    if not isinstance(value, (list, tuple)) or not all(isinstance(item, str) for item in value):
        raise NotPlain
    return list(value)


def _plain_converter(parameter: Any) -> Convert | None:
    descriptor = parameter.type_descriptor
    annotation = descriptor.annotation
    info = descriptor.parameter_info
    if info.parser is not None or descriptor.file_annotation is not None:
        return None
    if (
        isinstance(annotation, type)
        and issubclass(annotation, Path)
        and info.path_type in (None, annotation)
        and not info.allow_dash  # Typer compares the Path, not the text, with "-": left to it
    ):
        return _convert_path(annotation, info)
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return _convert_choice(tuple(annotation), info.case_sensitive)
    if annotation is bool:
        return _convert_flag
    if get_origin(annotation) is list and get_args(annotation) == (str,):
        return _convert_strings
    return None


@cache
def _plain_param_class() -> Callable[..., RuntimeParam] | None:
    """A converter for Typer's interface, or None when this Typer has none."""
    try:
        from typer._coercion import RuntimeParam, TypeDescriptor, build_runtime_param
    except ImportError:
        return None

    @dataclass(frozen=True)
    class PlainParam(RuntimeParam):
        convert: Convert
        descriptor: TypeDescriptor

        def _coerce_value(self, value: Any, param: Any, ctx: Context) -> Any:
            try:
                return self.convert(value, param, ctx)
            except NotPlain:
                return build_runtime_param(self.descriptor)._coerce_value(value, param=param, ctx=ctx)

    return PlainParam


def install_plain_converters(params: list[Parameter]) -> None:
    """Give each parameter of a plain type a converter, unless Typer already built one (it does on first use)."""
    plain = _plain_param_class()
    if plain is None:
        return
    for parameter in params:
        if not hasattr(parameter, "type_descriptor") or getattr(parameter, "_runtime_param", None) is not None:
            continue
        convert = _plain_converter(parameter)
        if convert is not None:
            descriptor = parameter.type_descriptor
            parameter._runtime_param = plain(  # type: ignore[attr-defined]
                parameter_info=descriptor.parameter_info,
                annotation=descriptor.annotation,
                convert=convert,
                descriptor=descriptor,
            )


class PlainParamsCommand(TyperCommand):
    """A Typer command that converts plain values without pydantic."""

    def get_params(self, ctx: Context) -> list[Parameter]:
        params = super().get_params(ctx)
        install_plain_converters(params)
        return params


class PlainParamsGroup(TyperGroup):
    """A Typer group (the root command) that converts plain values, `--help` included, without pydantic."""

    def get_params(self, ctx: Context) -> list[Parameter]:
        params = super().get_params(ctx)
        install_plain_converters(params)
        return params
