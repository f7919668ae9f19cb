"""The plan of a call: the one place output and tool modes are chosen.

From the adapter's ``Capabilities``, the output type, the tools and the settings it picks how the
answer's shape is enforced (native strict schema, native schema, forced tool, JSON prompt) and how
tools run (native or ReAct), compiles the schemas for the provider's dialect and records each
decision as a note. ``Command.explain()`` returns it; the engine builds every request from it.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import _react
from ._contracts import Contract
from ._errors import ConfigurationError, snippet
from ._form import answer_form
from ._interpose import interposed
from ._messages import Message, OutputFormat, OutputMode, Request, ToolMode, ToolSpec
from ._outputs import OutputType, output_type, type_name
from ._parts import NAMES, SHORT, human_size
from ._registry import resolve
from ._schema import Compiled, compile_schema
from ._settings import models
from ._tools import OUTPUT_TOOL, Tool
from .providers import Adapter, Capabilities, SchemaDialect

if TYPE_CHECKING:
    from ._settings_class import Settings

log = logging.getLogger("alloy.plan")

__all__ = ["OUTPUT_TOOL", "Plan", "build"]


@dataclass(eq=False)
class Plan:
    """How a call will run, decided before anything is sent. ``str(plan)`` is readable.

    Attributes:
        provider, model: who answers.
        output_mode: ``native_strict``, ``native``, ``tool``, ``prompt`` or ``text``.
        tool_mode: ``native``, ``react`` or ``none``.
        schema: the exact output (or ReAct step) schema sent, or ``None``.
        tools: the exact tool specs sent.
        notes: each choice, transform and moved constraint, in words.
    """

    provider: str
    model: str
    output_mode: OutputMode
    tool_mode: ToolMode
    schema: dict[str, Any] | None
    tools: list[ToolSpec]
    notes: list[str]
    adapter: Adapter = field(repr=False)
    settings: Settings = field(repr=False)
    output: OutputType | None = field(repr=False)
    returns_none: bool = field(repr=False)
    codec: Compiled | None = field(repr=False)
    tool_table: dict[str, Tool[..., Any]] = field(repr=False)
    tool_codecs: dict[str, Compiled] = field(repr=False)
    """Tools sent with strict schemas: their arguments come back encoded and are decoded first."""
    system: str | None = field(repr=False)
    ensures: list[Contract] = field(repr=False)
    temperature: float | None = field(repr=False)
    caps: Capabilities = field(default_factory=Capabilities, repr=False)
    """What the model takes, parts and their limits included (checked by ``check_inputs``)."""
    messages: tuple[Message, ...] = field(default=(), repr=False)
    """The conversation, when the plan was explained for one (``ask.explain(prompt)``); shown as text
    with placeholders for parts."""
    answer_check: Callable[[Any], object] | None = field(default=None, repr=False)
    """Validates an answer value in the schema's shape, as the engine will (``OutputFormat.check``)."""
    deeper: Plan | None = field(default=None, repr=False)
    """Where the dialect cut recursion at a fixed depth: the plan a re-ask switches to, a forced tool
    with the recursive schema (``$ref``), not strict, so a deeper answer fits."""
    reminder: str | None = field(default=None, repr=False)
    """Where the shape is only stated in the prompt (no enforced schema, or a compatible server that may
    ignore it): the answer's form, restated at the end of the caller's last user message in each
    request, where a small model heeds it (the history the caller gets back is not changed)."""
    cache_key: str | None = field(default=None, repr=False)
    """Sent as ``Request.cache_key`` (``prompt_cache`` on): the same for every call of a command."""
    fallbacks: list[Plan] = field(default_factory=list["Plan"])
    """With a fallback chain (``model=[...]``), the plans of the models after this one, in order."""

    @property
    def label(self) -> str:
        """``provider:model`` as the ``model`` setting writes it (``fake`` for the fake model)."""
        return self.provider if self.model == self.provider else f"{self.provider}:{self.model}"

    @property
    def chain(self) -> list[str]:
        """The models tried, in order: this one, then each fallback."""
        return [self.label, *(p.label for p in self.fallbacks)]

    def check_inputs(self, messages: Sequence[Message]) -> None:
        """Refuse, before any request, a part this provider does not take or one above its limits.

        Raises:
            ConfigurationError: naming the provider, the part and what works instead.
        """
        caps, total = self.caps, 0
        for m in messages:
            for part in m.binary:
                kind = part.kind_sent
                if kind not in caps.parts:
                    instead = caps.advice(kind) or "Send it to a provider that takes it."
                    raise ConfigurationError(
                        f"{self.provider} does not take {NAMES[kind]} ({part.placeholder}). {instead}"
                    )
                total += part.size
                limit = caps.limit(part.kind)
                if limit is not None and part.size > limit.raw:
                    raise ConfigurationError(
                        f"{part.placeholder} is larger than {self.provider} accepts ({limit.says}). "
                        f"Send a smaller {part.kind}: compress or resize it, or split it."
                    )
        limit = caps.inline_limit
        if limit is not None and total > limit.raw:
            raise ConfigurationError(
                f"The parts of this conversation ({human_size(total)}) are more than {self.provider} accepts "
                f"in one request ({limit.says}). Send fewer or smaller parts."
            )

    def request(
        self, messages: Sequence[Message], *, finalize: bool = False, said: int | None = None
    ) -> Request:
        """The request for the next turn. *finalize*: ask for the answer, no more tool calls.

        *said*: how many of *messages* are the caller's (the rest are this call's own turns: tool
        results, re-asks); the reminder goes on the last of the caller's user messages, so a re-ask's
        feedback stays the last thing the model reads, and the prefix stays the same from turn to turn.
        """
        output = None
        tool_choice = "auto"
        if self.schema is not None and self.output_mode in ("native_strict", "native", "json_object"):
            name = (
                "react_step" if self.tool_mode == "react" else (self.output.name if self.output else "output")
            )
            output = OutputFormat(
                name,
                self.schema,
                self.output_mode,
                strict=self.output_mode == "native_strict",
                check=self.answer_check,
            )
        if self.output_mode == "tool":
            tool_choice = OUTPUT_TOOL if finalize or len(self.tools) == 1 else "required"
        elif finalize:
            tool_choice = "none"
        return Request(
            model=self.model,
            messages=_reminded(messages, self.reminder, said) if self.reminder else tuple(messages),
            system=self.system,
            tools=tuple(self.tools),
            tool_choice=tool_choice if self.tools else "auto",
            output=output,
            temperature=self.temperature,
            max_tokens=self.settings.max_tokens,
            extra=self.settings.extra,
            cache_key=self.cache_key,
        )

    def __str__(self) -> str:
        lines = [
            f"provider:    {self.provider}",
            f"model:       {self.model}",
            f"output mode: {self.output_mode}",
            f"tool mode:   {self.tool_mode}",
        ]
        if self.schema is not None:
            lines.append(f"schema:      {json.dumps(self.schema, indent=2)}".replace("\n", "\n             "))
        for spec in self.tools:
            lines.append(f"tool:        {spec.name}: {json.dumps(spec.parameters)}")
        taken = [SHORT[k] for k in SHORT if k in self.caps.parts]
        lines.append(f"inputs:      text, {', '.join(taken)}" if taken else "inputs:      text only")
        lines += [f"message:     {m.role}: {snippet(m.shown, 200)}" for m in self.messages]
        lines += [f"note:        {n}" for n in self.notes]
        if self.fallbacks:
            lines.insert(0, f"chain:       {' -> '.join(self.chain)}")
            for i, plan in enumerate(self.fallbacks, 1):
                lines.append(f"fallback {i}:")
                lines += [f"  {line}" for line in str(plan).splitlines()]
        return "\n".join(lines)


