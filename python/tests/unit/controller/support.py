"""What the controller's unit tests build alike: activation messages, and the in-memory bus,
stores and ``Services`` the real app runs over.

Imports nothing from ``tests``: test_version's child interpreter loads it by its folder.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from whisk_services.adapters.memory import MemoryDocumentStore
from whisk_services.adapters.memory_bus import MemoryBus
from whisk_services.controller.auth import Authenticator
from whisk_services.controller.cache import CachedDocuments
from whisk_services.controller.changes import ChangeFollower
from whisk_services.controller.context import Services
from whisk_services.controller.invocations import Invocations
from whisk_services.controller.throttles import Throttles
from whisk_services.model.identity import AuthKey, Identity
from whisk_services.model.messages import ActivationMessage, MessageUser
from whisk_services.model.names import FullyQualifiedName
from whisk_services.ports.databases import ACTIVATIONS_INDEXES, SUBJECTS_INDEXES, WHISKS_INDEXES


def activation_message(
    activation_id: int | str,
    *,
    action: str = "/guest/sleepy",
    subject: str = "guest-subject",
    uuid: str = "uuid",
    controller: int = 0,
    blocking: bool = False,
    transid: str = "tid",
    revision: str = "1-x",
    accepted_ms: int = 1_000,
) -> ActivationMessage:
    """A message for ``action`` of namespace ``guest``; an int id ``n`` is ``f"{n:032x}"``."""
    return ActivationMessage(
        transid=transid,
        action=FullyQualifiedName.parse(action),
        action_version="0.0.1",
        revision=revision,
        user=MessageUser(subject, "guest", uuid),
        activation_id=activation_id if isinstance(activation_id, str) else f"{activation_id:032x}",
        controller=controller,
        blocking=blocking,
        accepted_ms=accepted_ms,
    )


@dataclass
class InMemory:
    """A bus and the three databases with their indexes, and a change feed on each of the
    two the controller caches. Build it with ``await InMemory.open()``."""

    bus: MemoryBus
    subjects: MemoryDocumentStore
    whisks: MemoryDocumentStore
    activations: MemoryDocumentStore
    subjects_feed: ChangeFollower = field(init=False)
    whisks_feed: ChangeFollower = field(init=False)

    def __post_init__(self) -> None:
        self.subjects_feed = ChangeFollower(self.subjects)
        self.whisks_feed = ChangeFollower(self.whisks)

    @classmethod
    async def open(
        cls,
        *,
        subjects: MemoryDocumentStore | None = None,
        activations: MemoryDocumentStore | None = None,
    ) -> InMemory:
        """New stores, but for the ``subjects`` or ``activations`` given (indexed here too)."""
        stores = cls(
            MemoryBus(),
            subjects or MemoryDocumentStore("subjects"),
            MemoryDocumentStore("whisks"),
            activations or MemoryDocumentStore("activations"),
        )
        await stores.subjects.ensure(SUBJECTS_INDEXES)
        await stores.whisks.ensure(WHISKS_INDEXES)
        await stores.activations.ensure(ACTIVATIONS_INDEXES)
        return stores

    async def identity(self, subject: str, namespace: str = "guest") -> AuthKey:
        """Store a new identity for ``subject`` in ``namespace``; its key."""
        key = AuthKey.generate()
        identity = Identity.create(subject, namespace, key, iterations=1000)
        await self.subjects.put(identity.doc_id(), identity.to_doc())
        return key

    def services(
        self, invocations: Invocations | None = None, throttles: Throttles | None = None
    ) -> Services:
        """The controller's services over these stores, cached and authenticated as it does."""
        return Services(
            whisks=CachedDocuments(self.whisks, self.whisks_feed),
            whisks_store=self.whisks,
            activations=self.activations,
            authenticator=Authenticator(self.subjects, self.subjects_feed),
            subjects=CachedDocuments(self.subjects, self.subjects_feed),
            invocations=invocations,
            throttles=throttles,
        )
