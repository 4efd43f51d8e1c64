"""Unit tests of the Python module generated from codegen/tests/fixtures/everything.yaml.

Run by codegen/compile-test/tests/python.rs, which generates the module into a
temporary directory on PYTHONPATH and runs `python -m unittest` on this file.
"""

import asyncio
import datetime
import decimal
import json
import pathlib
import time
import unittest
import uuid

import pydantic
import redis.exceptions

import xerpium_events as x

ENTRY = "00000000-0000-0000-0000-000000000007"

# Written beside the module by python.rs: partitions, stream keys and delivery policies as the Rust runtime has them.
RUST_VECTORS = pathlib.Path(x.__file__).with_name("rust_vectors.json")

HOUR_MS = 3600 * 1000


def posted_payload(**changes):
    payload = {
        "entry_id": ENTRY,
        "amount": {"amount": "12.50", "currency": "EUR"},
        "nested": [{"a": {"amount": "1", "currency": "EUR"}, "b": None}],
        "tags": {"k": "v"},
        "roles": ["admin", "v2_api"],
        "raw": {"any": [1, "two", None]},
        "ratio": 0.25,
        "big": 2**64 - 1,
        "total": -9_000_000_000,
        "posted_at": "2026-11-26T10:00:00.123456Z",
        "value_date": "2026-11-30",
    }
    payload.update(changes)
    return payload