def _reminded(messages: Sequence[Message], reminder: str, said: int | None) -> tuple[Message, ...]:
    """*messages* with *reminder* at the end of the last user message of the first *said*."""
    out = list(messages)
    for i in range((len(out) if said is None else said) - 1, -1, -1):
        m = out[i]
        if m.role == "user":
            content = f"{m.content}\n\n{reminder}" if isinstance(m.content, str) else (*m.content, reminder)
            out[i] = dataclasses.replace(m, content=content)
            break
    return tuple(out)


@functools.cache
def _compiled(out: OutputType, dialect: SchemaDialect) -> Compiled:
    """Keyed by the ``OutputType`` object, which ``output_type`` caches per type and spelling."""
    return compile_schema(out.schema, dialect)


def build(
    output: Any,
    tools: Sequence[Tool[..., Any]],
    settings: Settings,
    ensures: Sequence[Contract] = (),
    name: str = "",
) -> Plan:
    """Decide how a call runs. *output* is the declared type (``str`` for text, ``None`` for none);
    *name* is the command's (it and the prefix make the prompt cache key).

    With a fallback chain in ``settings.model``, the plan of the first model, whose ``fallbacks``
    hold the others' (a model that cannot be planned is a note instead).

    Raises:
        ConfigurationError: unknown model or provider, missing SDK, a type Alloy cannot describe.
    """
    chain = models(settings.model)
    if len(chain) != 1:
        return _chain(output, tools, settings, ensures, chain, name)
    adapter, model = resolve(chain[0])
    caps = adapter.capabilities(model, settings)
    notes: list[str] = list(caps.notes)
    out = None if output is str or output is None else output_type(output)
    table = {t.name: t for t in tools}
    specs = [t.spec for t in tools]

    tool_mode: ToolMode = "none"
    if tools:
        if settings.tool_mode == "auto":
            tool_mode = "native" if caps.native_tools else "react"
            if tool_mode == "react":
                notes.append(f"{model} has no native tool calling: tools run through the ReAct loop")
        else:
            tool_mode = settings.tool_mode

    system_parts = [settings.system] if settings.system else []
    reminder: str | None = None
    schema: dict[str, Any] | None = None
    codec: Compiled | None = None
    output_mode: OutputMode = "text"
    sent_tools: list[ToolSpec] = specs if tool_mode == "native" else []
    tool_codecs: dict[str, Compiled] = {}
    if tool_mode == "native" and caps.strict_tools:
        sent_tools, tool_codecs = _strict_tools(specs, caps.schema_dialect)
        notes += [f"tool {name}: {n}" for name, c in tool_codecs.items() for n in c.notes]

    if tool_mode == "react":
        answer = out.schema if out else {"type": "string"}
        step = _react.step_schema(specs, answer)
        system_parts.append(_react.system_text(specs, answer))
        codec = compile_schema(step, caps.schema_dialect)
        output_mode, schema = _output_mode(caps, codec, notes)
    elif out is not None:
        codec = _compiled(out, caps.schema_dialect)
        output_mode, schema = _output_mode(caps, codec, notes)
        notes += codec.notes
    if schema is not None and (output_mode in ("prompt", "json_object") or caps.compatible_endpoint):
        if caps.compatible_endpoint and output_mode not in ("prompt", "json_object"):
            notes.append("compatible endpoint: the JSON shape is also stated in the system prompt")
        form = answer_form(schema)
        system_parts.append(
            "Answer with one JSON object, and nothing else, that follows this JSON schema:\n"
            + json.dumps(schema)
            + "\nThe answer has this form, with your values in place of each <...>:\n"
            + form
        )
        reminder = f"Reply with JSON only, in the form {form}"
    if output_mode == "tool" and schema is not None:
        sent_tools = [*sent_tools, ToolSpec(OUTPUT_TOOL, "Give the final answer with this tool.", schema)]

    temperature = settings.temperature
    if temperature is not None and not caps.temperature:
        log.debug("temperature=%s dropped: %s does not accept it", temperature, model)
        notes.append(f"temperature dropped: {model} does not accept it")
        temperature = None

    plan = Plan(
        provider=adapter.provider,
        model=model,
        output_mode=output_mode,
        tool_mode=tool_mode,
        schema=schema,
        tools=sent_tools,
        notes=notes,
        adapter=interposed(adapter),
        settings=settings,
        output=out,
        returns_none=output is None,
        codec=codec,
        tool_table=table,
        tool_codecs=tool_codecs,
        system="\n\n".join(system_parts) or None,
        reminder=reminder,
        ensures=list(ensures),
        temperature=temperature,
        caps=caps,
        answer_check=_checker(out, codec)
        if out is not None and codec is not None and tool_mode != "react"
        else None,
    )
    if settings.prompt_cache:
        plan.cache_key = _cache_key(name, plan)
    if out is not None and codec is not None and tool_mode != "react" and caps.native_tools:
        plan.deeper = _deeper(plan, out, codec)
    log.debug("plan for %s: output_mode=%s tool_mode=%s", type_name(output), output_mode, tool_mode)
    return plan


