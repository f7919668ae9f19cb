"""``Capabilities.nonstrict_output_mode``: what the plan does with a type a strict dialect cannot express."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import pytest

from alloy import get_settings, override
from alloy._plan import OUTPUT_TOOL, build
from alloy.providers import Adapter, Capabilities


@dataclass
class Strict:
    name: str


@dataclass
class Loose:
    blob: Any


class _Model(Adapter):
    provider: ClassVar[str] = "test"

    def __init__(self, nonstrict: Literal["native", "tool", "prompt"]) -> None:
        self.name = "m"
        self.nonstrict: Literal["native", "tool", "prompt"] = nonstrict

    def capabilities(self, model: str, settings: Any) -> Capabilities:
        return Capabilities(
            output_mode="native_strict", schema_dialect="anthropic", nonstrict_output_mode=self.nonstrict
        )


@pytest.mark.parametrize(
    ("nonstrict", "expected"), [("native", "native"), ("tool", "tool"), ("prompt", "prompt")]
)
def test_inexpressible_type_uses_the_nonstrict_mode(
    nonstrict: Literal["native", "tool", "prompt"], expected: str
) -> None:
    """A type the dialect cannot express strictly gets the adapter's nonstrict_output_mode."""
    with override(model=_Model(nonstrict)):
        plan = build(Loose, [], get_settings())
    assert plan.output_mode == expected
    assert (OUTPUT_TOOL in [t.name for t in plan.tools]) is (expected == "tool")


def test_expressible_type_stays_native_strict() -> None:
    """A type the dialect expresses strictly is sent native strict whatever the nonstrict mode."""
    with override(model=_Model("tool")):
        plan = build(Strict, [], get_settings())
    assert plan.output_mode == "native_strict"
    assert plan.tools == []
