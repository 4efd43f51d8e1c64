publish and decode its events over redis-py in the wire format that the Rust
runtime reads and writes.

Publish::

    import redis
    from xerpium_events import UserCreated, publish

    client = redis.Redis()
    publish(client, UserCreated(...), source="legacy-billing", correlation_id="req-42")

An event goes to its category's stream, or, in a partitioned category, to the stream of its subject's
partition: ``stream_key(category, subject)`` names it, with the same hash as the Rust runtime; ``STREAMS``
holds the layout of every category.

Decode one stream entry (as redis-py returns it from XRANGE/XREADGROUP)::

    envelope, event = decode(fields)

Models serialize with the catalog's wire names: use ``model_dump_json(by_alias=True)``.
Optional fields that are absent (``None``) are left out, as the Rust types do. A field of an enum holds a
member of the enum, or the plain ``str`` of a value added to the catalog after this module was generated.
"""

from __future__ import annotations

import datetime as _dt
import decimal as _decimal
import enum as _enum
import os as _os
import time as _time
import typing as _t
import uuid as _uuid

import pydantic as _pd

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

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/json"


class DecodeError(ValueError):
    """A stream entry that is not a known event of this catalog, or whose payload does not match its type."""


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
    of the category and is trimmed by the category's layout, ``STREAMS[CATEGORY]``."""

    TYPE: _t.ClassVar[_str]
    VERSION: _t.ClassVar[_int]
    CATEGORY: _t.ClassVar[_str]
    SUBJECT: _t.ClassVar[_str]
    RETENTION_MS: _t.ClassVar[_int]
    MAX_LEN: _t.ClassVar[_int]


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
    """The stream entry fields of an event (CloudEvents 1.0 attribute names); ``data`` is the payload, JSON."""

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
        fields["datacontenttype"] = self.datacontenttype
        fields["data"] = self.data
        return fields
