"""Outbound HTTP to the systems a backend connects to.

An adapter knows one vendor's API and nothing of the ORM: it takes an
:class:`AdapterConfig` and yields or accepts records in the canonical schema
(``psa_connector_base/schemas``). Everything behind it speaks only that schema.
"""

import ipaddress
import logging
import socket
import time
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit

import requests

from ..tools.errors import RemoteServiceError

_logger = logging.getLogger(__name__)

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS = 5
# The system parameters that relax the outbound rules (psa.backend._outbound_policy).
ALLOW_PRIVATE_TARGETS = "psa_connector_base.allow_private_targets"
ALLOW_INSECURE_HTTP = "psa_connector_base.allow_insecure_http"


class TargetRefused(RemoteServiceError):
    """The connector will not send a request (and its credentials) to this address."""

    def __init__(self, message):
        super().__init__(message, retryable=False)


@dataclass(repr=False)
class AdapterConfig:
    base_url: str
    token: str = ""
    timeout: float = 30.0
    max_attempts: int = 4
    backoff_seconds: float = 0.5
    max_retry_wait: float = 60.0
    page_size: int = 100
    user_agent: str = "Odoo PSA Connector"
    extra_headers: dict = field(default_factory=dict)
    # Vendor account selector: Harvest-Account-Id, Productive X-Organization-Id,
    # the BambooHR company subdomain... Empty for APIs that need none.
    account_id: str = ""
    # Some vendors ask integrations to name a contact in their User-Agent.
    contact_email: str = ""
    # Outbound rules an administrator may relax (system parameters, see check_target).
    allow_private_targets: bool = False
    allow_insecure_http: bool = False
    # The backend's circuit breaker (psa.backend.breaker's CircuitBreaker), or None: asked
    # before each call; when set, a call is tried once and a failure opens the breaker
    # instead of being retried here.
    breaker: object = None

    def __repr__(self):
        # The token (and any header that may carry a credential) never reaches a log line,
        # a traceback or an exception message through repr/str.
        return (
            f"AdapterConfig(base_url={self.base_url!r}, token={'***' if self.token else ''!r}, "
            f"account_id={self.account_id!r}, timeout={self.timeout!r}, "
            f"max_attempts={self.max_attempts!r}, page_size={self.page_size!r}, "
            f"extra_headers={sorted(self.extra_headers)!r}, "
            f"allow_private_targets={self.allow_private_targets!r}, "
            f"allow_insecure_http={self.allow_insecure_http!r})"
        )

    __str__ = __repr__


def check_target(url, config):
    """Refuse, before any connection, an address the connector must not call.

    - only ``https://``, unless ``allow_insecure_http`` (the token would travel in clear);
    - every address the host resolves to must be public: loopback, private, link-local
      (cloud metadata services), shared, multicast, reserved and unspecified addresses
      are refused unless ``allow_private_targets``, so a changed base URL cannot turn
      *Test connection* or a pull into a probe of the internal network.

    Messages name the host, never the URL's user part or the token.
    """
    parts = urlsplit(url)
    scheme = (parts.scheme or "").lower()
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        host, port = None, None
    if scheme not in ("http", "https") or not host:
        raise TargetRefused(f"{url.split('?')[0][:200]!r} is not an http(s) address.")
    if scheme == "http" and not config.allow_insecure_http:
        raise TargetRefused(
            f"Outbound call to {host} refused: http:// would send the API token in clear. "
            f"Use https://, or an administrator may allow http with the system parameter "
            f"{ALLOW_INSECURE_HTTP}."
        )
    if config.allow_private_targets:
        return
    try:
        infos = socket.getaddrinfo(host, port or (443 if scheme == "https" else 80))
    except (socket.gaierror, UnicodeError) as err:
        raise RemoteServiceError(f"The host {host} cannot be resolved: {err}") from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%", 1)[0])
        if not _is_public(address):
            raise TargetRefused(
                f"Outbound call to {host} refused: it resolves to {address}, a private, "
                f"loopback or link-local address. An administrator may allow such targets "
                f"with the system parameter {ALLOW_PRIVATE_TARGETS}."
            )


def _is_public(address):
    mapped = getattr(address, "ipv4_mapped", None)
    if mapped is not None:
        address = mapped
    return address.is_global and not (
        address.is_multicast or address.is_reserved or address.is_unspecified
    )


