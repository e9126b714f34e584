"""Fetch the next page of a remote listing while the caller works on the current one.

A reconciliation alternates between waiting for the remote system (one HTTP page) and
comparing that page with the database; doing both at once brings its time close to the
time of the fetching alone. The pages are produced by a thread of their own that only
iterates (adapters hold no ORM environment, no cursor); at most ``depth`` pages wait, so
memory stays bounded by the page size, not by the number of entries. An exception of the
remote side is raised in the caller, at the page where it happened.
"""

import queue
import threading

_DONE = object()


class _Failure:
    def __init__(self, error):
        self.error = error


def read_ahead(pages, depth=1):
    """Iterate ``pages`` (any iterable) in a thread, ``depth`` items ahead of the caller."""
    buffer = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce():
        try:
            for page in pages:
                while not stop.is_set():
                    try:
                        buffer.put(page, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            buffer.put(_DONE)
        except Exception as err:  # handed over to the caller, raised there
            buffer.put(_Failure(err))

    thread = threading.Thread(target=produce, name="psa-read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            item = buffer.get()
            if item is _DONE:
                return
            if isinstance(item, _Failure):
                raise item.error
            yield item
    finally:
        stop.set()
        thread.join(timeout=5)
