"""A wrong-secret flood in a process of its own: `python -m bench.flood --url URL --senders N`.

Each sender POSTs callback bodies with a wrong secret over its own keep-alive connection, the next as soon
as the last is answered, until the process gets SIGINT or SIGTERM; then it prints one JSON line: how many
requests were answered, by status, and for how long it ran. A process of its own, so that the flood's
client work does not delay the measured senders' event loop (their latencies would then include it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import time
from collections import Counter

import aiohttp

from bench.events import callback_body
from bench.load import client_session


async def flood(url: str, group_id: int, senders: int) -> dict[str, object]:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    statuses: Counter[str] = Counter()
    errors: Counter[str] = Counter()

    async def sender(number: int, session: aiohttp.ClientSession) -> None:
        index = number
        while not stop.is_set():
            body = callback_body(index, group_id, f"wrong-secret-{index % 97}", run="flood")
            index += senders
            try:
                async with session.post(url, data=body, headers={"Content-Type": "application/json"}) as answer:
                    await answer.read()
                    statuses[str(answer.status)] += 1
            except (TimeoutError, aiohttp.ClientError) as exc:
                errors[type(exc).__name__] += 1

    started = time.perf_counter()
    async with client_session(senders) as session:
        tasks = [asyncio.create_task(sender(n, session)) for n in range(senders)]
        print("flooding", flush=True)  # the parent waits for this line
        await stop.wait()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return {"statuses": dict(statuses), "errors": dict(errors), "seconds": time.perf_counter() - started}


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.flood")
    parser.add_argument("--url", required=True, help="the callback URL of the community")
    parser.add_argument("--group-id", type=int, required=True)
    parser.add_argument("--senders", type=int, default=48)
    args = parser.parse_args()
    result = asyncio.run(flood(args.url, args.group_id, args.senders))
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
