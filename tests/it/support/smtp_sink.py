"""An SMTP server for the integration tests (aiosmtpd): every message it accepts becomes a
file DIR/<n>.eml, written whole before it is renamed into place. The first FAIL_FIRST
messages are refused with a transient 451, as a busy server does.

    python smtp_sink.py DIR PORT [FAIL_FIRST]
"""

import asyncio
import os
import sys
import uuid

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, directory, fail_first):
        self.directory = directory
        self.fail_first = fail_first

    async def handle_DATA(self, server, session, envelope):
        if self.fail_first > 0:
            self.fail_first -= 1
            return "451 4.3.0 busy, try again later"
        name = os.path.join(self.directory, uuid.uuid4().hex)
        with open(name + ".tmp", "wb") as out:
            out.write(envelope.original_content or envelope.content)
        os.rename(name + ".tmp", name + ".eml")
        return "250 2.0.0 OK"


async def main():
    directory, port = sys.argv[1], int(sys.argv[2])
    fail_first = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    controller = Controller(Sink(directory, fail_first), hostname="127.0.0.1", port=port)
    controller.start()
    print("listening", flush=True)
    await asyncio.Event().wait()


asyncio.run(main())