class Models(unittest.TestCase):
    def test_a_payload_validates_with_defaults_filled_in(self):
        event = x.LedgerPosted.model_validate(posted_payload())
        self.assertEqual(event.entry_id, uuid.UUID(ENTRY))
        self.assertEqual(event.amount.amount, decimal.Decimal("12.50"))
        self.assertEqual(event.role, x.Role.READ_ONLY)
        self.assertEqual((event.small, event.count, event.enabled, event.weight), (-5, 7, True, 0.5))
        self.assertEqual(event.rate, decimal.Decimal("1.25"))
        self.assertEqual(event.labels, [])
        self.assertIsNone(event.note)
        self.assertEqual(event.posted_at.tzinfo.utcoffset(None), datetime.timedelta(0))

    def test_it_writes_the_wire_format(self):
        event = x.LedgerPosted.model_validate(posted_payload(note=None))
        data = json.loads(event.model_dump_json(by_alias=True))
        self.assertNotIn("note", data, "absent optional fields are left out")
        self.assertNotIn("maybe_money", data)
        self.assertEqual(data["amount"], {"amount": "12.50", "currency": "EUR"}, "decimals are strings")
        self.assertEqual(data["rate"], "1.25")
        self.assertEqual(data["nested"], [{"a": {"amount": "1", "currency": "EUR"}, "b": None}])
        self.assertEqual(data["big"], 2**64 - 1)
        big = x.Money(amount=decimal.Decimal("1E+3"))
        self.assertEqual(json.loads(big.model_dump_json(by_alias=True))["amount"], "1000", "never an exponent")

    def test_keyword_fields_keep_their_wire_names(self):
        keywords = x.Keywords.model_validate({"type": "t", "match": 1, "async": True, "gen": 2, "class": "c"})
        self.assertEqual((keywords.async_, keywords.class_, keywords.from_), (True, "c", None))
        data = json.loads(keywords.model_dump_json(by_alias=True))
        self.assertEqual(data, {"type": "t", "match": 1, "async": True, "gen": 2, "class": "c"})
        by_name = x.Keywords(type="t", match=1, async_=False, gen=0, from_=datetime.date(2026, 1, 31))
        self.assertEqual(json.loads(by_name.model_dump_json(by_alias=True))["from"], "2026-01-31")

    def test_invalid_payloads_are_rejected(self):
        for change in (
            {"entry_id": "42"},
            {"role": 3},
            {"count": -1},
            {"small": 2**40},
            {"big": 2**64},
            {"posted_at": "2026-11-26T10:00:00"},
            {"value_date": "2026-13-45"},
            {"amount": {"currency": "EUR"}},
        ):
            with self.subTest(change=change), self.assertRaises(pydantic.ValidationError):
                x.LedgerPosted.model_validate(posted_payload(**change))
        missing = posted_payload()
        del missing["entry_id"]
        with self.assertRaises(pydantic.ValidationError):
            x.LedgerPosted.model_validate(missing)

    def test_an_enum_value_added_after_the_module_is_kept_as_a_string(self):
        event = x.LedgerPosted.model_validate(posted_payload(role="auditor", roles=["admin", "auditor"], flag="maybe"))
        self.assertEqual((event.role, event.roles, event.flag), ("auditor", [x.Role.ADMIN, "auditor"], "maybe"))
        self.assertNotIsInstance(event.role, x.Role)
        self.assertIsInstance(event.roles[0], x.Role, "a known value is still the enum's member")
        data = json.loads(event.model_dump_json(by_alias=True))
        self.assertEqual((data["role"], data["roles"], data["flag"]), ("auditor", ["admin", "auditor"], "maybe"))
        self.assertEqual(list(x.Role), [x.Role.ADMIN, x.Role.READ_ONLY, x.Role.V2_API, x.Role.A1], "only the known")

    def test_versions_side_by_side_are_separate_models(self):
        self.assertIs(x.EVENTS[("ledger.closed", 1)], x.LedgerClosedV1)
        self.assertIs(x.EVENTS[("ledger.closed", 3)], x.LedgerClosed)
        self.assertEqual((x.LedgerClosedV2.TYPE, x.LedgerClosedV2.VERSION), ("ledger.closed", 2))
        x.LedgerClosedV1.model_validate({"period_id": ENTRY, "balance": 1.5})
        with self.assertRaises(pydantic.ValidationError):
            x.LedgerClosed.model_validate({"period_id": ENTRY, "balance": 1.5})

    def test_commands_and_notifications(self):
        self.assertEqual((x.LedgerGetEntryRequest.NAME, x.LedgerGetEntryRequest.TARGET), ("ledger.get_entry", "ledger-service"))
        response = x.LedgerGetEntryResponse(found=True)
        self.assertEqual(json.loads(response.model_dump_json(by_alias=True)), {"found": True})
        # As the runtime's Notifier publishes it on `<ns>:notify:role:admin`.
        sent = {
            "id": "019ac2a4-4a5b-7cc3-8f4e-6a1f0f4b1c2d",
            "time": "2026-11-26T10:00:00.123Z",
            "target": {"kind": "role", "id": "admin"},
            "type": "warning",
            "title": "Disk",
            "message": "Almost full",
        }
        note = x.Notification.model_validate_json(json.dumps(sent))
        self.assertEqual(note.type, x.NotificationType.WARNING)
        self.assertEqual((note.target.kind, note.target.id), (x.NotificationTargetKind.ROLE, "admin"))
        self.assertIsNone(note.data)
        everyone = x.Notification.model_validate({**sent, "target": {"kind": "all"}})
        self.assertNotIn("id", json.loads(everyone.target.model_dump_json(by_alias=True)))
        self.assertEqual(x.Notification.model_validate({**sent, "type": "fatal"}).type, "fatal", "a type added later")
        with self.assertRaises(pydantic.ValidationError):
            x.Notification.model_validate({**sent, "target": {"kind": "nobody"}})


