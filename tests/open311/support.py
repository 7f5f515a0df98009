"""Checks every Open311 answer must pass: the official JSON Schemas, and XML as the spec says."""

from __future__ import annotations

import io
import json
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from xml.etree import ElementTree as ET

import httpx
from jsonschema import Draft7Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

SCHEMAS = Path(__file__).parent / "schemas"
XML_TYPE = "text/xml; charset=utf-8"
JSON_TYPE = "application/json; charset=utf-8"

FORMATS = FormatChecker(formats=())


@FORMATS.checks("date-time", raises=ValueError)
def _date_time(value: object) -> bool:
    """RFC 3339 / W3C: a date, a time and a zone (``Z`` or an offset)."""
    if not isinstance(value, str):
        return True
    parsed = datetime.fromisoformat(value)
    return "T" in value and parsed.tzinfo is not None


@FORMATS.checks("uri")
def _uri(value: object) -> bool:
    if not isinstance(value, str):
        return True
    parts = urlsplit(value)
    return bool(parts.scheme in ("http", "https") and parts.netloc)


def _load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SCHEMAS / name).read_text("utf-8"))
    return data


@cache
def _registry() -> Registry:
    resources = [
        (name, Resource.from_contents(_load(name), default_specification=DRAFT7))
        for name in ("request.json", "service.json")
    ]
    return Registry().with_resources(resources)


@cache
def _swagger_definitions() -> dict[str, Any]:
    definitions: dict[str, Any] = _load("swagger.json")["definitions"]
    return definitions


def validator(schema_name: str) -> Draft7Validator:
    """A validator of one official schema file (or ``swagger:<Definition>[]`` for an array)."""
    if schema_name.startswith("swagger:"):
        definition = schema_name.removeprefix("swagger:").removesuffix("[]")
        schema: dict[str, Any] = {
            "type": "array",
            "minItems": 1,
            "items": {"$ref": f"#/definitions/{definition}"},
            "definitions": _swagger_definitions(),
        }
    else:
        schema = _load(schema_name)
    return Draft7Validator(schema, registry=_registry(), format_checker=FORMATS)


def valid_json(response: httpx.Response, schema_name: str) -> Any:
    """The JSON body after checking the content type and every schema error (none allowed)."""
    assert response.headers["content-type"] == JSON_TYPE, response.headers["content-type"]
    body = response.json()
    errors = sorted(validator(schema_name).iter_errors(body), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors]
    return body


def valid_xml(response: httpx.Response, root: str) -> ET.Element:
    """The parsed XML after checking: UTF-8 declared, no namespace anywhere, the expected root."""
    assert response.headers["content-type"] == XML_TYPE, response.headers["content-type"]
    raw = response.content
    assert raw.startswith(b'<?xml version="1.0" encoding="UTF-8"?>'), raw[:60]
    raw.decode("utf-8")  # strictly UTF-8
    tree = ET.parse(io.BytesIO(raw))  # well-formed (our own answer, not untrusted input)
    element = tree.getroot()
    assert b"xmlns" not in raw
    for node in element.iter():
        assert not node.tag.startswith("{"), node.tag
    assert element.tag == root, element.tag
    return element


def xml_items(element: ET.Element) -> list[dict[str, str]]:
    """The children of a list root as flat dicts of their text."""
    return [{child.tag: child.text or "" for child in item} for item in element]


def spec_errors(response: httpx.Response, status: int, fmt: str = "xml") -> list[dict[str, Any]]:
    """The specification's error list, after checking the status and the shape."""
    assert response.status_code == status, (response.status_code, response.text)
    if fmt == "json":
        assert response.headers["content-type"] == JSON_TYPE
        body: list[dict[str, Any]] = response.json()
        assert body and all(set(e) == {"code", "description"} for e in body), body
        assert all(isinstance(e["code"], int) and e["description"] for e in body)
        return body
    root = valid_xml(response, "errors")
    items = xml_items(root)
    assert items and all(set(e) == {"code", "description"} for e in items), items
    assert all(e["code"].isdigit() and e["description"] for e in items)
    return [{"code": int(e["code"]), "description": e["description"]} for e in items]
