"""The consume side of a Python stack like XERPIUM's first version, for the
runtime's throughput benchmark (runtime/benches/throughput.rs) to compare
with in the same run: redis-py asyncio with the hiredis parser, pydantic v2
models, one consumer in a group reading a backlog.

    python bench_consume.py PORT STREAM COUNT

Reads COUNT entries of STREAM with XREADGROUP COUNT 100 (two reads in
flight, as the runtime keeps), reads each entry's envelope fields and
validates its JSON payload into a model, acknowledges each batch with one
XACK, and prints the entries per second.
"""

import asyncio
import sys
import time

import pydantic
import redis.asyncio as aioredis
from redis.utils import HIREDIS_AVAILABLE

GROUP = "python"
CONSUMER = "python-1"
BATCH = 100


class Tick(pydantic.BaseModel):
    """The benchmark's event, as the runtime's bench publishes it."""

    n: int
    sent_ns: int
    padding: str


class Envelope(pydantic.BaseModel):
    """The metadata fields of an entry that a handler is given."""

    id: str
    type: str
    version: int
    source: str
    time: str
    subject: str
    correlationid: str


async def consume(port: int, stream: str, count: int) -> float:
    """Reads `count` entries of `stream`; returns entries per second."""
    client = aioredis.Redis(port=port)
    await client.xgroup_create(stream, GROUP, id="0")
    handled = 0
    started = time.perf_counter()

    async def read() -> list:
        reply = await client.xreadgroup(GROUP, CONSUMER, {stream: ">"}, count=BATCH)
        return reply[0][1] if reply else []

    ahead = asyncio.ensure_future(read())
    while handled < count:
        entries = await ahead
        ahead = asyncio.ensure_future(read())
        ids = []
        for entry_id, fields in entries:
            meta = Envelope.model_validate({name.decode(): value.decode() for name, value in fields.items() if name != b"data"})
            Tick.model_validate_json(fields[b"data"])
            if meta.type:
                ids.append(entry_id)
        if ids:
            await client.xack(stream, GROUP, *ids)
        handled += len(entries)
    elapsed = time.perf_counter() - started
    ahead.cancel()
    await client.aclose()
    return handled / elapsed


def main() -> None:
    if not HIREDIS_AVAILABLE:
        sys.exit("hiredis is not installed: run scripts/setup")
    port, stream, count = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    print(f"{asyncio.run(consume(port, stream, count)):.0f}")


if __name__ == "__main__":
    main()