def _checker(out: OutputType, codec: Compiled) -> Callable[[Any], object]:
    return lambda value: out.validate(codec.decode(value))


def _deeper(plan: Plan, out: OutputType, codec: Compiled) -> Plan | None:
    """The forced-tool plan that keeps recursion, when *codec* inlined it to a fixed depth."""
    cut = next((m for n in codec.notes if (m := _CUT.search(n))), None)
    if cut is None:
        return None
    plain = compile_schema(out.schema, "plain")
    plan.notes.append(
        f"recursive type inlined {cut.group(1)} levels below the root for {plan.provider} (no $ref "
        "recursion there); an answer that fails "
        f"validation is asked again through a forced tool {OUTPUT_TOOL!r} with the recursive schema "
        "($ref, any depth), not strict"
    )
    tools = [t for t in plan.tools if t.name != OUTPUT_TOOL]
    spec = ToolSpec(OUTPUT_TOOL, "Give the final answer with this tool.", plain.schema)
    notes = [*plan.notes, f"forced tool {OUTPUT_TOOL!r} with the recursive schema, not strict"]
    return dataclasses.replace(
        plan,
        output_mode="tool",
        schema=plain.schema,
        codec=plain,
        tools=[*tools, spec],
        notes=notes,
        answer_check=_checker(out, plain),
        reminder=None,  # the answer comes through the tool, not as JSON text
    )


