"""How a small model without a grammar answers, by the way the prompt states the expected shape.

    scripts/local-llm.sh start
    ALLOY_TEST_LOCAL_LLM_URL=$(scripts/local-llm.sh url) .venv/bin/python benchmarks/prompt_shape.py

Fifteen extractions (five each of a float, a dataclass and a list of models) against the local
model tier's llama-server (SmolLM2-135M-Instruct), temperature 0. Each answer counts as *valid*
when Alloy's own parser accepts it and as *right* when it holds the values in the text.

- The prompt variants (``--variants``) send hand-built messages to ``/v1/chat/completions``
  without ``response_format``: what the model sees on ``/v1/responses`` and ``/v1/messages``,
  where llama-server ignores the schema (the same chat template renders all three). ``grammar``
  sends the schema as ``response_format`` (a grammar), for reference.
- ``alloy`` runs the same extractions through Alloy itself on the Responses and Messages routes,
  one request each (``retry=0``): the prompt as Alloy sends it today.

Results and reading: docs/local-models.md ("The shape in the prompt, measured").
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import dataclass
from typing import Any

import httpx
import pydantic

import alloy
from alloy._form import answer_form


@dataclass
class Person:
    name: str
    age: int


class Item(pydantic.BaseModel):
    name: str
    quantity: int


def right_number(value: float, want: float) -> bool:
    return value == want


def right_person(value: Person, want: tuple[str, int]) -> bool:
    return value.name.strip().lower().endswith(want[0].lower()) and value.age == want[1]


def right_items(value: list[Item], want: dict[str, int]) -> bool:
    got = {i.name.strip().lower().removesuffix("s"): i.quantity for i in value}
    return got == want


# (output type, prompt, the example instance Alloy 0.8.0 showed, right?, [(text, expected)])
CASES: list[tuple[Any, str, Any, Any, list[tuple[str, Any]]]] = [
    (
        float,
        "Extract the number: '{}'",
        {"value": 1.0},
        right_number,
        [
            ("The price is 12.5 dollars", 12.5),
            ("It weighs 7 kilograms", 7),
            ("The temperature was 21.5 degrees", 21.5),
            ("She ran 42 kilometres", 42),
            ("The fee is 3 euros", 3),
        ],
    ),
    (
        Person,
        "Extract the person: '{}'",
        {"name": "text", "age": 1},
        right_person,
        [
            ("Alice is 30 years old.", ("Alice", 30)),
            ("Bob, aged 45, lives in Paris.", ("Bob", 45)),
            ("My grandmother Rose is 81.", ("Rose", 81)),
            ("Tom turned 12 yesterday.", ("Tom", 12)),
            ("Dr. Lee is 52 years old.", ("Lee", 52)),
        ],
    ),
    (
        list[Item],
        "Extract the items: '{}'",
        {"value": [{"name": "text", "quantity": 1}]},
        right_items,
        [
            ("I bought 2 apples and 3 pears.", {"apple": 2, "pear": 3}),
            ("We need 4 eggs and 1 milk.", {"egg": 4, "milk": 1}),
            ("She sold 10 books.", {"book": 10}),
            ("Order: 3 pens, 2 pencils.", {"pen": 3, "pencil": 2}),
            ("He ate 5 grapes and 1 banana.", {"grape": 5, "banana": 1}),
        ],
    ),
]

STATE = "Answer with one JSON object, and nothing else, that follows this JSON schema:\n"
VARIANTS = {
    # what the system prompt said, and whether the last user message restates the form
    "schema": "the schema alone (before 0.8.0)",
    "schema+instance": "the schema and an example instance (0.8.0 on its way)",
    "schema+form": "the schema and the form, system prompt only",
    "schema+form+reminder": "the schema and the form, restated in the user turn (Alloy now)",
    "grammar": "a grammar (response_format), schema and instance in the system prompt",
    "grammar+reminder": "a grammar, schema and form, restated in the user turn",
}


def command_for(tp: Any) -> Any:
    @alloy.command(output=tp, model="openai:local", openai_base_url="http://127.0.0.1:1/v1")
    def extract(text: str) -> str:
        return text

    return extract


def messages(variant: str, schema: dict[str, Any], instance: Any, prompt: str) -> list[dict[str, str]]:
    form = answer_form(schema)
    if variant in ("schema+instance", "grammar"):
        system = (
            STATE + json.dumps(schema) + "\nAn example of an answer of that shape (your values, not these; "
            "never the schema itself):\n" + json.dumps(instance)
        )
    elif variant == "schema":
        system = STATE + json.dumps(schema)
    else:
        system = (
            STATE
            + json.dumps(schema)
            + "\nThe answer has this form, with your values in place of each <...>:\n"
            + form
        )
    user = f"{prompt}\n\nReply with JSON only, in the form {form}" if variant.endswith("reminder") else prompt
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def run_variant(url: str, variant: str) -> tuple[int, int, int]:
    valid = right = total = 0
    for tp, template, instance, is_right, texts in CASES:
        cmd = command_for(tp)
        plan = cmd.explain()
        for text, want in texts:
            body: dict[str, Any] = {
                "model": "local",
                "temperature": 0,
                "max_tokens": 120,
                "messages": messages(variant, plan.schema, instance, template.format(text)),
            }
            if variant.startswith("grammar"):
                body["response_format"] = {
                    "type": "json_schema",
                    "json_schema": {"name": "x", "schema": plan.schema},
                }
            answer = httpx.post(f"{url}/v1/chat/completions", json=body, timeout=300).json()
            content = answer["choices"][0]["message"]["content"] or ""
            total += 1
            try:
                value = plan.output.parse(content, plan.codec.decode)
            except ValueError:  # pydantic's ValidationError is a ValueError
                continue
            valid += 1
            right += bool(is_right(value, want))
    return valid, right, total


def run_alloy(url: str, route: str, alias: str) -> tuple[int, int, int]:
    valid = right = total = 0
    where: dict[str, Any] = (
        {"model": f"anthropic:{alias}", "anthropic_base_url": url, "anthropic_api_key": "sk-local"}
        if route == "anthropic"
        else {
            "model": f"openai:{alias}",
            "openai_base_url": f"{url}/v1",
            "openai_api_key": "sk-local",
            "openai_api": route,
        }
    )
    with alloy.override(**where, temperature=0.0, max_tokens=120, retry=0, timeout=300):
        for tp, template, _, is_right, texts in CASES:

            @alloy.command(output=tp)
            def extract(text: str, template: str = template) -> str:
                return template.format(text)

            for text, want in texts:
                total += 1
                try:
                    value = extract(text)
                except alloy.CommandError:
                    continue
                valid += 1
                right += bool(is_right(value, want))
    return valid, right, total


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--url", default=os.environ.get("ALLOY_TEST_LOCAL_LLM_URL", ""))
    parser.add_argument("--variants", default=",".join([*VARIANTS, "alloy"]))
    args = parser.parse_args()
    if not args.url:
        raise SystemExit(
            "no server: start one with scripts/local-llm.sh start and pass --url or ALLOY_TEST_LOCAL_LLM_URL"
        )
    url = args.url.rstrip("/")
    alias = str(httpx.get(f"{url}/v1/models", timeout=10).json()["data"][0]["id"])
    print("| how the shape is stated | valid | right |\n| --- | --- | --- |")
    for variant in args.variants.split(","):
        if variant == "alloy":
            for route in ("responses", "anthropic"):
                valid, right, total = run_alloy(url, route, alias)
                print(
                    f"| Alloy, `{route}` route, one request | {valid} of {total} | {right} of {total} |",
                    flush=True,
                )
            continue
        valid, right, total = run_variant(url, variant)
        print(f"| {VARIANTS[variant]} | {valid} of {total} | {right} of {total} |", flush=True)


if __name__ == "__main__":
    main()