class Wire(unittest.TestCase):
    def test_envelope_fields_in_wire_order(self):
        event = x.MatchType(id=9, self="s")
        envelope = x.envelope(event, "py-test", correlation_id="c-1", causation_id="m-0")
        fields = envelope.to_fields()
        self.assertEqual(
            list(fields),
            ["specversion", "id", "type", "version", "source", "time", "subject", "correlationid",
             "causationid", "datacontenttype", "data"],
        )
        self.assertEqual(fields["type"], "match.type")
        self.assertEqual(fields["version"], "1")
        self.assertEqual(fields["subject"], "9")
        self.assertEqual(json.loads(fields["data"]), {"id": 9, "self": "s"})
        self.assertRegex(fields["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
        self.assertEqual(uuid.UUID(fields["id"]).version, 7)

    def test_a_message_with_no_correlation_id_starts_a_chain(self):
        first, second = (x.envelope(x.MatchType(id=n, self="s"), "py-test") for n in (1, 2))
        self.assertEqual((first.correlationid, second.correlationid), (str(first.id), str(second.id)))
        self.assertNotEqual(first.id, second.id)

    def test_decode_reads_redis_py_fields(self):
        event = x.LedgerClosedV1(period_id=ENTRY, balance=2.5)
        raw = {name.encode(): value.encode() for name, value in x.envelope(event, "py-test").to_fields().items()}
        envelope, decoded = x.decode(raw)
        self.assertEqual((envelope.type, envelope.version, envelope.source), ("ledger.closed", 1, "py-test"))
        self.assertEqual(decoded, event)
        unknown = {**raw, b"version": b"9"}
        with self.assertRaisesRegex(x.DecodeError, "^unknown type: `ledger.closed` v9$") as caught:
            x.decode(unknown)
        self.assertEqual(caught.exception.reason, "unknown-type", "the dead-letter reason")
        bad = {**raw, b"data": b"{not json"}
        with self.assertRaisesRegex(x.DecodeError, "^undecodable: payload of `ledger.closed` v1 does not match") as caught:
            x.decode(bad)
        self.assertEqual(caught.exception.reason, "undecodable")
        with self.assertRaises(x.DecodeError) as caught:
            x.decode({b"type": b"ledger.closed"})
        self.assertEqual(caught.exception.reason, "bad-envelope")
        with self.assertRaises(x.DecodeError) as caught:
            x.decode({**raw, b"source": b"\xff"})
        self.assertEqual(caught.exception.reason, "bad-envelope", "a field that is not UTF-8")

    def test_a_delivery_gives_the_context_of_what_follows_it(self):
        meta = x.envelope(x.MatchType(id=1, self="s"), "py-test", correlation_id="c-9", traceparent="00-a-b-01")
        delivery = x.Delivery(meta, "t:events:match", "1-0", 1, meta.to_fields())
        self.assertEqual(
            delivery.follow_up(),
            {"correlation_id": "c-9", "causation_id": str(meta.id), "traceparent": "00-a-b-01", "tracestate": None},
        )
        follow = x.envelope(x.MatchType(id=2, self="s"), "py-test", **delivery.follow_up())
        self.assertEqual((follow.correlationid, follow.causationid), ("c-9", str(meta.id)))


class Failures(unittest.TestCase):
    """Handler errors and command errors read as the Rust runtime writes them."""

    def test_handler_errors_have_the_rust_text_and_reason(self):
        self.assertEqual(str(x.HandlerError.permanent("no such company")), "permanent: no such company")
        self.assertEqual(str(x.HandlerError.retry("db down")), "retryable: db down")
        self.assertEqual(x._failure(x.HandlerError.permanent("no")), (False, "permanent", "permanent: no"))
        self.assertEqual(x._failure(x.HandlerError.retry("db")), (True, "retries-exhausted", "retryable: db"))
        try:
            try:
                raise OSError("disk full")
            except OSError as cause:
                raise RuntimeError("outer") from cause
        except RuntimeError as error:
            self.assertEqual(x._failure(error), (True, "retries-exhausted", "retryable: outer: disk full"))
        undecodable = x.DecodeError(x.DecodeError.UNDECODABLE, "undecodable: payload")
        self.assertEqual(x._failure(undecodable), (False, "undecodable", "undecodable: payload"))

    def test_command_errors_read_as_rust_ones(self):
        self.assertEqual(
            str(x.CommandTimeout("ledger.get_entry", "ledger-service", 2000)),
            "no reply to `ledger.get_entry` from `ledger-service` within 2s: is `ledger-service` running?",
        )
        self.assertIn("within 1.5s", str(x.CommandTimeout("c", "t", 1500)))
        self.assertIn("within 300ms", str(x.CommandTimeout("c", "t", 300)))
        failed = x.CommandFailed("ledger.ping", "ledger-service", "permanent: closed")
        self.assertEqual(str(failed), "`ledger.ping` failed in `ledger-service`: permanent: closed")
        self.assertIsInstance(failed, x.CommandError)

    def test_replies_read_as_the_rust_caller_reads_them(self):
        request = x.LedgerGetEntryRequest(entry_id=ENTRY)
        reply = x.Envelope(
            id=uuid.uuid4(), type="ledger.get_entry", version=1, source="ledger-service",
            time=datetime.datetime.now(datetime.timezone.utc), subject="s", correlationid="c",
            data='{"found": true}',
        ).to_fields()
        response = x._answer(request, x.LedgerGetEntryResponse, {**reply, "status": "ok"})
        self.assertEqual(response, x.LedgerGetEntryResponse(found=True))
        with self.assertRaises(x.CommandFailed) as failed:
            x._answer(request, x.LedgerGetEntryResponse, {**reply, "status": "error", "error": "permanent: no"})
        self.assertEqual((failed.exception.reason, failed.exception.target), ("permanent: no", "ledger-service"))
        transport = (
            ({**reply, "status": "maybe"}, "the reply has an unknown `status` 'maybe'"),
            (reply, "the reply has no `status`"),
            ({"causationid": "x", "status": "ok"}, "the reply is no envelope"),
            ({**reply, "status": "ok", "data": "{}"}, "cannot decode the response"),
        )
        for fields, reason in transport:
            with self.subTest(reason=reason), self.assertRaisesRegex(x.CommandTransportError, reason):
                x._answer(request, x.LedgerGetEntryResponse, fields)

    def test_a_request_that_cannot_be_sent_is_a_transport_error(self):
        async def call():
            async with x.CommandClient(_Down(), source="py-test") as commands:
                await commands.ledger_ping(x.LedgerPingRequest())

        expected = "^`ledger.ping` could not be carried: cannot send the request to `xerpium:commands:ledger-service`"
        with self.assertLogs("xerpium_events", "WARNING"), self.assertRaisesRegex(x.CommandTransportError, expected):
            asyncio.run(call())

    def test_a_deadline_is_an_rfc_3339_time(self):
        self.assertFalse(x._past_deadline(None))
        self.assertTrue(x._past_deadline("2020-01-01T00:00:00.000Z"))
        self.assertFalse(x._past_deadline("2999-01-01T00:00:00+01:00"))
        for malformed in ("tomorrow", "2020-01-01T00:00:00"):
            with self.subTest(deadline=malformed), self.assertRaisesRegex(x.HandlerError, "^permanent: `deadline`"):
                x._past_deadline(malformed)

    def test_commands_have_their_catalog_timeouts_and_targets(self):
        self.assertEqual((x.LedgerGetEntryRequest.NAME, x.LedgerGetEntryRequest.TIMEOUT_MS), ("ledger.get_entry", 2000))
        self.assertEqual(x.LedgerServiceCommands.TARGET, "ledger-service")
        self.assertEqual(x.LedgerServiceCommands.COMMANDS, ("ledger.get_entry", "ledger.ping"))
        self.assertTrue(callable(x.CommandClient.ledger_get_entry))

    def test_notification_channels_are_the_runtimes(self):
        user = x.NotificationTarget(kind=x.NotificationTargetKind.USER, id="42")
        self.assertEqual(x.notification_channel(user, namespace="prod"), "prod:notify:user:42")
        role = x.NotificationTarget(kind="role", id="admin")
        self.assertEqual(x.notification_channel(role), "xerpium:notify:role:admin")
        everyone = x.NotificationTarget(kind=x.NotificationTargetKind.ALL)
        self.assertEqual(x.notification_channel(everyone, namespace="prod"), "prod:notify:all")
        with self.assertRaises(ValueError):
            x.notification_channel(x.NotificationTarget(kind="user"))
        subscription = x.subscribe_user(None, "42", ["admin", "admin"], namespace="p")
        self.assertEqual(subscription.channels, ["p:notify:all", "p:notify:role:admin", "p:notify:user:42"])


class _Down:
    """Stands in for a redis.asyncio client whose server is down."""

    def pipeline(self, transaction):
        return self

    def xadd(self, stream, fields, **options):
        pass

    def xtrim(self, stream, **options):
        pass

    async def execute(self):
        raise redis.exceptions.ConnectionError("Connection refused")

    async def xread(self, streams, **options):
        raise redis.exceptions.ConnectionError("Connection refused")


class _Pipeline:
    """Stands in for a redis-py client and its pipeline: records the commands of one publish."""

    def __init__(self):
        self.commands = []

    def pipeline(self, transaction):
        return self

    def xadd(self, stream, fields, **options):
        self.commands.append(("XADD", stream, options))

    def xtrim(self, stream, **options):
        self.commands.append(("XTRIM", stream, options))

    def execute(self):
        return [b"1-0", 0]


class Partitions(unittest.TestCase):
    def test_the_partition_and_the_stream_agree_with_rust(self):
        self.assertTrue(RUST_VECTORS.is_file(), f"{RUST_VECTORS} is written by python.rs")
        vectors = json.loads(RUST_VECTORS.read_text("utf-8"))
        self.assertGreater(len({case["subject"] for case in vectors["partitions"]}), 300)
        self.assertTrue(any(not case["subject"].isascii() for case in vectors["partitions"]))
        for case in vectors["partitions"]:
            layout = x.StreamLayout(partitions=case["partitions"], retention_ms=HOUR_MS, max_len=1)
            self.assertEqual(layout.partition_of(case["subject"]), case["partition"], case)
        for case in vectors["streams"]:
            stream = x.stream_key(case["category"], case["subject"], namespace=case["namespace"])
            self.assertEqual(stream, case["stream"], case)

    def test_delivery_policies_and_backoffs_agree_with_rust(self):
        vectors = json.loads(RUST_VECTORS.read_text("utf-8"))["policies"]
        self.assertEqual({case["type"] for case in vectors}, {model.TYPE for model in x.EVENTS.values()})
        for model in x.EVENTS.values():
            case = next(case for case in vectors if case["type"] == model.TYPE)
            policy = model.POLICY
            expected = x.DeliveryPolicy(
                case["max_attempts"], case["backoff_first_ms"], case["backoff_max_ms"], case["retention_ms"],
                case["max_len"],
            )
            self.assertEqual(policy, expected, model.__name__)
            backoff = [policy.backoff_ms(n) for n in range(1, len(case["backoff_ms"]) + 1)]
            self.assertEqual(backoff, case["backoff_ms"], model.__name__)
        self.assertEqual(x.DEFAULT_POLICY.backoff_ms(40), 300_000, "never past the longest")

    def test_every_stream_of_a_category(self):
        self.assertEqual(x.event_streams("ledger", namespace="t"), ["t:events:ledger"])
        shipment = x.event_streams("shipment", namespace="t")
        self.assertEqual(shipment, [f"t:events:shipment:{p}" for p in range(4)])
        self.assertIn(x.stream_key("shipment", "s-1", namespace="t"), shipment)

    def test_the_hash_is_32_bit_fnv_1a(self):
        whole = x.StreamLayout(partitions=2**32, retention_ms=HOUR_MS, max_len=1)
        self.assertEqual(whole.partition_of(""), 0x811C9DC5)
        self.assertEqual(whole.partition_of("a"), 0xE40C292C)
        self.assertEqual(whole.partition_of("foobar"), 0xBF9CF968)

    def test_a_stream_keeps_the_longest_retention_and_largest_cap_of_its_types(self):
        self.assertEqual(x.STREAMS["shipment"], x.StreamLayout(partitions=4, retention_ms=72 * HOUR_MS, max_len=200))
        self.assertEqual(x.STREAMS["ledger"], x.StreamLayout(partitions=1, retention_ms=48 * HOUR_MS, max_len=5000))
        self.assertEqual((x.ShipmentSent.RETENTION_MS, x.ShipmentDelivered.MAX_LEN), (HOUR_MS, 100), "the types' own")
        self.assertEqual(x.stream_key("ledger", "anything"), "xerpium:events:ledger")
        with self.assertRaises(KeyError):
            x.stream_key("nope", "s")

    def test_publish_writes_to_the_subjects_partition_and_trims_by_the_category(self):
        redis = _Pipeline()
        before = time.time_ns() // 1_000_000
        entry = x.publish(redis, x.ShipmentSent(shipment_id="Sendung-ü", carrier="post"), "py-test", namespace="t")
        after = time.time_ns() // 1_000_000
        self.assertEqual(entry, "1-0")
        stream = f"t:events:shipment:{x.STREAMS['shipment'].partition_of('Sendung-ü')}"
        (add, add_stream, add_options), (trim, trim_stream, trim_options) = redis.commands
        self.assertEqual((add, add_stream, trim, trim_stream), ("XADD", stream, "XTRIM", stream))
        self.assertEqual(trim_options, {"maxlen": 200, "approximate": True}, "the category's cap, not `sent`'s")
        self.assertTrue(before - 72 * HOUR_MS <= add_options["minid"] <= after - 72 * HOUR_MS, "the longest retention")


if __name__ == "__main__":
    unittest.main()
