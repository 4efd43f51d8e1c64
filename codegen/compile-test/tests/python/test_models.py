"""Unit tests of the Python module generated from codegen/tests/fixtures/everything.yaml.

Run by codegen/compile-test/tests/python.rs, which generates the module into a
temporary directory on PYTHONPATH and runs `python -m unittest` on this file.
"""

import datetime
import decimal
import json
import pathlib
import time
import unittest
import uuid

import pydantic

import xerpium_events as x

ENTRY = "00000000-0000-0000-0000-000000000007"

# Written beside the module by python.rs: partitions and stream keys as the Rust runtime computes them.
RUST_VECTORS = pathlib.Path(x.__file__).with_name("rust_partitions.json")

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

    def test_decode_reads_redis_py_fields(self):
        event = x.LedgerClosedV1(period_id=ENTRY, balance=2.5)
        raw = {name.encode(): value.encode() for name, value in x.envelope(event, "py-test").to_fields().items()}
        envelope, decoded = x.decode(raw)
        self.assertEqual((envelope.type, envelope.version, envelope.source), ("ledger.closed", 1, "py-test"))
        self.assertEqual(decoded, event)
        unknown = {**raw, b"version": b"9"}
        with self.assertRaisesRegex(x.DecodeError, "unknown event type `ledger.closed` v9"):
            x.decode(unknown)
        bad = {**raw, b"data": b"{not json"}
        with self.assertRaises(x.DecodeError):
            x.decode(bad)
        with self.assertRaises(x.DecodeError):
            x.decode({b"type": b"ledger.closed"})


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
