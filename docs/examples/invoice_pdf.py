"""Read a typed invoice from a PDF, keep the conversation as JSON, and go on with it.

The example writes its own small PDF (a few hundred bytes) and runs offline: a ScriptedModel stands
in for the provider. Swap it for model="openai:gpt-5-mini", "anthropic:claude-sonnet-4-5" or
"gemini:gemini-2.5-flash" to read the PDF for real.
"""

import tempfile
from pathlib import Path

import pydantic

from alloy import ConfigurationError, Document, Message, Prompt, ask, command, override
from alloy.testing import ScriptedModel


def small_pdf(text: str) -> bytes:
    """A one-page PDF showing *text* (objects, cross-reference table and trailer, by hand)."""
    stream = f"BT /F1 18 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


class Invoice(pydantic.BaseModel):
    number: str
    total: float
    currency: str


@command(output=Invoice)
def read_invoice(scan: Document) -> Prompt:
    return ["Extract the invoice from this PDF.", scan]


with tempfile.TemporaryDirectory() as folder:
    path = Path(folder) / "invoice.pdf"
    path.write_bytes(small_pdf("Invoice INV-42   Total: 99.50 EUR"))
    scan = Document.from_path(path)  # the media type comes from the bytes: application/pdf

model = ScriptedModel(['{"number": "INV-42", "total": 99.5, "currency": "EUR"}', "It was issued in euros."])
with override(model=model):
    result = read_invoice.run(scan)
print(result.output)
print("the model received:", model.requests[0].messages[0])  # parts show as placeholders, never bytes

# The conversation persists as JSON (the PDF as base64) and comes back equal.
history = pydantic.TypeAdapter(list[Message])
stored = history.dump_json(result.messages)
restored = history.validate_json(stored)
print("restored equal:", restored == result.messages)

# ... and goes on, here or on another provider.
with override(model=model):
    print(ask([*restored, Message.user("Which currency is it in?")]))

# A provider that cannot read PDFs says so before anything is sent.
try:
    ask(["Extract the invoice.", scan], model="ollama:llama3.2")
except ConfigurationError as exc:
    print("ollama:", exc)
