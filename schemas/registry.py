"""Loading the ``.avsc`` files: current schemas, released versions, fingerprints.

``avro/cn.hotline.events.<Name>.avsc`` hold one named type each and refer to others by full
name; :func:`expand` inlines those references (first use in full, later uses by name), which is
the form fastavro and the canonical form need. ``avro/history/<full name>.v<N>.avsc`` hold the
expanded schema of every released version, frozen; :func:`freeze` adds the current one when it
changed. Run ``python -m hotline.schemas.registry check|freeze``.
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from fastavro.schema import fingerprint as _fastavro_fingerprint
from fastavro.schema import to_parsing_canonical_form

AVRO_DIR = Path(__file__).resolve().parent / "avro"
HISTORY_DIR = AVRO_DIR / "history"
_PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})
_HISTORY_NAME = re.compile(r"^(?P<name>.+)\.v(?P<version>[0-9]+)\.avsc$")

Schema = dict[str, Any]


@dataclass(frozen=True)
class Released:
    """One frozen version of a record schema."""

    full_name: str
    version: int
    schema: Schema
    fingerprint: bytes


def full_name(schema: Schema) -> str:
    """``namespace.name`` of a named schema."""
    name = schema["name"]
    namespace = schema.get("namespace")
    return name if "." in name or not namespace else f"{namespace}.{name}"


def fingerprint(schema: Schema) -> bytes:
    """The 8-byte little-endian CRC-64-AVRO (Rabin) fingerprint of the canonical form."""
    return bytes.fromhex(_fastavro_fingerprint(to_parsing_canonical_form(schema), "CRC-64-AVRO"))


def load_library(directory: Path = AVRO_DIR) -> dict[str, Schema]:
    """Every named type defined in ``directory/*.avsc``, by full name."""
    library: dict[str, Schema] = {}
    for path in sorted(directory.glob("*.avsc")):
        schema = json.loads(path.read_text(encoding="utf-8"))
        name = full_name(schema)
        if path.name != f"{name}.avsc":
            raise ValueError(f"{path} defines {name}; the file must be named {name}.avsc")
        library[name] = schema
    return library


def expand(schema: Schema, library: dict[str, Schema]) -> Schema:
    """``schema`` with every by-name reference to a library type inlined once."""
    seen: set[str] = set()

    def walk(node: Any, namespace: str | None) -> Any:
        if isinstance(node, str):
            if node in _PRIMITIVES:
                return node
            name = node if "." in node or namespace is None else f"{namespace}.{node}"
            if name in seen:
                return name
            if name not in library:
                raise ValueError(f"unknown Avro type {name!r}")
            return walk(library[name], namespace)
        if isinstance(node, list):
            return [walk(branch, namespace) for branch in node]
        if not isinstance(node, dict):
            raise ValueError(f"not an Avro schema: {node!r}")
        if node.get("type") in ("record", "enum", "fixed", "error"):
            name = full_name(node)
            seen.add(name)
            namespace = name.rpartition(".")[0] or None
            node = {**node, "name": name}
            node.pop("namespace", None)
        if "fields" in node:
            fields = [{**f, "type": walk(f["type"], namespace)} for f in node["fields"]]
            node = {**node, "fields": fields}
        elif node.get("type") in ("array",):
            node = {**node, "items": walk(node["items"], namespace)}
        elif node.get("type") in ("map",):
            node = {**node, "values": walk(node["values"], namespace)}
        return node

    return walk(schema, None)


@cache
def current_schemas() -> dict[str, Schema]:
    """The expanded current schema of every record type, by dotted record type."""
    library = load_library()
    schemas: dict[str, Schema] = {}
    for schema in library.values():
        record_type = schema.get("hotline.record_type")
        if record_type is not None:
            schemas[record_type] = expand(schema, library)
    return schemas


def released(directory: Path = HISTORY_DIR) -> Iterator[Released]:
    """Every frozen version under ``directory``."""
    for path in sorted(directory.glob("*.avsc")):
        match = _HISTORY_NAME.match(path.name)
        if match is None:
            raise ValueError(f"{path.name} is not named <full name>.v<N>.avsc")
        schema = json.loads(path.read_text(encoding="utf-8"))
        if full_name(schema) != match["name"]:
            raise ValueError(f"{path} holds {full_name(schema)}, not {match['name']}")
        yield Released(match["name"], int(match["version"]), schema, fingerprint(schema))


@cache
def history_schemas() -> tuple[Schema, ...]:
    """The expanded schema of every released version (the writer schemas we can read)."""
    return tuple(item.schema for item in released())


def unfrozen(directory: Path = HISTORY_DIR) -> list[str]:
    """Record types whose current schema is not yet frozen under ``directory``."""
    frozen = {item.fingerprint for item in released(directory)}
    return [rt for rt, s in current_schemas().items() if fingerprint(s) not in frozen]


def freeze(directory: Path = HISTORY_DIR) -> list[Path]:
    """Write each changed current schema as the next version; return the files written."""
    versions: dict[str, int] = {}
    for item in released(directory):
        versions[item.full_name] = max(versions.get(item.full_name, 0), item.version)
    written = []
    for record_type in unfrozen(directory):
        schema = current_schemas()[record_type]
        name = full_name(schema)
        path = directory / f"{name}.v{versions.get(name, 0) + 1}.avsc"
        path.write_text(json.dumps(schema, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["check", "freeze"])
    args = parser.parse_args(argv)
    if args.command == "freeze":
        for path in freeze():
            print(f"froze {path.name}")
        return 0
    missing = unfrozen()
    for record_type in missing:
        print(f"{record_type}: current schema not frozen; run `freeze` before releasing")
    return 1 if missing else 0


if __name__ == "__main__":
    raise SystemExit(main())
