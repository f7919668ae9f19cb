"""Gemini's wire translation: ``generate_content``'s arguments for a ``Request``, and its answers read back.

The request is what ``models.generate_content`` takes, in the forms it handles cheapest (each
measured, and checked to put the same bytes on the wire as the typed form by
``tests/providers/test_gemini_lean.py``): ``contents`` as plain dicts of the SDK's field names,
which the SDK validates into its ``Content`` objects itself (one user text as a ready ``Content``),
and a ``GenerateContentConfig`` validated once per plan and settings, its system instruction a
``Content`` (the SDK would build one from the string on every call). The config and the one-text
``Content`` are ``lean`` types: subclasses of the SDK's that its request transform reads without
iterating them once per field it looks up (which is most of that transform's cost; see ``lean``).

google-genai has no public low-level request method (``BaseApiClient.request`` lives in the
private ``_api_client`` module, behind the private ``client._api_client``), so the SDK's request
transform stays (made cheaper by the lean types). Its response side has a public switch: a config with
``should_return_http_response=True`` makes ``generate_content`` return the answer's raw body
(``sdk_http_response.body``), same client, auth, errors and retries, without building its full
response objects. ``read`` validates that body in one ``model_validate_json`` into ``Answer``, a
pydantic model of just the fields Alloy reads, with the SDK's attribute names, so ``StreamState``
reads an ``Answer`` and the SDK's own ``GenerateContentResponse`` (streams, batch jobs) alike.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, cast

import pydantic
from google.genai import types
from pydantic.alias_generators import to_camel

from .._errors import ConfigurationError, ProviderError, malformed, snippet
from .._messages import Message, Request, Response, ToolCall, ToolCallDelta, Usage
from .._parts import Part
from . import StreamItem, ended_early

PROVIDER = "gemini"
CALL_ID_PREFIX = "gemini-call-"
# Google's documented stand-in for a lost signature: bytes whose base64 on the wire is this very word.
SKIP_SIGNATURE = base64.urlsafe_b64decode("skip_thought_signature_validator")
_FINISH = {"STOP": "stop", "MAX_TOKENS": "length"}
_BLOCKED = {
    "SAFETY": "Gemini's safety filters flagged it",
    "RECITATION": "it recited a source too closely",
    "PROHIBITED_CONTENT": "it may be prohibited content",
    "BLOCKLIST": "it contains a blocklisted term",
    "SPII": "it may contain sensitive personal information",
    "MODEL_ARMOR": "Model Armor blocked it",
}
_RESAMPLE = {"MALFORMED_FUNCTION_CALL", "UNEXPECTED_TOOL_CALL"}  # a new sample may well succeed
_GENERATION = re.compile(r"gemini-(\d+)")

Contents = list[dict[str, Any]]


def is_current(model: str) -> bool:
    """Gemini 3 or later, or a name without a generation (an alias): takes tools with a schema, and
    wants each function call's thought signature back."""
    m = _GENERATION.search(model)
    return m is None or int(m[1]) >= 3


# --- request --------------------------------------------------------------------------------------


def build_request(
    request: Request, signatures: Mapping[str, bytes] = {}, *, split: bool = False, raw: bool = False
) -> dict[str, Any]:
    """The keyword arguments of ``models.generate_content`` for *request* (pure; no I/O).

    Args:
        request: the neutral request.
        signatures: thought signatures of earlier function calls, by call id.
        split: send tools and the schema in separate turns whatever the model's generation.
        raw: ask for the answer's raw body (``should_return_http_response``), for ``read``; not
            for streams, which the SDK refuses it for.

    Raises:
        ConfigurationError: ``extra`` holds what ``GenerateContentConfig`` does not take.
    """
    out = request.output
    schema = out.schema if out is not None and out.mode in ("native", "native_strict") else None
    tools = bool(request.tools)
    if tools and schema is not None and (split or not is_current(request.model)):
        if request.tool_choice == "none":  # the answer turn; mode NONE means "as if no declarations"
            tools = False
        else:
            schema = None
    first = request.messages[0] if len(request.messages) == 1 else None
    if first is not None and first.role == "user" and isinstance(first.content, str) and first.content:
        contents: Contents | types.Content = _user_text(first.content)  # the cheapest form of one text
    else:
        contents = wire_contents(request.messages, signatures, sign=is_current(request.model))
    return {"model": request.model, "contents": contents, "config": _config(request, tools, schema)[raw]}


