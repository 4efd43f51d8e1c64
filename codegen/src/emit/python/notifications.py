

def notification_channel(target: NotificationTarget, *, namespace: _str = DEFAULT_NAMESPACE) -> _str:
    """The Pub/Sub channel of ``target``, as the Rust runtime names it: ``<ns>:notify:user:<id>``,
    ``<ns>:notify:role:<role>`` or ``<ns>:notify:all``. Raises ``ValueError`` for a user or role target
    without an id."""
    kind = NotificationTargetKind(target.kind)
    if kind is NotificationTargetKind.ALL:
        return f"{namespace}:notify:all"
    if target.id is None:
        raise ValueError(f"a `{kind.value}` notification target needs an id")
    return f"{namespace}:notify:{kind.value}:{target.id}"


class _Notify:
    """Sends notifications with ``PUBLISH`` on their target's channel, as the Rust runtime's ``Notifier``: the
    base of the generated :class:`Notifier`. Fire and forget: a notification reaches the subscribers listening
    at that moment and no one else; it is neither stored nor retried."""

    def __init__(self, redis: _aioredis.Redis, *, namespace: _str = DEFAULT_NAMESPACE) -> None:
        self._redis = redis
        self._namespace = namespace

    async def send(
        self,
        target: NotificationTarget,
        kind: _Open[NotificationType],
        title: _str,
        message: _str,
        data: _t.Any = None,
    ) -> _int:
        """Publishes a notification to ``target``'s channel with a new id and the current time; returns how
        many subscriptions received it (0: nobody was listening, and nobody ever will receive this one)."""
        now = _now()
        note = Notification(
            id=_uuid7(),
            time=now.replace(microsecond=now.microsecond // 1000 * 1000),
            target=target,
            type=kind,
            title=title,
            message=message,
            data=data,
        )
        channel = notification_channel(target, namespace=self._namespace)
        return _int(await self._redis.publish(channel, note.model_dump_json(by_alias=True)))


class NotificationSubscription:
    """The notifications sent to some targets (:func:`subscribe`, :func:`subscribe_user`), as an async iterator
    of :class:`Notification` in the order Redis delivered them, as the Rust runtime's ``NotificationStream``.
    Open it with ``async with`` (or :meth:`open`): it receives what is sent from then on, and holds a
    Pub/Sub connection until closed. After a lost connection it resubscribes by itself; what is sent meanwhile
    is missed. An unreadable notification is logged and skipped. With no target, it ends at once."""

    def __init__(self, redis: _aioredis.Redis, channels: _t.Iterable[_str]) -> None:
        self._redis = redis
        self.channels: _t.List[_str] = sorted(set(channels))
        """The channels subscribed to, sorted."""
        self._pubsub: _t.Optional[_aioredis.client.PubSub] = None
        self._early: _t.List[Notification] = []

    async def __aenter__(self) -> NotificationSubscription:
        await self.open()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    def __aiter__(self) -> NotificationSubscription:
        return self

    async def open(self) -> None:
        """Subscribes, and returns once Redis confirmed every channel; raises when Redis cannot be reached."""
        if self.channels:
            await self._subscribed()

    async def _subscribed(self) -> _aioredis.client.PubSub:
        """The Pub/Sub connection, subscribed to every channel."""
        if self._pubsub is not None:
            return self._pubsub
        pubsub = self._redis.pubsub()
        try:
            await pubsub.subscribe(*self.channels)
            confirmed = 0
            while confirmed < len(self.channels):
                message = await pubsub.get_message(timeout=None)
                if message is None:
                    continue
                if message["type"] == "subscribe":
                    confirmed += 1
                else:
                    self._keep(message)
        except BaseException:
            await _unsubscribe(pubsub)
            raise
        self._pubsub = pubsub
        return pubsub

    async def close(self) -> None:
        """Unsubscribes and lets go of the connection."""
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            await _unsubscribe(pubsub)

    async def __anext__(self) -> Notification:
        if not self.channels:
            raise StopAsyncIteration
        outage = _Outage(f"subscribing to {', '.join(self.channels)}")
        while not self._early:
            try:
                pubsub = await self._subscribed()
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=None)
                outage.recovered()
            except _Outages as error:
                _log.warning("notification subscription lost; resubscribing (what is sent meanwhile is missed)")
                await self.close()
                await _asyncio.sleep(outage.failed(error))
                continue
            if message is not None:
                self._keep(message)
        return self._early.pop(0)

    def _keep(self, message: _t.Mapping[_str, _t.Any]) -> None:
        """Keeps the notification ``message`` carries, for the reader; logs one that cannot be read."""
        if message.get("type") != "message":
            return
        try:
            self._early.append(Notification.model_validate_json(message["data"]))
        except _pd.ValidationError as error:
            _log.warning("unreadable notification on %s: dropped (%s)", _text(message["channel"]), error)


async def _unsubscribe(pubsub: _t.Any) -> None:
    """Closes a Pub/Sub connection (redis-py's ``aclose`` has no annotations, hence ``pubsub: Any``)."""
    await pubsub.aclose()


def subscribe(
    redis: _aioredis.Redis,
    targets: _t.Iterable[NotificationTarget],
    *,
    namespace: _str = DEFAULT_NAMESPACE,
) -> NotificationSubscription:
    """A subscription to the notifications sent to any of ``targets``; open it with ``async with``."""
    return NotificationSubscription(redis, [notification_channel(target, namespace=namespace) for target in targets])


def subscribe_user(
    redis: _aioredis.Redis,
    user_id: _str,
    roles: _t.Iterable[_str] = (),
    *,
    namespace: _str = DEFAULT_NAMESPACE,
) -> NotificationSubscription:
    """A subscription to the notifications for user ``user_id``: those sent to them, to any of ``roles``, and
    to everyone; open it with ``async with``."""
    targets = [NotificationTarget(kind=NotificationTargetKind.USER, id=user_id)]
    targets.extend(NotificationTarget(kind=NotificationTargetKind.ROLE, id=role) for role in roles)
    targets.append(NotificationTarget(kind=NotificationTargetKind.ALL))
    return subscribe(redis, targets, namespace=namespace)
