"""Durable definitions: vhosts' durable exchanges, queues and bindings on disk.

`<amqp dir>/definitions.log` is an append-only log of JSON lines, one change each:

    {"op": "exchange", "vhost": "/", "name": "x", "type": "topic", "auto_delete": false,
     "internal": false, "arguments": {...}}
    {"op": "queue", "vhost": "/", "name": "q", "id": "<hex>", "auto_delete": false, "arguments": {...}}
    {"op": "bind", "vhost": "/", "source": "x", "kind": "queue"|"exchange", "destination": "q",
     "routing_key": "k", "arguments": {...}}
    {"op": "unbind", ...same keys as bind...}
    {"op": "delete_exchange", "vhost": "/", "name": "x"}
    {"op": "delete_queue", "vhost": "/", "name": "q"}

Arguments are field tables in the lossless JSON form of engine/messaging/fields.py.
Definitions change rarely, so each change is one small append (no rewrite of the whole
set); at start-up the log is replayed and rewritten compacted. A torn last line (kill -9
mid-write) is ignored. Only durable things are logged: a binding is durable when both its
ends are (RabbitMQ `rabbit_binding:durable/1`).

`MemoryDefinitions` is the no-op backend used when the engine has no data dir.

Under `--fsync interval|always` the log is tracked by the engine's Syncer
(engine/durability.py): `written()` after each line, and the compacted rewrite is fsynced
before it replaces the log (a power loss must not leave an empty file in its place).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Protocol

from engine.durability import FsyncPolicy, Syncer


class Definitions(Protocol):
    def record(self, change: dict[str, Any]) -> None: ...

    def load(self) -> list[dict[str, Any]]: ...

    def close(self) -> None: ...


class MemoryDefinitions:
    def record(self, change: dict[str, Any]) -> None:
        pass

    def load(self) -> list[dict[str, Any]]:
        return []

    def close(self) -> None:
        pass


def _key(change: dict[str, Any]) -> tuple:
    op = change["op"]
    if op in ("exchange", "delete_exchange"):
        return ("exchange", change["vhost"], change["name"])
    if op in ("queue", "delete_queue"):
        return ("queue", change["vhost"], change["name"])
    return ("binding", change["vhost"], change["source"], change["kind"], change["destination"],
            change["routing_key"], json.dumps(change.get("arguments", {}), sort_keys=True))


class FileDefinitions:
    def __init__(self, directory: Path, syncer: Syncer | None = None) -> None:
        self.path = directory / "definitions.log"
        self.syncer = syncer or Syncer()
        self._fd = -1
        self._handle = None

    def load(self) -> list[dict[str, Any]]:
        """Replays the log into the live set (in declaration order) and compacts the file."""
        live: dict[tuple, dict[str, Any]] = {}
        if self.path.exists():
            for line in self.path.read_bytes().split(b"\n"):
                if not line.strip():
                    continue
                try:
                    change = json.loads(line)
                except ValueError:
                    continue  # torn tail
                op = change.get("op")
                key = _key(change)
                if op in ("exchange", "queue", "bind"):
                    live[key] = change
                elif op in ("delete_exchange", "delete_queue", "unbind"):
                    live.pop(key, None)
                    if op != "unbind":
                        kind, vhost, name = key
                        dest_kind = "queue" if op == "delete_queue" else "exchange"
                        for other in [k for k, c in live.items() if k[0] == "binding" and k[1] == vhost and (
                                (k[3] == dest_kind and k[4] == name) or (dest_kind == "exchange" and k[2] == name))]:
                            live.pop(other, None)
        changes = list(live.values())
        tmp = self.path.with_suffix(".tmp")
        with open(tmp, "wb") as out:
            out.write(b"".join(json.dumps(c, sort_keys=True).encode() + b"\n" for c in changes))
            if self.syncer.policy is not FsyncPolicy.NEVER:
                out.flush()
                os.fsync(out.fileno())  # once, at start-up: the rename below must not expose an empty file
        os.replace(tmp, self.path)
        self.syncer.created(self.path.parent)
        self._open()
        return changes

    def _open(self) -> None:
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._handle = self.syncer.track(self._fd, str(self.path))

    def record(self, change: dict[str, Any]) -> None:
        if self._fd < 0:
            self._open()
        os.write(self._fd, json.dumps(change, sort_keys=True).encode() + b"\n")
        self._handle.written()

    def close(self) -> None:
        if self._fd >= 0:
            self._handle.close()
            self._handle = None
            self._fd = -1