# Validated configs (as sent, and asking for the raw body) by the identity of the request's stable
# parts (the plan's schema, tool specs and ``extra`` are the same objects on every call); each entry
# holds those objects, so no id is reused while it lives. Bounded: cleared when full.
Configs = tuple[types.GenerateContentConfig, types.GenerateContentConfig]
_configs: dict[tuple[Any, ...], tuple[tuple[object, ...], Configs]] = {}
CACHE_KEPT = 256


def _config(request: Request, tools: bool, schema: dict[str, Any] | None) -> Configs:
    """The ``GenerateContentConfig`` for *request* and its raw-body twin, validated once per plan and settings."""
    held = (schema, request.extra, *request.tools) if tools else (schema, request.extra)
    key = (
        request.system,
        request.temperature,
        request.max_tokens,
        tools,
        request.tool_choice if tools else None,
        *map(id, held),
    )
    if (entry := _configs.get(key)) is not None:
        return entry[1]
    checked: types.GenerateContentConfig = lean(_validate_config(request, tools, schema))
    both = (checked, checked.model_copy(update={"should_return_http_response": True}))
    if len(_configs) >= CACHE_KEPT:
        _configs.clear()
    _configs[key] = (held, both)
    return both


def _validate_config(
    request: Request, tools: bool, schema: dict[str, Any] | None
) -> types.GenerateContentConfig:
    config: dict[str, Any] = {"automatic_function_calling": {"disable": True}}
    if request.system:  # as the SDK makes a Content of the string itself (on every call)
        config["system_instruction"] = types.Content(role="user", parts=[types.Part(text=request.system)])
    if request.temperature is not None:
        config["temperature"] = request.temperature
    if request.max_tokens is not None:
        config["max_output_tokens"] = request.max_tokens
    if tools:
        declarations = [
            {"name": t.name, "description": t.description, "parameters_json_schema": t.parameters}
            for t in request.tools
        ]
        config["tools"] = [{"function_declarations": declarations}]
        config["tool_config"] = {"function_calling_config": _calling(request.tool_choice)}
    if schema is not None:
        config |= {"response_mime_type": "application/json", "response_json_schema": schema}
    config.update(request.extra)
    try:
        return types.GenerateContentConfig.model_validate(config)
    except pydantic.ValidationError as exc:
        error = exc.errors(include_url=False, include_input=False)[0]
        raise ConfigurationError(
            f"extra (ALLOY_EXTRA) does not fit Gemini's GenerateContentConfig at "
            f"{'.'.join(map(str, error['loc']))}: {error['msg']}. Use its field names, "
            "e.g. extra={'thinking_config': {'thinking_budget': 0}}."
        ) from None


# The SDK's request transform looks up each field of the config (and of the ``Content``, ``Part``,
# ``FunctionDeclaration``... in it) with ``get_value_by_path``, which asks ``field in model`` before it falls back to
# ``getattr``. A pydantic model has no ``__contains__``, so Python answers by iterating the model:
# every (name, value) pair, for every field looked up, and the answer is always False (a pair is
# never a name). On a config of ~45 fields that walk is about 40% of ``generate_content``'s CPU. The
# cached config is made of lean subclasses of the SDK's types that give the same answer at once;
# nothing else about them differs, they are the SDK's types to every ``isinstance``, and their own
# validators are never built (they are made by ``model_construct`` from validated values), so the
# transform's output and the bytes on the wire stay the same (``tests/providers/test_gemini_lean.py``).

_lean_types: dict[type[pydantic.BaseModel], type[pydantic.BaseModel]] = {}


def _never(self: object, key: object) -> bool:
    return False  # what ``in`` finds in a pydantic model for a field name, without the walk


def lean_type(cls: type[pydantic.BaseModel]) -> type[pydantic.BaseModel]:
    """The lean subclass of the SDK type *cls* (made once)."""
    if (sub := _lean_types.get(cls)) is None:
        doc = f"A ``{cls.__name__}`` the SDK's request transform reads without walking it per field."
        namespace = {"__contains__": _never, "__doc__": doc, "__module__": __name__}
        sub = _lean_types[cls] = type(cls.__name__, (cls,), namespace)
    return sub


