    _model.model_rebuild()


def _uuid7() -> _uuid.UUID:
    """A UUIDv7: 48 bits of Unix milliseconds, then random bits (time-ordered, like the Rust runtime's ids)."""
    millis = _time.time_ns() // 1_000_000
    random = _int.from_bytes(_os.urandom(10), "big")
    value = (millis & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= ((random >> 62) & 0xFFF) << 64
    value |= 0b10 << 62
    value |= random & ((1 << 62) - 1)
    return _uuid.UUID(int=value)


def _wire_time(moment: _dt.datetime) -> _str:
    """RFC 3339 UTC with microseconds, as the wire writes it: ``2026-11-26T10:00:00.123456Z``."""
    return moment.astimezone(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _subject(event: _Event) -> _str:
    value = getattr(event, event.SUBJECT)
    if isinstance(value, _enum.Enum):
        return _str(value.value)
    return _str(value)


def _text(value: _t.Union[bytes, _str]) -> _str:
    return value.decode("utf-8") if isinstance(value, bytes) else value


def envelope(
    event: _Event,
    source: _str,
    *,
    correlation_id: _t.Optional[_str] = None,
    causation_id: _t.Optional[_str] = None,
    traceparent: _t.Optional[_str] = None,
) -> Envelope:
    """The envelope ``event`` travels in: a new UUIDv7 id, the current time, and a new correlation id unless given."""
    return Envelope(
        id=_uuid7(),
        type=event.TYPE,
        version=event.VERSION,
        source=source,
        time=_dt.datetime.now(_dt.timezone.utc),
        subject=_subject(event),
        correlationid=correlation_id if correlation_id is not None else _str(_uuid7()),
        causationid=causation_id,
        traceparent=traceparent,
        data=event.model_dump_json(by_alias=True),
    )


def stream_key(category: _str, subject: _str, *, namespace: _str = DEFAULT_NAMESPACE) -> _str:
    """The stream an event of ``category`` with ``subject`` is written to, as the Rust runtime chooses it:
    ``<namespace>:events:<category>``, or, when the category is partitioned,
    ``<namespace>:events:<category>:<p>`` with ``p`` the partition of the subject
    (:meth:`StreamLayout.partition_of`). Raises ``KeyError`` for a category this catalog does not have."""
    layout = STREAMS[category]
    if layout.partitions > 1:
        return f"{namespace}:events:{category}:{layout.partition_of(subject)}"
    return f"{namespace}:events:{category}"


def publish(
    redis: _t.Any,
    event: _Event,
    source: _str,
    *,
    namespace: _str = DEFAULT_NAMESPACE,
    correlation_id: _t.Optional[_str] = None,
    causation_id: _t.Optional[_str] = None,
    traceparent: _t.Optional[_str] = None,
) -> _str:
    """Publishes ``event`` as ``source`` to its category's stream (:func:`stream_key`: the partition of its
    subject when the category is partitioned) and returns the entry id. The stream is trimmed on write
    like the Rust publisher does, by the category's layout (``STREAMS``): entries older than its
    retention, and past its length cap (both approximately)."""
    fields = envelope(
        event,
        source,
        correlation_id=correlation_id,
        causation_id=causation_id,
        traceparent=traceparent,
    ).to_fields()
    layout = STREAMS[event.CATEGORY]
    stream = stream_key(event.CATEGORY, fields["subject"], namespace=namespace)
    oldest = max(_time.time_ns() // 1_000_000 - layout.retention_ms, 0)
    pipe = redis.pipeline(transaction=False)
    pipe.xadd(stream, fields, minid=oldest, approximate=True)
    pipe.xtrim(stream, maxlen=layout.max_len, approximate=True)
    entry_id, _ = pipe.execute()
    return _text(entry_id)


def decode(fields: _t.Mapping[_t.Any, _t.Any]) -> _t.Tuple[Envelope, _Event]:
    """Reads one stream entry (a mapping of bytes or str, as redis-py returns it) into its envelope and
    its event model. Raises :class:`DecodeError` for an entry that is not an event of this catalog."""
    try:
        text = {_text(name): _text(value) for name, value in fields.items()}
        meta = Envelope.model_validate(text)
    except (_UnicodeDecodeError, _pd.ValidationError) as error:
        raise DecodeError(f"not a valid envelope: {error}") from error
    model = EVENTS.get((meta.type, meta.version))
    if model is None:
        raise DecodeError(f"unknown event type `{meta.type}` v{meta.version}")
    try:
        return meta, model.model_validate_json(meta.data)
    except _pd.ValidationError as error:
        raise DecodeError(f"payload of `{meta.type}` v{meta.version} does not match: {error}") from error
