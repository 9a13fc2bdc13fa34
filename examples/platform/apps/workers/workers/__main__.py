"""Read listing events (JSON lines) and print the messages they fan out to."""

import json
import sys
from typing import TextIO

from workers.notifications import Subscriber, fan_out


def main(source: TextIO, out: TextIO) -> int:
    for line in source:
        if not line.strip():
            continue
        event = json.loads(line)
        subscribers = [Subscriber(s["email"], frozenset(s["cities"])) for s in event["subscribers"]]
        for message in fan_out(event["city"], event["title"], subscribers):
            out.write(json.dumps({"to": message.to, "subject": message.subject}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.stdin, sys.stdout))
