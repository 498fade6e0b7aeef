"""What a patch relies on in a dependency, and a check that it is still there in the same shape."""

from __future__ import annotations

import importlib
import inspect
import re
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Upstream:
    """One thing of a dependency that a patch uses or overrides.

    `path` is dotted, module first (`faust.transport.consumer.Consumer._new_offset`). With `params`
    the thing is a callable whose parameter names must be exactly these; with `instance` it is an
    attribute that the class (or a base) sets on its instances rather than a class attribute."""

    path: str
    params: tuple[str, ...] | None = None
    instance: bool = False

    def problem(self) -> str | None:
        """None when the dependency still has it in this shape, else what changed."""
        owner_path, _, name = self.path.rpartition(".")
        try:
            owner = _resolve(owner_path)
        except (ImportError, AttributeError) as exc:
            return f"{owner_path} is gone ({exc})"
        if self.instance:
            if not _sets_on_instances(owner, name):
                return f"{owner_path} no longer sets self.{name}"
            return None
        try:
            found = inspect.getattr_static(owner, name)
        except AttributeError:
            return f"{self.path} is gone"
        if self.params is not None:
            found = getattr(owner, name)
            try:
                params = tuple(inspect.signature(found).parameters)
            except (TypeError, ValueError):
                return f"{self.path} has no signature to check"
            if params != self.params:
                return f"{self.path} takes ({', '.join(params)}), not ({', '.join(self.params)})"
        return None


def _resolve(path: str) -> Any:
    """The module, class or attribute at a dotted path: the longest importable module prefix,
    then attributes."""
    parts = path.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            found: Any = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            if cut == 1:
                raise
            continue
        for part in parts[cut:]:
            found = getattr(found, part)
        return found
    raise ImportError(path)


def _sets_on_instances(cls: type, name: str) -> bool:
    """Whether the source of the class or one of its bases assigns or declares `self.name`."""
    assigned = re.compile(rf"\bself\.{re.escape(name)}\s*(:[^=\n]*)?=(?!=)")
    declared = re.compile(rf"^\s+{re.escape(name)}\s*:", re.MULTILINE)
    for klass in inspect.getmro(cls):
        try:
            source = inspect.getsource(klass)
        except (OSError, TypeError):  # builtins and extension types have no source
            continue
        if assigned.search(source) or declared.search(source):
            return True
    return False
