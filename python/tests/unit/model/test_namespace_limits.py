"""NamespaceLimits: what wskadmin stores and what the limits route answers."""

from __future__ import annotations

import pytest

from whisk_services.model.errors import ModelError
from whisk_services.model.namespace_limits import SYSTEM_DEFAULTS, NamespaceLimits


def test_unset_limits_fall_back_to_the_defaults() -> None:
    own = NamespaceLimits(invocationsPerMinute=120)
    assert own.with_defaults(SYSTEM_DEFAULTS) == {
        "invocationsPerMinute": 120,
        "concurrentInvocations": 30,
        "firesPerMinute": 60,
    }


def test_merge_and_document_round_trip() -> None:
    merged = NamespaceLimits(firesPerMinute=5).merged(NamespaceLimits(invocationsPerMinute=7))
    assert merged.set() == {"firesPerMinute": 5, "invocationsPerMinute": 7}
    assert NamespaceLimits.from_doc(merged.to_doc()) == merged
    assert NamespaceLimits.doc_id("guest") == "guest/limits"


@pytest.mark.parametrize("value", [-1, True, "60", 1.5])
def test_bad_values_are_refused(value: object) -> None:
    with pytest.raises(ModelError):
        NamespaceLimits(firesPerMinute=value)  # type: ignore[arg-type]


def test_other_documents_are_not_limits() -> None:
    with pytest.raises(ModelError):
        NamespaceLimits.from_doc({"entityType": "subject"})
