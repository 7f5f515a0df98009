"""GeoReport v2 wire formats: XML (required; no namespace, UTF-8 declared) and JSON (Spark).

An answer is built once as plain values (str, int, float, bool, None, lists and dicts) and
written in either format. JSON follows the Spark convention of the specification: a list root
(``<services><service>…``) becomes an array of objects; a single root (``<service_definition>``)
becomes one object. Nested lists are named by ``ITEM_NAMES`` in XML (``<attributes><attribute>``).
Errors have their own shape: ``<errors><error><code/><description/></error></errors>`` or a JSON
array of ``{code, description}``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from xml.etree import ElementTree as ET

from fastapi import Response

XML = "xml"
JSON = "json"
MEDIA_TYPES = {XML: "text/xml; charset=utf-8", JSON: "application/json; charset=utf-8"}
XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'
#: The XML name of one item of each list-valued field.
ITEM_NAMES = {
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
}
# Characters XML 1.0 cannot carry at all (a description may hold any of them).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

Value = str | int | float | bool | None | list[Any] | dict[str, Any]


@dataclass(frozen=True)
class SpecError(Exception):
    """An error answered in the specification's format: 400, 403 or 404 (or a 5xx outage)."""

    status: int
    description: str

    def __str__(self) -> str:
        return f"{self.status} {self.description}"


def parse_format(suffix: str) -> str:
    """``xml`` or ``json`` from a path suffix; other suffixes are a 400 (answered in XML)."""
    fmt = suffix.lower()
    if fmt not in MEDIA_TYPES:
        raise SpecError(400, f"Format '{suffix}' is not served; use .xml or .json")
    return fmt


def list_answer(fmt: str, root: str, item: str, rows: list[dict[str, Value]]) -> Response:
    """A list root: ``<root><item>…</item>…</root>`` or a JSON array."""
    if fmt == JSON:
        return _json(rows)
    element = ET.Element(root)
    for row in rows:
        _fill(ET.SubElement(element, item), row)
    return _xml(element)


def object_answer(fmt: str, root: str, body: dict[str, Value]) -> Response:
    """A single root: ``<root>…</root>`` or a JSON object."""
    if fmt == JSON:
        return _json(body)
    element = ET.Element(root)
    _fill(element, body)
    return _xml(element)


def error_answer(fmt: str, errors: list[SpecError]) -> Response:
    """The specification's error list; the HTTP status is the first error's."""
    rows: list[dict[str, Value]] = [
        {"code": e.status, "description": e.description} for e in errors
    ]
    response = list_answer(fmt, "errors", "error", rows)
    response.status_code = errors[0].status
    return response


def xml_text(value: Value) -> str:
    """One scalar as XML text: ``true``/``false``, numbers as written, None as empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return _NOT_XML.sub("", str(value))


def _fill(element: ET.Element, body: dict[str, Value]) -> None:
    for key, value in body.items():
        child = ET.SubElement(element, key)
        if isinstance(value, list):
            name = ITEM_NAMES.get(key, "item")
            for item in value:
                grandchild = ET.SubElement(child, name)
                if isinstance(item, dict):
                    _fill(grandchild, item)
                else:
                    grandchild.text = xml_text(item)
        elif isinstance(value, dict):
            _fill(child, value)
        else:
            child.text = xml_text(value)


def _xml(element: ET.Element) -> Response:
    body = XML_DECLARATION + ET.tostring(element, encoding="unicode")
    return Response(body.encode("utf-8"), media_type=MEDIA_TYPES[XML])


def _json(body: Value) -> Response:
    text = json.dumps(body, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return Response(text.encode("utf-8"), media_type=MEDIA_TYPES[JSON])
