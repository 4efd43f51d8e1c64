speak every kind of its messages over redis-py, in the wire format and with the semantics of the Rust
runtime: events (publish, decode, and a consumer), commands (a client and a server) and notifications (send and
subscribe). It needs pydantic v2 and redis-py 5 (``redis.asyncio`` for everything but ``publish``).

Publish an event (``publish_async`` does the same on a ``redis.asyncio`` client)::

    import redis
    from xerpium_events import UserCreated, publish

    client = redis.Redis()
    publish(client, UserCreated(...), source="legacy-billing", correlation_id="req-42")

An event goes to its category's stream, or, in a partitioned category, to the stream of its subject's
partition: ``stream_key(category, subject)`` names it, with the same hash as the Rust runtime; ``STREAMS``
holds the layout of every category and ``event_streams(category)`` lists its streams.

Decode one stream entry (as redis-py returns it from XRANGE/XREADGROUP)::

    envelope, event = decode(fields)

Handle events through a consumer group (:class:`Consumer`)::

    import redis.asyncio

    async def handle(event, delivery):        # any exception: retried after the type's backoff
        if isinstance(event, UserCreated):
            ...                                # raise HandlerError.permanent("...") to dead-letter it at once

    client = redis.asyncio.Redis()
    await Consumer(client, handle, group="billing", categories=["user"]).run(stop)   # stop: an asyncio.Event

Call a command (:class:`CommandClient`, a typed method per command with the catalog's timeout) and serve one
(subclass the generated ``<Service>Commands`` and run it with :class:`CommandServer`)::

    async with CommandClient(client, source="billing") as commands:
        response = await commands.company_get(CompanyGetRequest(company_id=...))   # CommandError if not

    await CommandServer(client, MyCompanyPartnerCommands(), source="company-partner").run(stop)

Send and receive notifications (fire and forget: who is not subscribed at that moment misses it)::

    await Notifier(client).notify_role("admin", NotificationType.WARNING, "Backup", "The backup is late.")

    async with subscribe_user(client, "42", roles=["admin"]) as inbox:
        async for note in inbox:              # a Notification
            ...

What the consumer (and so the command server) does as the Rust consumer does: it creates its group on every
stream it reads (``MKSTREAM``), reads each stream with its own ``XREADGROUP`` (a partitioned category has one
stream per partition), first works off the entries it held before a restart, acknowledges an entry its handler
handled, retries one whose handler failed after the type's backoff (by delivery count, claiming it again with
``XCLAIM``) and dead-letters it after the type's ``max_attempts`` — at once for ``HandlerError.permanent``, an
entry that is no envelope (``bad-envelope``), of a type this module does not know (``unknown-type``) or whose
payload does not match (``undecodable``) — to ``<ns>:dlq:<group>`` with the Rust runtime's ``dlq*`` fields,
dead letter first and acknowledgement after. It claims, with ``XAUTOCLAIM``, entries that stopped consumers left
pending longer than ``claim_idle``.

What it leaves to the caller:

- **Order per subject across instances.** It reads every stream it is given, with no partition leases: two
  instances of a group share a partitioned category entry by entry, as they share any other. Run one instance
  per group for such a category, or give each instance its own partitions (``streams=``) and move them yourself.
- **Idempotency.** Delivery is at least once: an entry is handled again after a crash between its handler and
  its acknowledgement, or when it is claimed from a consumer that was only slow. Deduplicate on
  ``delivery.envelope.id`` where that matters (it writes no idempotency markers).
- **Parallelism.** It handles one entry at a time per stream; a retry waits its backoff in place and holds back
  its whole stream (the Rust consumer holds back only its subject and runs others meanwhile).
- Health heartbeats, metrics, tracing spans, and the removal of departed consumers from a group.

