"""The Python side of codegen/compile-test/tests/python_messaging.rs: commands, notifications and a consumer with
the committed module of XERPIUM's catalog (generated/python/xerpium_events.py), through a real redis-server.
Each mode prints JSON lines; the long-running ones stop when their standard input closes.

    messaging.py call URL NAMESPACE COMPANY_ID   call company-partner's commands, print each outcome
    messaging.py serve URL NAMESPACE USER_ID     serve user-auth's commands (one known user)
    messaging.py subscribe URL NAMESPACE USER ROLE COUNT
                                                 print `subscribed`, then COUNT notifications for USER
    messaging.py notify URL NAMESPACE ROLE       send one notification to ROLE, print how many received it
    messaging.py consume URL NAMESPACE GROUP CONSUMER
                                                 handle the `user` events in GROUP, print each
"""

import asyncio
import json
from datetime import datetime, timezone
import sys
import threading
import uuid

import redis.asyncio

import xerpium_events as x


def out(line):
    print(json.dumps(line), flush=True)


def stop_at_end_of_input():
    """An event set when standard input closes (the test is done)."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()

    def wait():
        sys.stdin.read()
        loop.call_soon_threadsafe(stop.set)

    threading.Thread(target=wait, daemon=True).start()
    return stop


async def call(client, namespace, company_id):
    async with x.CommandClient(client, source="python-caller", namespace=namespace, block=0.2) as commands:
        traced = commands.with_context(correlation_id="req-42")
        found = await traced.company_get(x.CompanyGetRequest(company_id=company_id))
        out({"found": json.loads(found.model_dump_json(by_alias=True))})
        missing = await traced.company_get(x.CompanyGetRequest(company_id=uuid.uuid4()))
        out({"missing": json.loads(missing.model_dump_json(by_alias=True))})
        try:
            await traced.partner_validate_vat(x.PartnerValidateVatRequest(country="GB", vat_number="GB1"))
        except x.CommandFailed as error:
            out({"failed": error.reason, "message": str(error)})
        try:
            await commands.user_get_profile(x.UserGetProfileRequest(user_id=uuid.uuid4()), timeout=0.3)
        except x.CommandTimeout as error:
            out({"timeout": str(error)})
        out({"reply_stream": commands.reply_stream})


class Profiles(x.UserAuthCommands):
    """Knows one user; refuses the nil id; wants the caller's correlation id."""

    def __init__(self, known):
        self.known = known

    async def user_get_profile(self, request, delivery):
        if delivery.envelope.correlationid != "req-7":
            raise x.HandlerError.permanent("the correlation id did not come through")
        if request.user_id == uuid.UUID(int=0):
            raise x.HandlerError.permanent("no such user")
        if request.user_id != self.known:
            return x.UserGetProfileResponse()
        profile = x.UserProfile(
            user_id=self.known,
            company_id=uuid.UUID(int=1),
            email="ada@example.com",
            display_name="Ada",
            roles=[x.UserRole.ADMIN],
            locked=False,
        )
        return x.UserGetProfileResponse(profile=profile)


async def serve(client, namespace, user_id):
    server = x.CommandServer(
        client, Profiles(uuid.UUID(user_id)), "python-server", namespace=namespace, block=0.1, reply_ttl=30
    )
    await server.run(stop_at_end_of_input())


async def subscribe(client, namespace, user, role, count):
    async with x.subscribe_user(client, user, [role], namespace=namespace) as inbox:
        out("subscribed")
        received = 0
        async for note in inbox:
            out(json.loads(note.model_dump_json(by_alias=True)))
            received += 1
            if received == int(count):
                return


async def notify(client, namespace, role):
    receivers = await x.Notifier(client, namespace=namespace).notify_role(
        role, x.NotificationType.SUCCESS, "Imported", "42 partners imported.", {"count": 42}
    )
    out({"receivers": receivers})


async def consume(client, namespace, group, consumer):
    """Handles `user.created`: the e-mail `flaky…` fails once, `refused…` for good; `a@…` causes a
    `system.service_started`; every handled event printed."""
    failed = set()

    async def handle(event, delivery):
        if isinstance(event, x.UserCreated) and event.email.startswith("refused"):
            raise x.HandlerError.permanent("refused by the test")
        if isinstance(event, x.UserCreated) and event.email.startswith("flaky") and event.email not in failed:
            failed.add(event.email)
            raise RuntimeError("flaky once")
        if isinstance(event, x.UserCreated) and event.email.startswith("a@"):
            started = x.SystemServiceStarted(
                service="python-consumer", instance=consumer, service_version="1", started_at=datetime.now(timezone.utc)
            )
            await x.publish_async(client, started, "python-consumer", namespace=namespace, **delivery.follow_up())
        out({
            "id": str(delivery.envelope.id),
            "type": delivery.envelope.type,
            "model": type(event).__name__,
            "subject": delivery.envelope.subject,
            "stream": delivery.stream,
            "entry_id": delivery.entry_id,
            "delivery": delivery.delivery_count,
            "correlation_id": delivery.envelope.correlationid,
        })

    events = x.Consumer(
        client, handle, group=group, consumer=consumer, categories=["user"], namespace=namespace, start="0",
        block=0.1, claim_idle=1.0,
    )
    await events.run(stop_at_end_of_input())


async def main():
    mode, url, rest = sys.argv[1], sys.argv[2], sys.argv[3:]
    client = redis.asyncio.Redis.from_url(url)
    modes = {"call": call, "serve": serve, "subscribe": subscribe, "notify": notify, "consume": consume}
    if mode not in modes:
        sys.exit(f"unknown mode {mode}")
    try:
        await modes[mode](client, *rest)
    finally:
        await client.aclose()


if __name__ == "__main__":
    asyncio.run(main())
