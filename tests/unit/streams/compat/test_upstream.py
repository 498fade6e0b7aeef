"""Every patch's upstream is still there in the shape the patch relies on; and the check can tell
when it is not."""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

import pytest

import streams.compat
from streams.compat import PATCHES
from streams.compat.upstream import Upstream


def patch_modules() -> list[ModuleType]:
    return [importlib.import_module(f"streams.compat.{name}") for name in PATCHES]


@pytest.mark.parametrize(
    "upstream",
    [upstream for module in patch_modules() for upstream in module.UPSTREAM],
    ids=lambda upstream: upstream.path,
)
def test_what_each_patch_relies_on_is_there_in_its_shape(upstream: Upstream) -> None:
    assert upstream.problem() is None


def test_every_module_of_the_layer_is_listed_with_its_kind() -> None:
    helpers = {"upstream", "guard", "__main__"}
    found = {info.name for info in pkgutil.iter_modules(streams.compat.__path__)} - helpers
    assert found == set(PATCHES)
    assert {module.KIND for module in patch_modules()} <= {
        "correctness",
        "speed",
        "observability",
        "wiring",
    }


@pytest.mark.parametrize(
    ("upstream", "problem"),
    [
        (Upstream("faust.no_such_module.Thing"), "faust.no_such_module is gone"),
        (Upstream("faust.App.no_such_method"), "faust.App.no_such_method is gone"),
        (
            Upstream("faust.App._new_transport", ("self", "extra")),
            "faust.App._new_transport takes (self), not (self, extra)",
        ),
        (
            Upstream("faust.tables.TableManager._no_such_field", instance=True),
            "faust.tables.TableManager no longer sets self._no_such_field",
        ),
    ],
)
def test_a_change_of_shape_upstream_is_named(upstream: Upstream, problem: str) -> None:
    found = upstream.problem()
    assert found is not None
    assert found.startswith(problem)


def test_an_attribute_set_only_on_instances_is_found_in_a_base_class_source() -> None:
    """`_acked` is set in faust.transport.consumer.Consumer.__init__, a base of the driver's."""
    assert (
        Upstream("faust.transport.drivers.aiokafka.Consumer._acked", instance=True).problem()
        is None
    )