def lean(value: Any) -> Any:
    """*value* (validated) with every SDK model in it, nested ones and those in lists included, as
    an instance of its lean type: the same fields set, the same values, not validated again."""
    if isinstance(value, list):
        return [lean(v) for v in cast("list[Any]", value)]
    if not isinstance(value, pydantic.BaseModel) or type(value).__module__ != types.__name__:
        return value
    fields = value.model_fields_set
    values = {f: lean(getattr(value, f)) for f in fields}
    if type(value) is types.Tool:  # the SDK reads a Tool's declarations into a Tool of its own
        return value.model_copy(update=values)
    return lean_type(type(value)).model_construct(fields, **values)


def _user_text(text: str) -> types.Content:
    """One user text as a lean ``Content``: what the SDK makes of the string itself, unwalked."""
    part = lean_type(types.Part).model_construct({"text"}, text=text)
    return cast(
        types.Content, lean_type(types.Content).model_construct({"role", "parts"}, role="user", parts=[part])
    )


def _calling(choice: str) -> dict[str, Any]:
    if choice in ("auto", "none"):
        return {"mode": choice.upper()}
    return {"mode": "ANY"} | ({} if choice == "required" else {"allowed_function_names": [choice]})


def wire_contents(
    messages: Sequence[Message], signatures: Mapping[str, bytes] = {}, *, sign: bool = True
) -> Contents:
    """Neutral messages as contents of roles ``user`` and ``model`` (dicts of ``types.Content`` fields).

    The results of one tool turn go back as ``function_response`` parts of ONE user content, in
    order. Each call carries its thought signature; with *sign*, the first call of a turn whose
    signatures are all lost carries Google's stand-in, so Gemini 3 still accepts the history.
    """
    contents: Contents = []
    results: list[dict[str, Any]] = []
    for m in messages:
        if m.role == "tool":
            response = {"name": m.name, "response": _result(m)}
            results.append({"function_response": _with_id(response, m.tool_call_id)})
            continue
        if results:
            contents.append({"role": "user", "parts": results})
            results = []
        if m.role == "user" and not isinstance(m.content, str):
            parts = [_part(p) for p in m.content]
        else:
            parts: list[dict[str, Any]] = [{"text": m.text}] if m.text or m.role == "user" else []
        known = [signatures.get(c.id) for c in m.tool_calls]
        if sign and known and not any(known):
            known[0] = SKIP_SIGNATURE
        for c, signature in zip(m.tool_calls, known, strict=True):
            part: dict[str, Any] = {"function_call": _with_id({"name": c.name, "args": c.arguments}, c.id)}
            parts.append(part | ({"thought_signature": signature} if signature else {}))
        if parts:  # an empty answer being re-asked has nothing to send
            contents.append({"role": "user" if m.role == "user" else "model", "parts": parts})
    if results:
        contents.append({"role": "user", "parts": results})
    return contents


def _part(p: Part) -> dict[str, Any]:
    """A user part: text, ``inline_data`` (bytes, base64 on the wire) or ``file_data`` (a URL)."""
    if isinstance(p, str):
        return {"text": p}
    if p.url is not None:
        return {"file_data": {"file_uri": p.url, "mime_type": p.media_type}}
    return {"inline_data": {"mime_type": p.media_type, "data": p.data}}


def _with_id(fields: dict[str, Any], call_id: str) -> dict[str, Any]:
    """*fields* with the call id Gemini gave; none for one the adapter made up."""
    return fields if not call_id or call_id.startswith(CALL_ID_PREFIX) else {"id": call_id} | fields


def _result(m: Message) -> dict[str, Any]:
    """A tool result as the JSON object ``function_response`` takes."""
    if m.is_error:
        return {"error": m.text}
    try:
        value: Any = json.loads(m.text)
    except ValueError:
        value = m.text
    return cast("dict[str, Any]", value) if isinstance(value, dict) else {"result": value}


# --- the answer: the fields Alloy reads ---------------------------------------------------------


