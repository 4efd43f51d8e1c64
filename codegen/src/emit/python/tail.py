    _model.model_rebuild()

_log = _logging.getLogger("xerpium_events")

_M = _t.TypeVar("_M", bound=_Model)

_Outages = (_redis_errors.ConnectionError, _redis_errors.TimeoutError, OSError)
"""The errors of a Redis that is down or unreachable: waiting may fix them."""

_POLICIES: _t.Dict[_str, DeliveryPolicy] = {model.TYPE: model.POLICY for model in EVENTS.values()}
"""The delivery policy of every event type, by wire type name."""

_REPLY_CAP = 10_000
"""Approximate cap on a reply stream's length, as the Rust command server trims it."""


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


def _now() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc)


def _wire_time(moment: _dt.datetime) -> _str:
    """RFC 3339 UTC with microseconds, as the wire writes it: ``2026-11-26T10:00:00.123456Z``."""
    return moment.astimezone(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _wire_time_ms(moment: _dt.datetime) -> _str:
    """RFC 3339 UTC with milliseconds, as the Rust runtime writes deadlines and dead-letter times."""
    return _wire_time(moment)[:-4] + "Z"


def _subject(event: _Event) -> _str:
    value = getattr(event, event.SUBJECT)
    if isinstance(value, _enum.Enum):
        return _str(value.value)
    return _str(value)


def _text(value: _t.Union[bytes, _str]) -> _str:
    return value.decode("utf-8") if isinstance(value, bytes) else value


def _millis(seconds: _float) -> _int:
    return max(_int(seconds * 1000), 1)


class _FollowUp(_t.TypedDict):
    """The context of messages sent because of another: keyword arguments of the publish and call helpers."""

    correlation_id: _t.Optional[_str]
    causation_id: _t.Optional[_str]
    traceparent: _t.Optional[_str]
    tracestate: _t.Optional[_str]


def envelope(
    event: _Event,
    source: _str,
    *,
    correlation_id: _t.Optional[_str] = None,
    causation_id: _t.Optional[_str] = None,
    traceparent: _t.Optional[_str] = None,
    tracestate: _t.Optional[_str] = None,
) -> Envelope:
    """The envelope ``event`` travels in: a new UUIDv7 id, the current time, and the given correlation id (none
    given, the message starts a chain: its own id)."""
    message_id = _uuid7()
    return Envelope(
        id=message_id,
        type=event.TYPE,
        version=event.VERSION,
        source=source,
        time=_now(),
        subject=_subject(event),
        correlationid=correlation_id if correlation_id is not None else _str(message_id),
        causationid=causation_id,
        traceparent=traceparent,
        tracestate=tracestate,
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


def event_streams(category: _str, *, namespace: _str = DEFAULT_NAMESPACE) -> _t.List[_str]:
    """Every stream of ``category``: ``<namespace>:events:<category>``, or one per partition,
    ``<namespace>:events:<category>:<p>`` for ``p`` in order. Raises ``KeyError`` for a category this catalog
    does not have."""
    layout = STREAMS[category]
    if layout.partitions > 1:
        return [f"{namespace}:events:{category}:{p}" for p in range(layout.partitions)]
    return [f"{namespace}:events:{category}"]


def _queue_publish(pipe: _t.Any, event: _Event, source: _str, namespace: _str, context: _FollowUp) -> None:
    """Queues on ``pipe`` the ``XADD`` of ``event`` to its stream and the trimming of the stream."""
    fields = envelope(event, source, **context).to_fields()
    layout = STREAMS[event.CATEGORY]
    stream = stream_key(event.CATEGORY, fields["subject"], namespace=namespace)
    oldest = max(_time.time_ns() // 1_000_000 - layout.retention_ms, 0)
    pipe.xadd(stream, fields, minid=oldest, approximate=True)
    pipe.xtrim(stream, maxlen=layout.max_len, approximate=True)


def publish(
    redis: _t.Any,
    event: _Event,
    source: _str,
    *,
    namespace: _str = DEFAULT_NAMESPACE,
    correlation_id: _t.Optional[_str] = None,
    causation_id: _t.Optional[_str] = None,
    traceparent: _t.Optional[_str] = None,
    tracestate: _t.Optional[_str] = None,
) -> _str:
    """Publishes ``event`` as ``source`` to its category's stream (:func:`stream_key`: the partition of its
    subject when the category is partitioned) and returns the entry id. The stream is trimmed on write
    like the Rust publisher does, by the category's layout (``STREAMS``): entries older than its
    retention, and past its length cap (both approximately). ``redis`` is a ``redis.Redis``."""
    pipe = redis.pipeline(transaction=False)
    context = _FollowUp(
        correlation_id=correlation_id, causation_id=causation_id, traceparent=traceparent, tracestate=tracestate
    )
    _queue_publish(pipe, event, source, namespace, context)
    entry_id, _ = pipe.execute()
    return _text(entry_id)


async def publish_async(
    redis: _aioredis.Redis,
    event: _Event,
    source: _str,
    *,
    namespace: _str = DEFAULT_NAMESPACE,
    correlation_id: _t.Optional[_str] = None,
    causation_id: _t.Optional[_str] = None,
    traceparent: _t.Optional[_str] = None,
    tracestate: _t.Optional[_str] = None,
) -> _str:
    """:func:`publish` on a ``redis.asyncio.Redis``; in a handler, pass ``**delivery.follow_up()``."""
    pipe = redis.pipeline(transaction=False)
    context = _FollowUp(
        correlation_id=correlation_id, causation_id=causation_id, traceparent=traceparent, tracestate=tracestate
    )
    _queue_publish(pipe, event, source, namespace, context)
    entry_id, _ = await pipe.execute()
    return _text(entry_id)


def _read_envelope(fields: _t.Mapping[_t.Any, _t.Any]) -> _t.Tuple[_t.Dict[_str, _str], Envelope]:
    """The fields of an entry as text, and its envelope; :class:`DecodeError` (``bad-envelope``) if it has none."""
    try:
        text = {_text(name): _text(value) for name, value in fields.items()}
        return text, Envelope.model_validate(text)
    except (_UnicodeDecodeError, _pd.ValidationError) as error:
        raise DecodeError(DecodeError.BAD_ENVELOPE, f"not a valid envelope: {error}") from error


def _payload(model: _t.Type[_M], meta: Envelope) -> _M:
    """The payload of ``meta`` as ``model``; :class:`DecodeError` (``undecodable``) if it does not match."""
    try:
        return model.model_validate_json(meta.data)
    except _pd.ValidationError as error:
        message = f"undecodable: payload of `{meta.type}` v{meta.version} does not match its schema: {error}"
        raise DecodeError(DecodeError.UNDECODABLE, message) from error


def _unknown(meta: Envelope) -> DecodeError:
    """The error of an entry whose type and version this module does not know (``unknown-type``)."""
    return DecodeError(DecodeError.UNKNOWN_TYPE, f"unknown type: `{meta.type}` v{meta.version}")


def _event(meta: Envelope) -> _Event:
    model = EVENTS.get((meta.type, meta.version))
    if model is None:
        raise _unknown(meta)
    return _payload(model, meta)


def decode(fields: _t.Mapping[_t.Any, _t.Any]) -> _t.Tuple[Envelope, _Event]:
    """Reads one stream entry (a mapping of bytes or str, as redis-py returns it) into its envelope and
    its event model. Raises :class:`DecodeError` for an entry that is not an event of this catalog."""
    _, meta = _read_envelope(fields)
    return meta, _event(meta)


class HandlerError(Exception):
    """Why a handler did not handle a message, as the Rust runtime's ``HandlerError``. Any exception a handler
    raises is retryable: the entry is delivered again after the type's backoff, until its last attempt.
    ``HandlerError.permanent(reason)`` is a failure that retrying cannot fix: the entry is dead-lettered at once
    (``permanent``), and a command answered with an error at once. Its text is the Rust one, e.g.
    ``permanent: no such company``: the ``dlqerror`` of the dead letter, the ``error`` of a command's reply."""

    def __init__(self, reason: object, *, retryable: _bool = True) -> None:
        self.reason = _str(reason)
        self.retryable = retryable
        super().__init__(f"{'retryable' if retryable else 'permanent'}: {self.reason}")

    @classmethod
    def retry(cls, reason: object) -> HandlerError:
        """A passing failure: the entry is delivered again after its backoff."""
        return cls(reason)

    @classmethod
    def permanent(cls, reason: object) -> HandlerError:
        """A failure that retrying cannot fix: dead-lettered at once."""
        return cls(reason, retryable=False)


class _Failure(_t.NamedTuple):
    """What a handler's exception means for its entry."""

    retryable: _bool
    #: The dead-letter reason once the entry is given up on.
    reason: _str
    #: The error as recorded: ``dlqerror``, a reply's ``error``.
    text: _str


def _failure(error: Exception) -> _Failure:
    if isinstance(error, HandlerError):
        return _Failure(error.retryable, "retries-exhausted" if error.retryable else "permanent", _str(error))
    if isinstance(error, DecodeError):
        return _Failure(False, error.reason, _str(error))
    causes: _t.List[_str] = []
    cause: _t.Optional[BaseException] = error
    while cause is not None:
        causes.append(_str(cause) or type(cause).__name__)
        cause = cause.__cause__
    return _Failure(True, "retries-exhausted", f"retryable: {': '.join(causes)}")


@_dataclasses.dataclass(frozen=True)
class Delivery:
    """One stream entry handed to a handler, as the Rust runtime's ``Message``: its envelope, where it was read
    from, and how many times it has been delivered (1 the first time). ``fields`` are all of the entry's fields,
    as text."""

    envelope: Envelope
    stream: _str
    entry_id: _str
    delivery_count: _int
    fields: _t.Mapping[_str, _str]

    def follow_up(self) -> _FollowUp:
        """The context for messages published or commands sent because of this one: the same correlation id
        and trace, this message's id as causation id (``publish_async(..., **delivery.follow_up())``)."""
        return _FollowUp(
            correlation_id=self.envelope.correlationid,
            causation_id=_str(self.envelope.id),
            traceparent=self.envelope.traceparent,
            tracestate=self.envelope.tracestate,
        )


class _Outage:
    """A streak of failures of one task, as the Rust runtime's ``Backoff``: logged when it starts and when it
    ends, with waits of 50 ms doubling up to 5 s (times 0.5 to 1, so that tasks do not retry in step)."""

    def __init__(self, doing: _str) -> None:
        self._doing = doing
        self._failures = 0

    def failed(self, error: BaseException) -> _float:
        """Records a failure; returns how long to wait, in seconds, before the next attempt."""
        if self._failures == 0:
            _log.warning("%s failed: %s; retrying", self._doing, error)
        self._failures += 1
        delay = min(0.05 * 2 ** min(self._failures - 1, 16), 5.0)
        return _float(delay * (0.5 + _random.random() * 0.5))

    def recovered(self) -> None:
        """Records a success, ending the streak."""
        if self._failures:
            _log.info("%s works again after %d failed attempts", self._doing, self._failures)
            self._failures = 0


async def _persist(doing: _str, call: _t.Callable[[], _t.Awaitable[_t.Any]]) -> _t.Any:
    """Runs ``call`` until Redis takes it, waiting longer after each failure (a refusal too, as the Rust
    consumer does with the commands that settle an entry)."""
    outage = _Outage(doing)
    while True:
        try:
            return await call()
        except (_redis_errors.RedisError, OSError) as error:
            await _asyncio.sleep(outage.failed(error))


_Entry = _t.Tuple[_str, _t.Dict[_t.Any, _t.Any]]
"""A stream entry: its id and its fields (bytes or str, as the client decodes them; empty when trimmed)."""


class _Reader:
    """Reads streams through a consumer group and settles each entry as the Rust consumer does; the core of
    :class:`Consumer` and :class:`CommandServer` (see the module's docstring for what it leaves out)."""

    def __init__(
        self,
        redis: _aioredis.Redis,
        dispatch: _t.Callable[[Delivery], _t.Awaitable[None]],
        policy_of: _t.Callable[[_str], DeliveryPolicy],
        *,
        streams: _t.Sequence[_str],
        group: _str,
        consumer: _t.Optional[_str],
        namespace: _str,
        start: _str,
        dead_letter_cap: _int,
        batch: _int,
        block: _float,
        claim_idle: _float,
    ) -> None:
        self._redis = redis
        self._dispatch = dispatch
        self._policy_of = policy_of
        self._streams = list(streams)
        self._group = group
        self._consumer = consumer if consumer is not None else f"{_socket.gethostname()}-0"
        self._dead_letters = f"{namespace}:dlq:{group}"
        self._start = start
        self._dead_letter_cap = dead_letter_cap
        self._batch = batch
        self._block_ms = _millis(block)
        self._claim_idle_ms = _millis(claim_idle)

    async def run(self, stop: _t.Optional[_asyncio.Event]) -> None:
        """Reads every stream, each in a task of its own, until ``stop`` is set (checked between reads, so
        within one block time); the entry being handled is settled first."""
        tasks = [_asyncio.ensure_future(self._read(stream, stop)) for stream in self._streams]
        try:
            await _asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await _asyncio.gather(*tasks, return_exceptions=True)

    async def _read(self, stream: _str, stop: _t.Optional[_asyncio.Event]) -> None:
        outage = _Outage(f"reading {stream} in group {self._group}")
        grouped = False
        # The entries this consumer held (a restart) first, then new ones; idle entries of others now and then.
        cursor = "0"
        claim_due = 0.0
        while stop is None or not stop.is_set():
            try:
                if not grouped:
                    await self._create_group(stream)
                    grouped = True
                if _time.monotonic() >= claim_due:
                    claim_due = _time.monotonic() + self._claim_idle_ms / 2000
                    await self._reclaim(stream)
                if cursor == ">":
                    deliveries = [(entry, 1) for entry in await self._next(stream, ">", self._block_ms)]
                else:
                    entries = await self._next(stream, cursor, None)
                    cursor = entries[-1][0] if entries else ">"
                    deliveries = await self._counted(stream, entries)
                outage.recovered()
            except _redis_errors.ResponseError as error:
                if not _str(error).startswith("NOGROUP"):
                    raise
                grouped = False
                await _asyncio.sleep(outage.failed(error))
                continue
            except _Outages as error:
                await _asyncio.sleep(outage.failed(error))
                continue
            for (entry_id, fields), count in deliveries:
                await self._settle(stream, entry_id, fields, count)

    async def _create_group(self, stream: _str) -> None:
        try:
            await self._redis.xgroup_create(stream, self._group, id=self._start, mkstream=True)
            _log.info("created consumer group %s on %s from %s", self._group, stream, self._start)
        except _redis_errors.ResponseError as error:
            if not _str(error).startswith("BUSYGROUP"):
                raise

    async def _next(self, stream: _str, cursor: _str, block: _t.Optional[_int]) -> _t.List[_Entry]:
        """Reads entries after ``cursor``: new ones (``>``, waiting up to ``block`` ms) or this consumer's own
        pending ones."""
        reply = await self._redis.xreadgroup(
            self._group, self._consumer, {stream: cursor}, count=self._batch, block=block
        )
        return [(_text(entry_id), fields or {}) for _, entries in reply or [] for entry_id, fields in entries]

    async def _counted(self, stream: _str, entries: _t.List[_Entry]) -> _t.List[_t.Tuple[_Entry, _int]]:
        """``entries``, pending on this consumer, with their delivery counts."""
        if not entries:
            return []
        rows = await self._redis.xpending_range(
            stream, self._group, min=entries[0][0], max=entries[-1][0], count=len(entries),
            consumername=self._consumer,
        )
        counts = {_text(row["message_id"]): _int(row["times_delivered"]) for row in rows}
        return [(entry, counts.get(entry[0], 1)) for entry in entries]

    async def _reclaim(self, stream: _str) -> None:
        """Claims the entries that consumers left pending longer than the claim idle time, and settles them;
        records those trimmed from the stream meanwhile as lost."""
        cursor = "0-0"
        while True:
            reply = await self._redis.xautoclaim(
                stream, self._group, self._consumer, self._claim_idle_ms, start_id=cursor, count=self._batch
            )
            cursor = _text(reply[0])
            entries = [(_text(entry_id), fields or {}) for entry_id, fields in reply[1]]
            if entries:
                _log.info("claimed %d entries of a stopped consumer on %s", len(entries), stream)
            for (entry_id, fields), count in await self._counted(stream, entries):
                await self._settle(stream, entry_id, fields, count)
            for entry_id in reply[2] if len(reply) > 2 else []:
                error = "trimmed from the stream while pending, before this group handled it"
                await self._dead_letter(stream, _text(entry_id), {}, 0, "lost-to-retention", error)
            if cursor == "0-0":
                return

    async def _settle(self, stream: _str, entry_id: _str, fields: _t.Dict[_t.Any, _t.Any], count: _int) -> None:
        """Delivers the entry until it is handled or dead-lettered, waiting each retry's backoff in place."""
        while True:
            backoff = await self._attempt(stream, entry_id, fields, count)
            if backoff is None:
                return
            await _asyncio.sleep(backoff)
            claimed = await _persist(
                f"claiming a retry on {stream}",
                lambda: self._redis.xclaim(stream, self._group, self._consumer, 0, [entry_id]),
            )
            if not claimed:
                still = await _persist(f"reading {stream}", lambda: self._redis.xrange(stream, entry_id, entry_id))
                if not still:
                    error = "trimmed from the stream while waiting for a retry"
                    await self._dead_letter(stream, entry_id, fields, count, "lost-to-retention", error)
                return
            fields = claimed[0][1] or fields
            count += 1

    async def _attempt(
        self, stream: _str, entry_id: _str, fields: _t.Dict[_t.Any, _t.Any], count: _int
    ) -> _t.Optional[_float]:
        """One delivery: settles the entry, or returns how long to wait, in seconds, before it is retried."""
        if not fields:
            error = "trimmed from the stream while pending, before this group handled it"
            await self._dead_letter(stream, entry_id, fields, count, "lost-to-retention", error)
            return None
        try:
            text, meta = _read_envelope(fields)
        except DecodeError as error:
            await self._dead_letter(stream, entry_id, fields, count, error.reason, _str(error))
            return None
        policy = self._policy_of(meta.type)
        if count > policy.max_attempts:
            why = (
                f"delivered {count} times, more than the {policy.max_attempts} attempts allowed, without being "
                "settled: a consumer probably crashed while handling it"
            )
            await self._dead_letter(stream, entry_id, fields, count, "too-many-deliveries", why)
            return None
        try:
            await self._dispatch(Delivery(meta, stream, entry_id, count, text))
        except Exception as error:  # every handler error settles the entry; none stops the consumer
            failure = _failure(error)
            if failure.retryable and count < policy.max_attempts:
                _log.debug("handler failed on %s %s (attempt %d); will retry: %s", stream, entry_id, count, failure.text)
                return policy.backoff_ms(count) / 1000 * (1 + _random.random() * 0.25)
            await self._dead_letter(stream, entry_id, fields, count, failure.reason, failure.text)
            return None
        await self._ack(stream, entry_id)
        return None

    async def _ack(self, stream: _str, entry_id: _str) -> None:
        await _persist(f"acknowledging on {stream}", lambda: self._redis.xack(stream, self._group, entry_id))

    async def _dead_letter(
        self,
        stream: _str,
        entry_id: _str,
        fields: _t.Mapping[_t.Any, _t.Any],
        attempts: _int,
        reason: _str,
        error: _str,
    ) -> None:
        """Copies the entry to the dead-letter stream with why, then acknowledges it: a crash in between leaves
        a duplicate dead letter, never a loss."""
        _log.warning(
            "dead-lettering entry %s of %s (group %s, %d attempts, %s): %s",
            entry_id, stream, self._group, attempts, reason, error,
        )
        letter: _t.Dict[_t.Any, _t.Any] = dict(fields)
        letter.update(
            dlqstream=stream,
            dlqentryid=entry_id,
            dlqgroup=self._group,
            dlqconsumer=self._consumer,
            dlqattempts=_str(attempts),
            dlqreason=reason,
            dlqerror=error,
            dlqtime=_wire_time_ms(_now()),
        )
        await _persist(
            f"dead-lettering to {self._dead_letters}",
            lambda: self._redis.xadd(self._dead_letters, letter, maxlen=self._dead_letter_cap, approximate=True),
        )
        await self._ack(stream, entry_id)


class Consumer:
    """Handles events through the consumer group ``group``, as the Rust consumer does in the simple case (see
    the module's docstring: what it does, and what it leaves to the caller). ``handler`` is called with each
    event, decoded into its model, and its :class:`Delivery`; returning acknowledges the entry, raising retries
    it after the type's ``POLICY`` or dead-letters it (:class:`HandlerError`).

    It reads every stream of ``categories`` (all of the catalog's when not given), or the stream keys in
    ``streams``. ``consumer`` names this instance in the group (keep it across restarts, so that a restarted
    instance works off what it held; by default ``<host name>-0``, as the Rust runtime's); ``start`` is where
    a new group starts (``$``: what is published from now on; ``0``: everything in the stream). Times are in
    seconds: ``block``, how long one read waits; ``claim_idle``, how long an entry stays pending on a consumer
    before another takes it. ``default_policy`` is that of types this module does not know, and caps the
    dead-letter stream."""

    def __init__(
        self,
        redis: _aioredis.Redis,
        handler: _t.Callable[[_Event, Delivery], _t.Awaitable[None]],
        *,
        group: _str,
        categories: _t.Optional[_t.Iterable[_str]] = None,
        streams: _t.Optional[_t.Sequence[_str]] = None,
        consumer: _t.Optional[_str] = None,
        namespace: _str = DEFAULT_NAMESPACE,
        start: _str = "$",
        default_policy: DeliveryPolicy = DEFAULT_POLICY,
        batch: _int = 100,
        block: _float = 5.0,
        claim_idle: _float = 60.0,
    ) -> None:
        if streams is None:
            names = STREAMS if categories is None else categories
            streams = [stream for category in names for stream in event_streams(category, namespace=namespace)]
        self._handler = handler
        self._reader = _Reader(
            redis,
            self._dispatch,
            lambda event_type: _POLICIES.get(event_type, default_policy),
            streams=streams,
            group=group,
            consumer=consumer,
            namespace=namespace,
            start=start,
            dead_letter_cap=default_policy.max_len,
            batch=batch,
            block=block,
            claim_idle=claim_idle,
        )

    async def run(self, stop: _t.Optional[_asyncio.Event] = None) -> None:
        """Handles events until ``stop`` is set (within one block time), or until cancelled (the entry being
        handled then stays pending, and is delivered again). Waits out Redis outages; raises when Redis refuses
        to create a group."""
        await self._reader.run(stop)

    async def _dispatch(self, delivery: Delivery) -> None:
        await self._handler(_event(delivery.envelope), delivery)


class CommandError(Exception):
    """Why a command call did not produce a response, as the Rust runtime's ``CommandError``: one of
    :class:`CommandTimeout`, :class:`CommandFailed` and :class:`CommandTransportError`."""

    def __init__(self, command: _str, message: _str) -> None:
        super().__init__(message)
        self.command = command


class CommandTimeout(CommandError):
    """No reply in time: no instance of the target is running, or it is too slow."""

    def __init__(self, command: _str, target: _str, after_ms: _int) -> None:
        after = f"{after_ms / 1000:g}s" if after_ms >= 1000 else f"{after_ms}ms"
        super().__init__(command, f"no reply to `{command}` from `{target}` within {after}: is `{target}` running?")
        self.target = target
        self.after_ms = after_ms


class CommandFailed(CommandError):
    """The handler answered with an error; ``reason`` is its text, e.g. ``permanent: no such company``."""

    def __init__(self, command: _str, target: _str, reason: _str) -> None:
        super().__init__(command, f"`{command}` failed in `{target}`: {reason}")
        self.target = target
        self.reason = reason


class CommandTransportError(CommandError):
    """The request could not be sent, or the reply could not be read."""

    def __init__(self, command: _str, reason: _str) -> None:
        super().__init__(command, f"`{command}` could not be carried: {reason}")
        self.reason = reason


class _Calls:
    """What the clones of one command client share: the connection, the reply stream, its reader task and the
    calls waiting for a reply, by request id."""

    def __init__(self, redis: _aioredis.Redis, source: _str, namespace: _str, block: _float) -> None:
        self.redis = redis
        self.source = source
        self.namespace = namespace
        self.reply_stream = f"{namespace}:replies:{source}-{_uuid7().hex}"
        self.block_ms = _millis(block)
        self.waiting: _t.Dict[_uuid.UUID, _asyncio.Future[_t.Dict[_str, _str]]] = {}
        self.reader: _t.Optional[_asyncio.Task[None]] = None

    def start(self) -> None:
        """Starts the reader of the reply stream, or starts it again if it died."""
        if self.reader is None or self.reader.done():
            self.reader = _asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        """Reads the reply stream and hands each reply to the call waiting for it; runs until cancelled."""
        last = "0-0"
        outage = _Outage("reading command replies")
        while True:
            try:
                reply = await self.redis.xread({self.reply_stream: last}, count=100, block=self.block_ms)
                outage.recovered()
            except (_redis_errors.RedisError, OSError) as error:
                await _asyncio.sleep(outage.failed(error))
                continue
            for _, entries in reply or []:
                for entry_id, fields in entries:
                    last = _text(entry_id)
                    self._route(last, fields or {})

    def _route(self, entry_id: _str, raw: _t.Mapping[_t.Any, _t.Any]) -> None:
        try:
            fields = {_text(name): _text(value) for name, value in raw.items()}
            request = _uuid.UUID(fields["causationid"])
        except (KeyError, ValueError) as error:
            _log.warning("unreadable command reply %s on %s: dropped (%r)", entry_id, self.reply_stream, error)
            return
        call = self.waiting.pop(request, None)
        if call is None or call.done():
            _log.debug("reply %s for a call that no longer waits (timed out or dropped): dropped", entry_id)
            return
        call.set_result(fields)


_C = _t.TypeVar("_C", bound="_Caller")


class _Caller:
    """Sends commands and waits for their replies, as the Rust runtime's ``Caller``: the base of the generated
    :class:`CommandClient`, whose typed methods call it.

    A request is an envelope (``type`` the command, ``subject`` the request id) on ``<ns>:commands:<target>``
    plus ``replyto``, this client's reply stream ``<ns>:replies:<source>-<id>``, and ``deadline``, when it
    stops waiting. One task reads the reply stream (started by the first call, or by ``async with``; stopped
    by :meth:`close`) and hands each reply to the call waiting for its request id; a reply that comes after its
    call timed out is dropped. ``block`` is how long, in seconds, one read of the reply stream waits (keep the
    client's socket timeout above it)."""

    def __init__(
        self,
        redis: _aioredis.Redis,
        source: _str,
        *,
        namespace: _str = DEFAULT_NAMESPACE,
        policy: DeliveryPolicy = DEFAULT_POLICY,
        block: _float = 5.0,
    ) -> None:
        self._calls = _Calls(redis, source, namespace, block)
        self._policy = policy
        self._context = _FollowUp(correlation_id=None, causation_id=None, traceparent=None, tracestate=None)

    async def __aenter__(self: _C) -> _C:
        self._calls.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    @property
    def reply_stream(self) -> _str:
        """This client's reply stream, ``<ns>:replies:<source>-<id>``."""
        return self._calls.reply_stream

    def with_context(
        self: _C,
        *,
        correlation_id: _t.Optional[_str] = None,
        causation_id: _t.Optional[_str] = None,
        traceparent: _t.Optional[_str] = None,
        tracestate: _t.Optional[_str] = None,
    ) -> _C:
        """A client sharing this one's reply stream whose calls carry this correlation id (otherwise each
        request is its own), causation id and trace; in a handler, pass ``**delivery.follow_up()``."""
        other = _copy.copy(self)
        other._context = _FollowUp(
            correlation_id=correlation_id, causation_id=causation_id, traceparent=traceparent, tracestate=tracestate
        )
        return other

    async def close(self) -> None:
        """Stops reading replies (for this client and its copies); calls still waiting time out."""
        reader, self._calls.reader = self._calls.reader, None
        if reader is not None:
            reader.cancel()
            await _asyncio.gather(reader, return_exceptions=True)

    async def _call(self, request: _Request, response: _t.Type[_M], timeout: _t.Optional[_float]) -> _M:
        """Sends ``request`` and waits for its reply, at most ``timeout`` seconds (the command's own by
        default): the response, or :class:`CommandError`."""
        after_ms = request.TIMEOUT_MS if timeout is None else _millis(timeout)
        loop = _asyncio.get_running_loop()
        give_up = loop.time() + after_ms / 1000
        calls = self._calls
        calls.start()
        request_id = _uuid7()
        context = self._context
        sent_at = _now()
        fields: _t.Dict[_t.Any, _t.Any] = Envelope(
            id=request_id,
            type=request.NAME,
            version=request.VERSION,
            source=calls.source,
            time=sent_at,
            subject=_str(request_id),
            correlationid=context["correlation_id"] or _str(request_id),
            causationid=context["causation_id"],
            traceparent=context["traceparent"],
            tracestate=context["tracestate"],
            data=request.model_dump_json(by_alias=True),
        ).to_fields()
        fields["replyto"] = calls.reply_stream
        fields["deadline"] = _wire_time_ms(sent_at + _dt.timedelta(milliseconds=after_ms))
        stream = f"{calls.namespace}:commands:{request.TARGET}"
        answer: _asyncio.Future[_t.Dict[_str, _str]] = loop.create_future()
        calls.waiting[request_id] = answer
        try:
            try:
                await _asyncio.wait_for(self._send(stream, fields), after_ms / 1000)
            except (_redis_errors.RedisError, OSError, _asyncio.TimeoutError) as error:
                reason = f"cannot send the request to `{stream}`: {error or type(error).__name__}"
                raise CommandTransportError(request.NAME, reason) from error
            try:
                reply = await _asyncio.wait_for(answer, max(give_up - loop.time(), 0))
            except _asyncio.TimeoutError:
                raise CommandTimeout(request.NAME, request.TARGET, after_ms) from None
        finally:
            calls.waiting.pop(request_id, None)
        return _answer(request, response, reply)

    async def _send(self, stream: _str, fields: _t.Dict[_t.Any, _t.Any]) -> None:
        """Adds the request to ``stream``, trimmed by age and length like an event stream, in one round trip."""
        oldest = max(_time.time_ns() // 1_000_000 - self._policy.retention_ms, 0)
        pipe = self._calls.redis.pipeline(transaction=False)
        pipe.xadd(stream, fields, minid=oldest, approximate=True)
        pipe.xtrim(stream, maxlen=self._policy.max_len, approximate=True)
        await pipe.execute()


def _answer(request: _Request, response: _t.Type[_M], reply: _t.Dict[_str, _str]) -> _M:
    """The response a reply carries, or the :class:`CommandError` it means."""
    try:
        _, meta = _read_envelope(reply)
    except DecodeError as error:
        raise CommandTransportError(request.NAME, f"the reply is no envelope: {error}") from error
    status = reply.get("status")
    if status == "error":
        raise CommandFailed(request.NAME, request.TARGET, reply.get("error", "(the server gave no reason)"))
    if status != "ok":
        problem = "has no `status`" if status is None else f"has an unknown `status` {status!r}"
        raise CommandTransportError(request.NAME, f"the reply {problem}")
    try:
        return response.model_validate_json(meta.data)
    except _pd.ValidationError as error:
        raise CommandTransportError(request.NAME, f"cannot decode the response: {error}") from error


class _CommandHandlers(_abc.ABC):
    """The handlers of one service's commands: the base of the generated ``<Service>Commands``, which has a
    method per command and decodes each request by its command name."""

    TARGET: _t.ClassVar[_str]
    COMMANDS: _t.ClassVar[_t.Tuple[_str, ...]]

    @_abc.abstractmethod
    async def serve(self, delivery: Delivery) -> _str:
        """Decodes the request in ``delivery``, calls its handler and returns the response as JSON."""


class CommandServer:
    """Serves one service's commands from ``<ns>:commands:<service>`` through the consumer group ``group`` (the
    service's name by default), as the Rust ``CommandServer`` does: instances that share the group share the
    commands, and each reply goes to the caller's reply stream with the fields the Rust server writes (an
    envelope answering the request, ``status`` ``ok`` with the response as ``data``, or ``error`` with the
    handler's error as ``error``), capped near 10,000 entries and expiring ``reply_ttl`` seconds after the
    last reply.

    A handler's success is replied to, then acknowledged (a reply that cannot be written is retried like a
    failure); a permanent error (:class:`HandlerError`), an undecodable request or an unknown command is
    answered at once with an error and dead-lettered; a retryable one is retried without a reply, and answered
    after the last attempt of ``policy``. A request past its ``deadline`` is acknowledged without running; one
    whose ``replyto`` is not a reply stream of this namespace is dead-lettered without running. A new group
    starts at the beginning of the stream. The other settings are :class:`Consumer`'s."""

    def __init__(
        self,
        redis: _aioredis.Redis,
        handlers: _CommandHandlers,
        source: _str,
        *,
        group: _t.Optional[_str] = None,
        consumer: _t.Optional[_str] = None,
        namespace: _str = DEFAULT_NAMESPACE,
        policy: DeliveryPolicy = DEFAULT_POLICY,
        reply_ttl: _float = 60.0,
        batch: _int = 100,
        block: _float = 5.0,
        claim_idle: _float = 60.0,
    ) -> None:
        self._redis = redis
        self._handlers = handlers
        self._source = source
        self._policy = policy
        self._reply_prefix = f"{namespace}:replies:"
        self._reply_ttl_ms = _millis(reply_ttl)
        self._reader = _Reader(
            redis,
            self._serve,
            lambda _command: policy,
            streams=[f"{namespace}:commands:{handlers.TARGET}"],
            group=group if group is not None else source,
            consumer=consumer,
            namespace=namespace,
            start="0",
            dead_letter_cap=policy.max_len,
            batch=batch,
            block=block,
            claim_idle=claim_idle,
        )

    async def run(self, stop: _t.Optional[_asyncio.Event] = None) -> None:
        """Serves commands until ``stop`` is set, as :meth:`Consumer.run`."""
        await self._reader.run(stop)

    async def _serve(self, delivery: Delivery) -> None:
        reply_to = delivery.fields.get("replyto")
        if reply_to is not None and not (len(reply_to) > len(self._reply_prefix) and reply_to.startswith(self._reply_prefix)):
            raise HandlerError.permanent(
                f"`replyto` is `{reply_to}`, not a reply stream of this namespace (`{self._reply_prefix}…`): not served"
            )
        if _past_deadline(delivery.fields.get("deadline")):
            _log.info("command %s past its deadline, its caller no longer waits: dropped", delivery.entry_id)
            return
        try:
            data = await self._handlers.serve(delivery)
        except Exception as error:
            failure = _failure(error)
            last = not failure.retryable or delivery.delivery_count >= self._policy.max_attempts
            if last and reply_to is not None:
                try:
                    await self._reply(reply_to, delivery.envelope, "null", failure.text)
                except (_redis_errors.RedisError, OSError) as unsent:
                    _log.warning("cannot send the error reply to %s; the caller will time out: %s", reply_to, unsent)
            raise
        if reply_to is not None:
            try:
                await self._reply(reply_to, delivery.envelope, data, None)
            except (_redis_errors.RedisError, OSError) as error:
                raise HandlerError.retry(f"cannot send the reply to `{reply_to}`: {error}") from error

    async def _reply(self, to: _str, request: Envelope, data: _str, error: _t.Optional[_str]) -> None:
        """Adds the reply to stream ``to`` and renews the stream's expiry, in one round trip."""
        fields: _t.Dict[_t.Any, _t.Any] = Envelope(
            id=_uuid7(),
            type=request.type,
            version=request.version,
            source=self._source,
            time=_now(),
            subject=_str(request.id),
            correlationid=request.correlationid,
            causationid=_str(request.id),
            traceparent=request.traceparent,
            tracestate=request.tracestate,
            data=data,
        ).to_fields()
        fields["status"] = "ok" if error is None else "error"
        if error is not None:
            fields["error"] = error
        pipe = self._redis.pipeline(transaction=False)
        pipe.xadd(to, fields, maxlen=_REPLY_CAP, approximate=True)
        pipe.pexpire(to, self._reply_ttl_ms)
        await pipe.execute()


def _past_deadline(deadline: _t.Optional[_str]) -> _bool:
    """Whether a request's ``deadline`` has passed; a malformed one is a permanent error."""
    if deadline is None:
        return False
    try:
        moment = _dt.datetime.fromisoformat(deadline.replace("Z", "+00:00"))
    except ValueError as error:
        raise HandlerError.permanent(f"`deadline` is not an RFC 3339 time ({deadline!r}): {error}") from error
    if moment.tzinfo is None:
        raise HandlerError.permanent(f"`deadline` is not an RFC 3339 time ({deadline!r}): it has no offset")
    return moment < _now()
