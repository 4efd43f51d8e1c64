"""The Python side of codegen/compile-test/tests/python.rs: reads and writes
event streams with the generated module, through a real redis-server.

    interop.py decode URL STREAM...            print each entry, decoded, as one JSON line
    interop.py publish URL NAMESPACE SOURCE    publish the events read from stdin (JSON lines of
                                               type, version, payload, correlation_id); print entry ids
"""

import json
import sys

import redis

import xerpium_events as x


def decode(client, streams):
    for stream in streams:
        for entry_id, fields in client.xrange(stream):
            envelope, event = x.decode(fields)
            print(json.dumps({
                "stream": stream,
                "entry_id": entry_id.decode(),
                "fields": {name.decode(): value.decode() for name, value in fields.items()},
                "model": type(event).__name__,
                "subject": envelope.subject,
                "payload": event.model_dump_json(by_alias=True),
            }))


def publish(client, namespace, source):
    for line in sys.stdin:
        request = json.loads(line)
        model = x.EVENTS[(request["type"], request["version"])]
        event = model.model_validate_json(request["payload"])
        print(x.publish(client, event, source, namespace=namespace, correlation_id=request["correlation_id"]))


def main():
    mode, url, rest = sys.argv[1], sys.argv[2], sys.argv[3:]
    client = redis.Redis.from_url(url)
    if mode == "decode":
        decode(client, rest)
    elif mode == "publish":
        publish(client, *rest)
    else:
        sys.exit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
