import threading

from odoo.tests import TransactionCase, tagged

from ..tools.errors import RemoteServiceError
from ..tools.read_ahead import read_ahead


@tagged("post_install", "-at_install")
class TestReadAhead(TransactionCase):
    def test_pages_arrive_in_order_from_another_thread_at_most_one_ahead(self):
        produced, threads = [], set()

        def pages():
            for number in range(5):
                produced.append(number)
                threads.add(threading.current_thread().name)
                yield [number] * 3

        seen = []
        for page in read_ahead(pages()):
            # The caller holds page n; page n + 1 may be fetched and waiting, and the
            # fetcher may be on page n + 2 (blocked), never further.
            self.assertLessEqual(len(produced), page[0] + 3)
            seen.append(page)
        self.assertEqual(seen, [[n] * 3 for n in range(5)])
        self.assertEqual(threads, {"psa-read-ahead"})

    def test_a_remote_error_is_raised_in_the_caller_after_the_pages_before_it(self):
        def pages():
            yield [1]
            raise RemoteServiceError("page 2 answered 503", status=503)

        seen = []
        with self.assertRaises(RemoteServiceError) as caught:
            for page in read_ahead(pages()):
                seen.append(page)
        self.assertEqual(seen, [[1]])
        self.assertEqual(caught.exception.status, 503)

    def test_a_caller_that_stops_early_stops_the_fetching(self):
        produced = []

        def pages():
            for number in range(1000):
                produced.append(number)
                yield [number]

        for page in read_ahead(pages()):
            if page == [2]:
                break
        self.assertLess(len(produced), 10)