class _Fields(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="ignore",
        # bytes (thought signatures, continuation tokens) are base64 in JSON, as the SDK has them
        ser_json_bytes="base64",
        val_json_bytes="base64",
        defer_build=True,  # built at the first answer, not when the adapter loads
    )


class FunctionCall(_Fields):
    id: str | None = None
    name: str | None = None
    args: dict[str, Any] | None = None


class AnswerPart(_Fields):
    text: str | None = None
    thought: bool | None = None
    thought_signature: bytes | None = None
    function_call: FunctionCall | None = None


class AnswerContent(_Fields):
    parts: list[AnswerPart] | None = None
    role: str | None = None


class SafetyRating(_Fields):
    """The SDK's ``SafetyRating`` field for field, for the body of a blocked answer's error; a field
    it does not know is dropped, as the SDK drops it."""

    blocked: bool | None = None
    category: types.HarmCategory | None = None
    overwritten_threshold: types.HarmBlockThreshold | None = None
    probability: types.HarmProbability | None = None
    probability_score: float | None = None
    severity: types.HarmSeverity | None = None
    severity_score: float | None = None


class Candidate(_Fields):
    content: AnswerContent | None = None
    finish_reason: types.FinishReason | None = None
    finish_message: str | None = None
    index: int | None = None
    safety_ratings: list[SafetyRating] | None = None
    continuation_token: bytes | None = None


class PromptFeedback(_Fields):
    block_reason: types.BlockedReason | None = None
    block_reason_message: str | None = None
    safety_ratings: list[SafetyRating] | None = None


class UsageMetadata(_Fields):
    prompt_token_count: int | None = None
    candidates_token_count: int | None = None
    thoughts_token_count: int | None = None
    cached_content_token_count: int | None = None


class Answer(_Fields):
    """A ``GenerateContentResponse`` as Gemini sends it, down to what Alloy reads."""

    candidates: list[Candidate] | None = None
    prompt_feedback: PromptFeedback | None = None
    usage_metadata: UsageMetadata | None = None
    model_version: str | None = None


def read(raw: types.GenerateContentResponse) -> Answer | types.GenerateContentResponse:
    """The answer in *raw*: its raw body read into an ``Answer``, or the SDK's object if it built one.

    Raises:
        ProviderError: (retryable) the body is not JSON, or not the shape Gemini answers with.
    """
    body = raw.sdk_http_response.body if raw.sdk_http_response is not None else None
    if body is None:
        return raw
    try:
        return Answer.model_validate_json(body or "{}")
    except pydantic.ValidationError as exc:
        raise malformed(PROVIDER, exc) from exc


def then(
    state: StreamState, kwargs: dict[str, Any], raw: types.GenerateContentResponse
) -> dict[str, Any] | None:
    """*state* fed with the whole answer *raw* to a request of *kwargs*; the request for the rest of it
    when it was cut at the per-request token limit (finish reason ``CONTINUATION`` and a continuation
    token, followed as the SDK's ``generate_content`` follows it, unless ``automatic_continuation`` is
    off), else ``None``.

    Raises:
        ProviderError: as ``read`` and ``StreamState.whole``.
    """
    answer = read(raw)
    state.whole(answer)
    config: types.GenerateContentConfig = kwargs["config"]
    if config.automatic_continuation is False or not answer.candidates:
        return None
    candidate = answer.candidates[0]
    token = candidate.continuation_token
    if not token or candidate.finish_reason not in (None, types.FinishReason.CONTINUATION):
        return None
    return kwargs | {"config": config.model_copy(update={"continuation_token": token})}


def parse_response(
    raw: Answer | types.GenerateContentResponse, signatures: dict[str, bytes] | None = None
) -> Response:
    """A whole answer (an ``Answer`` or the SDK's object) as a neutral ``Response`` (its first candidate).

    Args:
        raw: the answer.
        signatures: filled with the thought signature of each function call, by call id.

    Raises:
        ProviderError: Gemini blocked the prompt or the answer (not retryable: the same content
            would be blocked again), or produced an invalid function call (retryable).
    """
    state = StreamState()
    state.feed(raw)
    if signatures is not None:
        signatures.update(state.signatures)
    return state.result()


