"""Topics: names, ids, partition counts and config overrides, and each partition's log.

`engine.topics` is the one registry every Kafka handler (and later AMQP streams) goes
through. The contract:

    get(name) -> Topic | None            names() -> list[str]
    create(name, *, partitions, configs={}, validate_only=False) -> Topic
        AlreadyExists, InvalidName, InvalidConfig (topic_config.resolve), InvalidPartitions
    delete(name)                          NotFound; removes the files
    create_partitions(name, *, total, validate_only=False) -> Topic     NotFound, InvalidPartitions
    set_configs(name, overrides)          replaces the override set (validated) -> Topic
    partition(tp) -> PartitionLog         NotFound for an unknown topic or partition
    auto_create(name) -> Topic            settings.default_partitions, no overrides
    maintain(now_ms=None)                 retention and index/producer-state flush (also periodic)

Persistence (files backend) under `engine.subdir("kafka")`:

    kafka/topics/<topic name>/topic.json     {"name", "topic_id", "partitions", "overrides"}
    kafka/topics/<topic name>/<partition>/   that partition's log (engine/log/storage.py)
    kafka/deleting/                           topics being removed (renamed here first, so a
                                              crash mid-delete never resurrects half a topic)
    kafka/producer-ids                        engine/producers.py

Topic names follow Kafka's `Topic.validate`: 1–249 characters of [a-zA-Z0-9._-], not
"." or "..". Names that differ only by '.' versus '_' collide (Kafka refuses the second,
since both map to the same metric names).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from engine import topic_config
from engine.durability import FsyncPolicy, Syncer
from engine.errors import AlreadyExists, InvalidArgument, InvalidConfig, InvalidName, NotFound
from engine.log.partition import PartitionLog
from engine.log.storage import FileStorage, MemoryStorage
from engine.producers import ProducerIds
from engine.topic_config import TopicConfig
from engine.types import TopicPartition

log = logging.getLogger("mqgateway.topics")

MAX_NAME_LENGTH = 249
_LEGAL = re.compile(r"^[a-zA-Z0-9._-]+$")
# Kafka's log.retention.check.interval.ms is 5 minutes; we also flush indexes and producer
# snapshots on this tick, which bounds recovery work after a crash, so it runs more often.
MAINTENANCE_INTERVAL_S = 5.0
# Partition counts are int32 on the wire; this keeps a typo from creating millions of files.
MAX_PARTITIONS = 10_000


class InvalidPartitions(InvalidArgument):
    """A partition count that is not positive, or not larger than the current one."""


@dataclass(slots=True, kw_only=True)
class Topic:
    name: str
    topic_id: uuid.UUID
    partitions: list[PartitionLog] = field(default_factory=list)
    overrides: dict[str, str] = field(default_factory=dict)
    config: TopicConfig = field(default_factory=TopicConfig)


def validate_name(name: str) -> None:
    if not name:
        raise InvalidName("Topic name is illegal, it can't be empty")
    if name in (".", ".."):
        raise InvalidName("Topic name cannot be \".\" or \"..\"")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidName(f"Topic name is illegal, it can't be longer than {MAX_NAME_LENGTH} characters")
    if not _LEGAL.match(name):
        raise InvalidName(f"Topic name {name} is illegal, it contains a character other than "
                          "ASCII alphanumerics, '.', '_' and '-'")


def _collision_key(name: str) -> str:
    return name.replace(".", "_")


class TopicRegistry:
    def __init__(self, engine) -> None:
        self._engine = engine
        self._topics: dict[str, Topic] = {}
        self._folder: Path | None = None
        self.producer_ids = ProducerIds(None)
        self._timer: asyncio.TimerHandle | None = None
        self._closed = False

    # -- lifecycle ---------------------------------------------------------------------
    def open(self) -> None:
        folder = self._engine.subdir("kafka")
        self._folder = folder
        self.producer_ids = ProducerIds(folder)
        self.producer_ids.open()
        if folder is not None:
            deleting = folder / "deleting"
            if deleting.exists():
                shutil.rmtree(deleting, ignore_errors=True)
            topics_dir = folder / "topics"
            topics_dir.mkdir(exist_ok=True)
            for entry in sorted(os.scandir(topics_dir), key=lambda e: e.name):
                if entry.is_dir():
                    self._load(Path(entry.path))
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is not None:
            self._timer = loop.call_later(MAINTENANCE_INTERVAL_S, self._tick)

    def _load(self, path: Path) -> None:
        meta_path = path / "topic.json"
        try:
            meta = json.loads(meta_path.read_text())
            name = meta["name"]
            count = int(meta["partitions"])
            topic_id = uuid.UUID(meta["topic_id"])
            overrides = {str(k): str(v) for k, v in meta.get("overrides", {}).items()}
        except (OSError, ValueError, KeyError, TypeError) as exc:
            # A topic folder without a complete definition is an interrupted create.
            log.warning("ignoring topic folder %s: %s", path, exc)
            return
        try:
            config = topic_config.resolve(overrides)
        except InvalidConfig as exc:
            # Written by a version that accepted it; serve the topic rather than refuse to start.
            log.warning("topic %s: stored config not valid any more (%s); using defaults", name, exc)
            config = TopicConfig()
        topic = Topic(name=name, topic_id=topic_id, overrides=overrides, config=config)
        for index in range(count):
            topic.partitions.append(self._open_partition(topic, index))
        self._topics[name] = topic

    def _tick(self) -> None:
        if self._closed:
            return
        try:
            self.maintain()
        except Exception:
            log.exception("log maintenance failed")
        self._timer = asyncio.get_running_loop().call_later(MAINTENANCE_INTERVAL_S, self._tick)

    def maintain(self, now_ms: int | None = None) -> None:
        """Retention by time and size, then indexes and producer state to storage."""
        now = self._engine.clock.now_ms() if now_ms is None else now_ms
        for topic in list(self._topics.values()):
            for partition in topic.partitions:
                removed = partition.enforce_retention(now)
                if removed:
                    log.info("%s: retention removed %d segment(s); log start offset %d",
                             partition.tp, removed, partition.log_start_offset)
                partition.flush()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
        for topic in self._topics.values():
            for partition in topic.partitions:
                partition.close()

    # -- queries -----------------------------------------------------------------------
    def get(self, name: str) -> Topic | None:
        return self._topics.get(name)

    def names(self) -> list[str]:
        return sorted(self._topics)

    def __iter__(self):
        return iter(list(self._topics.values()))

    def partition(self, tp: TopicPartition) -> PartitionLog:
        topic = self._topics.get(tp.topic)
        if topic is None or not 0 <= tp.partition < len(topic.partitions):
            raise NotFound(f"unknown topic or partition {tp}")
        return topic.partitions[tp.partition]

    # -- changes -----------------------------------------------------------------------
    def create(self, name: str, *, partitions: int, configs: Mapping[str, str] = {},
               validate_only: bool = False) -> Topic:
        validate_name(name)
        if name in self._topics:
            raise AlreadyExists(f"Topic '{name}' already exists.")
        key = _collision_key(name)
        for existing in self._topics:
            if _collision_key(existing) == key:
                raise InvalidName(f"Topic '{name}' collides with existing topic: {existing}")
        if partitions < 1:
            raise InvalidPartitions("Number of partitions must be larger than 0.")
        if partitions > MAX_PARTITIONS:
            raise InvalidPartitions(f"Number of partitions must be at most {MAX_PARTITIONS}.")
        overrides = {str(k): str(v) for k, v in configs.items()}
        config = topic_config.resolve(overrides)
        topic = Topic(name=name, topic_id=uuid.uuid4(), overrides=overrides, config=config)
        if validate_only:
            return topic
        for index in range(partitions):
            topic.partitions.append(self._open_partition(topic, index))
        self._topics[name] = topic
        self._save(topic)
        return topic

    def auto_create(self, name: str) -> Topic:
        existing = self._topics.get(name)
        if existing is not None:
            return existing
        topic = self.create(name, partitions=self._engine.settings.default_partitions)
        log.info("auto-created topic %s with %d partition(s)", name, len(topic.partitions))
        return topic

    def delete(self, name: str) -> None:
        topic = self._topics.pop(name, None)
        if topic is None:
            raise NotFound(f"unknown topic {name}")
        folder = self._topic_folder(name)
        if folder is not None and folder.exists():
            for partition in topic.partitions:
                partition.close()
            deleting = folder.parent.parent / "deleting"
            deleting.mkdir(exist_ok=True)
            target = deleting / f"{name}-{topic.topic_id.hex}"
            os.replace(folder, target)
            shutil.rmtree(target, ignore_errors=True)
            for partition in topic.partitions:
                partition.deleted = True
        else:
            for partition in topic.partitions:
                partition.delete()
        # A topic recreated under the same name must not inherit the old one's committed
        # offsets (Kafka's GroupCoordinator.handleDeletedPartitions).
        if self._engine.groups is not None:
            self._engine.groups.topic_deleted(name)

    def create_partitions(self, name: str, *, total: int, validate_only: bool = False) -> Topic:
        topic = self._topics.get(name)
        if topic is None:
            raise NotFound(f"unknown topic {name}")
        current = len(topic.partitions)
        if total <= current:
            raise InvalidPartitions(f"Topic currently has {current} partitions, which is higher than or equal "
                                    f"to the requested {total}.")
        if total > MAX_PARTITIONS:
            raise InvalidPartitions(f"Number of partitions must be at most {MAX_PARTITIONS}.")
        if validate_only:
            return topic
        for index in range(current, total):
            topic.partitions.append(self._open_partition(topic, index))
        self._save(topic)
        return topic

    def set_configs(self, name: str, overrides: Mapping[str, str]) -> Topic:
        topic = self._topics.get(name)
        if topic is None:
            raise NotFound(f"unknown topic {name}")
        new_overrides = {str(k): str(v) for k, v in overrides.items()}
        config = topic_config.resolve(new_overrides)
        topic.overrides = new_overrides
        topic.config = config
        for partition in topic.partitions:
            partition.config = config
        self._save(topic)
        return topic

    # -- storage -----------------------------------------------------------------------
    def _topic_folder(self, name: str) -> Path | None:
        if self._folder is None:
            return None
        return self._folder / "topics" / name

    def _open_partition(self, topic: Topic, index: int) -> PartitionLog:
        folder = self._topic_folder(topic.name)
        storage = MemoryStorage() if folder is None else FileStorage(folder / str(index), getattr(self._engine, "durability", None))
        partition = PartitionLog(TopicPartition(topic=topic.name, partition=index), storage=storage,
                                 config=topic.config, now_ms=self._engine.clock.now_ms)
        partition.open()
        return partition

    def _save(self, topic: Topic) -> None:
        folder = self._topic_folder(topic.name)
        if folder is None:
            return
        syncer: Syncer | None = getattr(self._engine, "durability", None)
        new_folder = not folder.exists()
        folder.mkdir(parents=True, exist_ok=True)
        meta = {"name": topic.name, "topic_id": str(topic.topic_id), "partitions": len(topic.partitions),
                "overrides": topic.overrides}
        path = folder / "topic.json"
        tmp = folder / "topic.json.tmp"
        with open(tmp, "w") as file:
            file.write(json.dumps(meta, indent=1, sort_keys=True))
            if syncer is not None and syncer.policy is not FsyncPolicy.NEVER:
                # A topic whose data is durable must not come back without its metadata.
                file.flush()
                os.fsync(file.fileno())
        os.replace(tmp, path)
        if syncer is not None:
            syncer.created(folder)
            if new_folder:
                syncer.created(folder.parent)