Models serialize with the catalog's wire names: use ``model_dump_json(by_alias=True)``.
Optional fields that are absent (``None``) are left out, as the Rust types do. A field of an enum holds a
member of the enum, or the plain ``str`` of a value added to the catalog after this module was generated.
"""

from __future__ import annotations

import abc as _abc
import asyncio as _asyncio
import copy as _copy
import dataclasses as _dataclasses
import datetime as _dt
import decimal as _decimal
import enum as _enum
import logging as _logging
import os as _os
import random as _random
import socket as _socket
import time as _time
import typing as _t
import uuid as _uuid

import pydantic as _pd
import redis.asyncio as _aioredis
import redis.exceptions as _redis_errors

_str = str
_bool = bool
_int = int
_float = float
_UnicodeDecodeError = UnicodeDecodeError

_I32 = _t.Annotated[int, _pd.Field(ge=-(2**31), le=2**31 - 1)]
_I64 = _t.Annotated[int, _pd.Field(ge=-(2**63), le=2**63 - 1)]
_U32 = _t.Annotated[int, _pd.Field(ge=0, le=2**32 - 1)]
_U64 = _t.Annotated[int, _pd.Field(ge=0, le=2**64 - 1)]


def _decimal_text(value: _decimal.Decimal) -> str:
    """A decimal as the wire writes it: plain digits, never an exponent."""
    return format(value, "f")


_Decimal = _t.Annotated[
    _decimal.Decimal,
    _pd.PlainSerializer(_decimal_text, return_type=str, when_used="json"),
]

_E = _t.TypeVar("_E", bound=_enum.Enum)
_Open = _t.Annotated[_t.Union[_E, _str], _pd.Field(union_mode="left_to_right")]
"""A value of the enum ``_E``, or the plain ``str`` of a value this module does not know: one added to the
catalog after the module was generated. It is kept as it came and written back unchanged, so an event carrying
it still validates (adding an enum value breaks no reader)."""

DEFAULT_NAMESPACE = "xerpium"
"""The namespace every key starts with unless configured (XERPIUM_NAMESPACE)."""

SPEC_VERSION: _t.Final = "1.0"
CONTENT_TYPE: _t.Final = "application/json"


class DecodeError(ValueError):
    """A stream entry that is not a known event of this catalog, or whose payload does not match its type.
    ``reason`` is the code a consumer dead-letters it with, as the Rust one does: :attr:`BAD_ENVELOPE` (its
    fields are no envelope), :attr:`UNKNOWN_TYPE` (no model has its type and version) or :attr:`UNDECODABLE`
    (its payload does not match); its text is the error recorded with it."""

    BAD_ENVELOPE: _t.ClassVar[_str] = "bad-envelope"
    UNKNOWN_TYPE: _t.ClassVar[_str] = "unknown-type"
    UNDECODABLE: _t.ClassVar[_str] = "undecodable"

    def __init__(self, reason: _str, message: _str) -> None:
        super().__init__(message)
        self.reason = reason


class DeliveryPolicy(_t.NamedTuple):
    """How a consumer delivers one type, as the Rust runtime's ``DeliveryPolicy``: an entry whose handler keeps
    failing is delivered ``max_attempts`` times, then dead-lettered; after its n-th failed delivery it waits
    ``backoff_first_ms`` doubled n - 1 times, at most ``backoff_max_ms`` (plus up to 25 % jitter). Entries
    older than ``retention_ms``, or past ``max_len``, are trimmed on write."""

    max_attempts: _int
    backoff_first_ms: _int
    backoff_max_ms: _int
    retention_ms: _int
    max_len: _int

    def backoff_ms(self, delivery: _int) -> _int:
        """The wait before the next delivery after the ``delivery``-th (1-based) failed, without jitter."""
        return min(self.backoff_first_ms << min(max(delivery - 1, 0), 31), self.backoff_max_ms)


DEFAULT_POLICY = DeliveryPolicy(
    max_attempts=5,
    backoff_first_ms=1000,
    backoff_max_ms=300_000,
    retention_ms=86_400_000,
    max_len=1_000_000,
)
"""The Rust runtime's policy where nothing says otherwise (its ``DeliveryPolicy::DEFAULT``): of every command,
of entries of types this module does not know, and of the trimming of command and dead-letter streams."""


class _Model(_pd.BaseModel):
    """Base of every model: validation by wire name or attribute name, and absent optional fields left out."""

    model_config = _pd.ConfigDict(populate_by_name=True, protected_namespaces=())

    OPTIONAL_FIELDS: _t.ClassVar[_t.FrozenSet[_str]] = frozenset()

    @_pd.model_serializer(mode="wrap")
    def _leave_out_absent(self, handler: _t.Any) -> _t.Any:
        data = handler(self)
        if isinstance(data, dict):
            for name in self.OPTIONAL_FIELDS:
                if name in data and data[name] is None:
                    del data[name]
        return data


class _Event(_Model):
    """Base of every event model; its class constants say where and how it travels. ``RETENTION_MS``
    and ``MAX_LEN`` are the type's own: the least its entries are kept. Its stream carries every type
    of the category and is trimmed by the category's layout, ``STREAMS[CATEGORY]``. ``POLICY`` is its
    delivery policy (retries, backoff) from the catalog."""

    TYPE: _t.ClassVar[_str]
    VERSION: _t.ClassVar[_int]
    CATEGORY: _t.ClassVar[_str]
    SUBJECT: _t.ClassVar[_str]
    RETENTION_MS: _t.ClassVar[_int]
    MAX_LEN: _t.ClassVar[_int]
    POLICY: _t.ClassVar[DeliveryPolicy]


class _Request(_Model):
    """Base of every command request model: its class constants name the command, the service that serves it
    (on ``<ns>:commands:<TARGET>``), its version and how long a caller waits for the reply by default."""

    NAME: _t.ClassVar[_str]
    TARGET: _t.ClassVar[_str]
    VERSION: _t.ClassVar[_int]
    TIMEOUT_MS: _t.ClassVar[_int]


class StreamLayout(_t.NamedTuple):
    """How a category's events are laid out in Redis streams and trimmed, as the Rust runtime's
    ``StreamLayout``: one stream ``<ns>:events:<category>``, or, with more than one partition (a category
    ordered across instances), one stream per partition ``<ns>:events:<category>:<p>``. Entries are
    trimmed past ``retention_ms`` and ``max_len``: the longest retention and largest cap of the
    category's types, so that no type loses entries it still keeps."""

    partitions: _int
    retention_ms: _int
    max_len: _int

    def partition_of(self, subject: _str) -> _int:
        """The partition of an entry with ``subject``: the 32-bit FNV-1a hash of its UTF-8 bytes,
        modulo the number of partitions (0 when there is one)::

            h = 0x811c9dc5
            for each byte b of subject: h = ((h ^ b) * 0x01000193) mod 2^32
            partition = h mod partitions
        """
        h = 0x811C9DC5
        for byte in subject.encode("utf-8"):
            h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
        return h % max(self.partitions, 1)