class StreamState:
    """The chunks of one answer (a whole answer is one chunk): ``feed`` each, then ``result()``."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.calls: list[ToolCall] = []
        self.signatures: dict[str, bytes] = {}
        self.usage = Usage()
        self.earlier = Usage()  # the usage of earlier requests of a continued answer
        self.finish: str | None = None
        self.model: str | None = None

    def feed(self, chunk: Answer | types.GenerateContentResponse) -> list[StreamItem]:
        """Take one chunk; the deltas it adds (text, and each function call's arguments whole).

        Raises:
            ProviderError: as ``parse_response``.
        """
        if (u := chunk.usage_metadata) is not None:  # a running total; thinking is billed as output
            output = (u.candidates_token_count or 0) + (u.thoughts_token_count or 0)
            # cached_content_token_count is the part of the prompt read from the cache.
            usage = Usage(u.prompt_token_count or 0, output, 0, u.cached_content_token_count or 0)
            self.usage = self.earlier + usage
        self.model = chunk.model_version or self.model
        if not chunk.candidates:
            if (feedback := chunk.prompt_feedback) is not None and feedback.block_reason is not None:
                why = f": {feedback.block_reason_message}" if feedback.block_reason_message else ""
                raise _blocked(
                    f"Gemini blocked the prompt (block reason {feedback.block_reason.value}{why}).", feedback
                )
            return []
        candidate = chunk.candidates[0]
        delta = ""
        out: list[StreamItem] = []
        for part in (candidate.content.parts if candidate.content else None) or ():
            if (fc := part.function_call) is not None:
                call = ToolCall(
                    fc.name or "", dict(fc.args or {}), fc.id or CALL_ID_PREFIX + uuid.uuid4().hex[:16]
                )
                out.append(ToolCallDelta(len(self.calls), call.name, json.dumps(call.arguments)))
                self.calls.append(call)
                if part.thought_signature:
                    self.signatures[call.id] = part.thought_signature
            elif part.text and not part.thought:  # a thought summary is not the answer
                delta += part.text
        if candidate.finish_reason is not None:
            self._finish(candidate, candidate.finish_reason.value)
        self.texts.append(delta)
        return [delta, *out] if delta else out

    def _finish(self, candidate: Candidate | types.Candidate, reason: str) -> None:
        why = f": {snippet(candidate.finish_message, 300)}" if candidate.finish_message else ""
        if reason in _BLOCKED:
            raise _blocked(
                f"Gemini blocked the answer (finish reason {reason}: {_BLOCKED[reason]}){why}. Rephrase the "
                "prompt, or pass extra={'safety_settings': [...]} where a safety threshold applies.",
                candidate,
            )
        if reason in _RESAMPLE:
            message = f"Gemini produced an invalid function call (finish reason {reason}){why}."
            raise ProviderError(message, provider=PROVIDER, retryable=True)
        self.finish = _FINISH.get(reason, reason.lower())

    def whole(self, answer: Answer | types.GenerateContentResponse) -> None:
        """Take a whole (not streamed) answer, which holds a candidate unless blocked; a continued
        answer's next part adds its usage to the earlier parts'.

        Raises:
            ProviderError: blocked (as ``parse_response``), or no candidate at all (retryable).
        """
        self.earlier = self.usage
        self.feed(answer)
        if not answer.candidates:
            raise malformed(PROVIDER, "an answer without candidates")

    def ended(self) -> None:
        """Raise unless a candidate with a finish reason arrived: a stream cut short is no answer.

        Raises:
            ProviderError: (retryable) the stream ended before Gemini's final candidate.
        """
        if self.finish is None:
            raise ended_early(PROVIDER, "a candidate with a finish reason")

    def result(self) -> Response:
        """The whole answer: the joined text, tool calls, the last usage total, the finish reason."""
        finish = "tool_calls" if self.calls and self.finish == "stop" else self.finish
        return Response("".join(self.texts), tuple(self.calls), self.usage, finish, self.model)


def _blocked(message: str, detail: pydantic.BaseModel) -> ProviderError:
    return ProviderError(message, provider=PROVIDER, body=detail.model_dump(mode="json", exclude_none=True))