_CUT = re.compile(r"recursion at \S+ not supported by \w+: cut at depth (\d+)")


def _cache_key(name: str, plan: Plan) -> str:
    """The prompt cache key: a digest of the command's name and the request's stable prefix (system
    prompt, tool specs, schema), so a command keeps its key across calls and processes."""
    prefix = [name, plan.system, plan.schema, [(t.name, t.description, t.parameters) for t in plan.tools]]
    digest = hashlib.sha256(json.dumps(prefix, sort_keys=True, default=str).encode()).hexdigest()
    return f"alloy-{digest[:24]}"


def for_model(settings: Settings, model: str | Adapter) -> Settings:
    """*settings* with one model of its chain in place of the chain."""
    return settings if settings.model is model else settings.model_copy(update={"model": model})


def model_label(model: str | Adapter) -> str:
    """How a model of the ``model`` setting is named in notes and errors."""
    return model if isinstance(model, str) else f"{model.provider}:{model.name or type(model).__name__}"


def _chain(
    output: Any,
    tools: Sequence[Tool[..., Any]],
    settings: Settings,
    ensures: Sequence[Contract],
    chain: Sequence[str | Adapter],
    name: str,
) -> Plan:
    first = build(output, tools, for_model(settings, chain[0]), ensures, name)
    for model in chain[1:]:
        try:
            first.fallbacks.append(build(output, tools, for_model(settings, model), ensures, name))
        except ConfigurationError as exc:
            first.notes.append(f"fallback {model_label(model)} cannot be planned: {exc}")
    return first


def _strict_tools(
    specs: Sequence[ToolSpec], dialect: SchemaDialect
) -> tuple[list[ToolSpec], dict[str, Compiled]]:
    """Tool specs compiled strict where the dialect can express them (else sent as they are)."""
    sent: list[ToolSpec] = []
    codecs: dict[str, Compiled] = {}
    for spec in specs:
        compiled = _compiled_tool(spec.name, spec.parameters, dialect)
        if compiled.strict:
            sent.append(ToolSpec(spec.name, spec.description, compiled.schema, strict=True))
            codecs[spec.name] = compiled
        else:
            sent.append(spec)
    return sent, codecs


def _compiled_tool(name: str, parameters: dict[str, Any], dialect: SchemaDialect) -> Compiled:
    key = (name, json.dumps(parameters, sort_keys=True), dialect)
    if (hit := _tool_cache.get(key)) is None:
        hit = _tool_cache[key] = compile_schema(parameters, dialect)
    return hit


_tool_cache: dict[tuple[str, str, str], Compiled] = {}


def _output_mode(caps: Capabilities, codec: Compiled, notes: list[str]) -> tuple[OutputMode, dict[str, Any]]:
    mode: OutputMode = caps.output_mode
    if mode == "native_strict" and not codec.strict:
        mode = caps.nonstrict_output_mode
        if mode == "native":
            notes.append("schema sent non-strict: the type cannot be expressed in strict mode")
        else:
            notes.append(f"the type cannot be expressed in strict mode: output mode {mode} instead")
    return mode, codec.schema