class Envelope(_pd.BaseModel):
    """The stream entry fields of a message (CloudEvents 1.0 attribute names); ``data`` is the payload, JSON.
    Other fields of an entry (a request's ``replyto``, a reply's ``status``) are not part of it."""

    specversion: _t.Literal["1.0"] = SPEC_VERSION
    id: _uuid.UUID
    type: _str
    version: _int
    source: _str
    time: _pd.AwareDatetime
    subject: _str
    correlationid: _str
    causationid: _t.Optional[_str] = None
    traceparent: _t.Optional[_str] = None
    tracestate: _t.Optional[_str] = None
    datacontenttype: _t.Literal["application/json"] = CONTENT_TYPE
    data: _str

    def to_fields(self) -> _t.Dict[_str, _str]:
        """The stream entry fields, in wire order; absent optional fields are left out."""
        fields = {
            "specversion": self.specversion,
            "id": _str(self.id),
            "type": self.type,
            "version": _str(self.version),
            "source": self.source,
            "time": _wire_time(self.time),
            "subject": self.subject,
            "correlationid": self.correlationid,
        }
        if self.causationid is not None:
            fields["causationid"] = self.causationid
        if self.traceparent is not None:
            fields["traceparent"] = self.traceparent
        if self.tracestate is not None:
            fields["tracestate"] = self.tracestate
        fields["datacontenttype"] = self.datacontenttype
        fields["data"] = self.data
        return fields
