"""The only module that builds topic names (DESIGN.md, "Topics"). Every producer and consumer
asks this module, so a rename happens in one place."""

from __future__ import annotations

import re
from enum import Enum

PREFIX = "alphaloop"
VERSION = "v1"
_GROUP_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


class Topic(str, Enum):
    """Data topics. Messages are protobuf, keyed by symbol (control: by scope)."""

    BARS = f"{PREFIX}.bars.{VERSION}"
    FEATURES = f"{PREFIX}.features.{VERSION}"
    SIGNALS = f"{PREFIX}.signals.{VERSION}"
    ORDERS = f"{PREFIX}.orders.{VERSION}"  # risk-approved orders
    EXECUTIONS = f"{PREFIX}.executions.{VERSION}"  # order updates and fills
    CONTROL = f"{PREFIX}.control.{VERSION}"  # halt / resume
    GRADES = f"{PREFIX}.grades.{VERSION}"

    def __str__(self) -> str:  # so f"{Topic.BARS}" is the wire name
        return self.value


ALL_TOPICS: tuple[str, ...] = tuple(t.value for t in Topic)


def validate_group(group: str) -> str:
    """Consumer group names become part of topic names, so keep them to a safe alphabet."""
    if not _GROUP_RE.match(group):
        raise ValueError(
            f"consumer group {group!r} must match {_GROUP_RE.pattern} "
            "(lowercase letters, digits, '-' and '_', at most 63 characters)"
        )
    return group


def dead_letter(group: str) -> str:
    """Dead-letter topic of one consumer group: messages that failed every retry."""
    return f"{PREFIX}.deadletter.{validate_group(group)}.{VERSION}"


def is_dead_letter(topic: str) -> bool:
    return topic.startswith(f"{PREFIX}.deadletter.")
