"""The lifecycle every service's bus consumer shares: subscribe its topics in its consumer group
on first use, run its handler until a stop event is set, close the subscription."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod

from alphaloop.common.bus.base import Bus, Message, Subscription


class GroupConsumer(ABC):
    """Base of a consumer: subclasses set ``bus``, ``group`` and ``max_attempts`` (deliveries
    before a message goes to the group's dead-letter topic), return their topics from
    :attr:`consumed_topics` and handle one message in :meth:`handle`."""

    bus: Bus
    group: str
    max_attempts: int
    _sub: Subscription | None = None

    @property
    @abstractmethod
    def consumed_topics(self) -> str | list[str]: ...

    @abstractmethod
    def handle(self, message: Message) -> object: ...

    def subscribe(self) -> Subscription:
        if self._sub is None:
            self._sub = self.bus.subscribe(self.consumed_topics, group=self.group)
        return self._sub

    def run(self, stop: threading.Event, poll_timeout: float = 1.0) -> None:
        """Consume until ``stop`` is set (at least once: a handler error redelivers)."""
        self.subscribe().run(self.handle, max_attempts=self.max_attempts, stop=stop,
                             poll_timeout=poll_timeout)

    def close(self) -> None:
        if self._sub is not None:
            self._sub.close()
            self._sub = None