def _same_origin(first, second):
    a, b = urlsplit(first), urlsplit(second)
    try:
        return (a.scheme.lower(), a.hostname, a.port) == (b.scheme.lower(), b.hostname, b.port)
    except ValueError:
        return False


class HttpAdapter:
    """A ``requests`` session with timeouts, retries and pagination.

    Retries happen here for short hiccups (429 honouring ``Retry-After``, 5xx,
    timeouts, dropped connections). When they run out, :class:`RemoteServiceError`
    tells the job whether a later attempt may succeed; queue_job then retries with its
    own, longer backoff, and the last failure lands in the exception queue.
    """

    name = None
    label = None
    object_types = ()
    # Path segment of the vendor's own webhook route, /psa/webhook/<code>/<webhook_vendor>;
    # None when the vendor sends no webhooks (the canonical API has its own route).
    webhook_vendor = None

    def __init__(self, config, session=None):
        self.config = config
        self.session = session or requests.Session()
        self.session.headers.update(self._default_headers())
        self.attempts_made = 0

    def _default_headers(self):
        headers = {"Accept": "application/json", "User-Agent": self.config.user_agent}
        headers.update(self.config.extra_headers)
        return headers

    def _url(self, path):
        return self.config.base_url.rstrip("/") + "/" + path.lstrip("/")

    def request(self, method, path, params=None, json=None, headers=None):
        """One call, retried as configured; ``headers`` are added to this call only
        (e.g. an ``Idempotency-Key`` that makes a retried POST safe)."""
        breaker = self.config.breaker
        if breaker is None:
            return self._request(method, path, params, json, headers, self.config.max_attempts)
        # The breaker decides when the failing remote system is called again (once per
        # backend, for every worker): no quick retries here, which would call it again.
        breaker.before_call()
        try:
            result = self._request(method, path, params, json, headers, 1)
        except RemoteServiceError as err:
            if err.retryable:
                breaker.failed(err)
            elif err.status is not None:
                breaker.succeeded()  # it answered (401, 404, 422...): it is up
            else:
                breaker.released()
            raise
        except BaseException:
            breaker.released()
            raise
        breaker.succeeded()
        return result

    def _request(self, method, path, params, json, headers, max_attempts):
        url = self._url(path)
        last_error = None
        for attempt in range(1, max_attempts + 1):
            self.attempts_made += 1
            try:
                response = self._send(method, url, params=params, json=json, headers=headers)
            except requests.Timeout as err:
                last_error = RemoteServiceError(f"{method} {url} timed out: {err}")
                wait = None
            except requests.ConnectionError as err:
                last_error = RemoteServiceError(f"{method} {url}: connection failed: {err}")
                wait = None
            else:
                if response.status_code < 400:
                    return self._decode(response, method, url)
                last_error = self._error_for(response, method, url)
                if not last_error.retryable:
                    raise last_error
                wait = last_error.retry_after
            if attempt < max_attempts:
                self._sleep(attempt, wait)
        raise RemoteServiceError(
            f"{last_error.message} (gave up after {max_attempts} attempts)",
            status=last_error.status,
            retry_after=last_error.retry_after,
        )

    def _send(self, method, url, params=None, json=None, headers=None):
        """One HTTP exchange: every hop checked by check_target, redirects followed only
        on the same scheme, host and port (another host would receive the credentials)."""
        for _hop in range(MAX_REDIRECTS + 1):
            check_target(url, self.config)
            response = self.session.request(
                method,
                url,
                params=params,
                json=json,
                headers=headers,
                timeout=self.config.timeout,
                allow_redirects=False,
            )
            location = response.headers.get("Location")
            if response.status_code not in REDIRECT_STATUSES or not location:
                return response
            target = urljoin(response.url or url, location)
            if not _same_origin(url, target):
                raise TargetRefused(
                    f"{method} {urlsplit(url).hostname} answered {response.status_code}, a "
                    f"redirect to another host ({urlsplit(target).hostname}); not followed, "
                    "so the credentials go nowhere else. Check the base URL."
                )
            if response.status_code == 303 or (
                response.status_code in (301, 302) and method == "POST"
            ):
                method, json = "GET", None
            url, params = target, None
        raise TargetRefused(
            f"{method} {urlsplit(url).hostname}: more than {MAX_REDIRECTS} redirects."
        )

    def _sleep(self, attempt, retry_after):
        delay = self.config.backoff_seconds * (2 ** (attempt - 1))
        if retry_after is not None:
            delay = retry_after
        delay = min(delay, self.config.max_retry_wait)
        _logger.info("Remote call failed; retrying in %.1fs (attempt %s)", delay, attempt)
        time.sleep(delay)

    def _decode(self, response, method, url):
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise RemoteServiceError(
                f"{method} {url} answered {response.status_code} with a body that is not JSON",
                status=response.status_code,
            ) from None

    def _error_for(self, response, method, url):
        status = response.status_code
        snippet = response.text[:300]
        if status in RETRYABLE_STATUSES:
            return RemoteServiceError(
                f"{method} {url} answered {status}: {snippet}",
                status=status,
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
            )
        if status in (401, 403):
            message = f"The remote system refused the credentials ({status}). Check the API token."
        elif status == 404:
            message = f"{method} {url}: not found (404). Check the base URL."
        else:
            message = f"{method} {url} answered {status}: {snippet}"
        return RemoteServiceError(message, status=status, retryable=False)

    # Pagination -----------------------------------------------------------------

    def paginate(self, path, params=None):
        """Yield pages (lists of raw records) following the API's next-page pointer."""
        params = dict(params or {})
        while True:
            body = self.request("GET", path, params=params)
            records, next_params = self._split_page(body, params)
            yield records
            if not next_params:
                return
            params = next_params

    def _split_page(self, body, params):
        raise NotImplementedError

    # What every adapter offers the connector --------------------------------------
    # The calls of one feature (time reconciliation, actuals, invoice status, payroll)
    # are declared by the addon that owns it, as a mixin it adds to every adapter class
    # of the database (psa.adapter._adapter_features); a vendor class implements those
    # it supports.

    def test_connection(self):
        """Return a short human description of the remote account."""
        raise NotImplementedError

    def iter_changes(self, object_type, since=None):
        """Yield pages of canonical records of ``object_type`` updated at or after ``since``."""
        raise NotImplementedError

    def write_back(self, object_type, external_id, odoo_refs):
        """Tell the remote system which Odoo record an external one maps to."""
        raise NotImplementedError

    def fetch_record(self, object_type, external_id):
        """The current canonical record of one object, or None when the remote system no
        longer has it. Used for ``<type>.refresh`` events: vendor webhooks that only name
        a changed record (or carry a few of its fields) are applied from a fresh read."""
        raise NotImplementedError

    def push_account_health(self, rows):
        """Send customers' account health (``schemas/account_health.json``) to the remote
        system: one row per customer, keyed by its id there; a row replaces the one held
        for the same customer, so sending the same rows twice must be harmless.
        Not supported by default (psa.backend._supports_account_health)."""
        raise NotImplementedError(f"{self.label or self.name} does not receive account health")

    @classmethod
    def default_base_url(cls, account_id):
        """The vendor's documented API root for an account (None: the admin enters it)."""
        return None

    # Inbound webhooks in the vendor's own format ------------------------------------
    # The controller calls these two without an instance: verifying and translating a
    # webhook needs no credentials and makes no outbound call.

    @classmethod
    def verify_webhook(cls, secret, headers, raw_body, now, tolerance):
        """Whether the vendor's signature headers prove ``raw_body`` came from it.

        Compare in constant time and refuse timestamps further than ``tolerance``
        seconds from ``now`` (our own replay window when the vendor has none).
        """
        raise NotImplementedError

    @classmethod
    def webhook_envelopes(cls, payload):
        """Translate a verified vendor webhook body into canonical event envelopes.

        Returns a list of ``{"id", "type", "occurred_at", "data"}`` dicts
        (``schemas/event.json``); ``id`` must be stable across re-deliveries of the
        same vendor event, so the connector's de-duplication applies. Raise
        ``ValueError`` with a human reason for a body that cannot be translated.
        """
        raise NotImplementedError


def parse_retry_after(value):
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


_COMPOSED = {}


def with_features(adapter_class, features):
    """``adapter_class`` with the feature mixins it does not already have, after it in
    the MRO: a vendor's own implementation wins, a mixin's default (not supported)
    fills the rest. One class per combination, so instances of a backend's adapter are
    always of the same class."""
    missing = tuple(f for f in features if not issubclass(adapter_class, f))
    if not missing:
        return adapter_class
    key = (adapter_class, missing)
    composed = _COMPOSED.get(key)
    if composed is None:
        composed = _COMPOSED.setdefault(
            key,
            type(
                adapter_class.__name__,
                (adapter_class, *missing),
                {"__module__": adapter_class.__module__, "__doc__": adapter_class.__doc__},
            ),
        )
    return composed
