"""Reading and writing one entity document with OpenWhisk's answers for what goes wrong:
404 when it is missing (or of another collection), the two 409s of a PUT, and 409 on a
concurrent modification."""

from __future__ import annotations

from whisk_services.controller import errors
from whisk_services.controller.cache import CachedDocuments
from whisk_services.controller.errors import ApiError
from whisk_services.ports.documents import Document, DocumentConflict, JsonObject


async def stored(whisks: CachedDocuments, doc_id: str, entity_type: str) -> Document:
    """The entity's document, or a 404."""
    doc = await whisks.get(doc_id)
    if doc is None or doc.body.get("entityType") != entity_type:
        raise ApiError(404, errors.NOT_FOUND)
    return doc


async def replaceable(
    whisks: CachedDocuments, doc_id: str, entity_type: str, overwrite: bool
) -> Document | None:
    """The document a PUT would replace: None for a create; 409 when the name belongs to
    another collection, or exists and `overwrite` is not set."""
    doc = await whisks.get(doc_id)
    if doc is not None:
        if doc.body.get("entityType") != entity_type:
            raise ApiError(409, errors.WRONG_COLLECTION)
        if not overwrite:
            raise ApiError(409, errors.ALREADY_EXISTS)
    return doc


async def save(
    whisks: CachedDocuments, doc_id: str, body: JsonObject, previous: Document | None
) -> Document:
    """Create or replace the document; 409 if someone else changed it meanwhile."""
    try:
        return await whisks.put(doc_id, body, previous.rev if previous else None)
    except DocumentConflict as error:
        raise ApiError(409, errors.CONCURRENT_MODIFICATION) from error


async def remove(whisks: CachedDocuments, doc: Document) -> None:
    """Delete the document; 409 if someone else changed it meanwhile."""
    try:
        await whisks.delete(doc)
    except DocumentConflict as error:
        raise ApiError(409, errors.CONCURRENT_MODIFICATION) from error
