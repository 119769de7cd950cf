"""Where the gateway's signals go: the incident engine in-process, or a central leakline over HTTP.

`SignalSink` is the plugin point (one method, `emit`). `sink_for(settings)` picks: with
`[gateway] signals_url` set, `HttpSignalSink` posts each signal as JSON with a bearer token from
`signals_token_env`; otherwise `InProcessSignalSink` hands it to `leakline.incidents.ingest.receive`
against the configured database. Both run on the gateway's event thread, never on a request's path.
Signals carry only redacted text (see `leakline.signals`); the HTTP sink redacts each again with this
gateway's canaries before it leaves (`incidents.ingest.redact_signal`).
"""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from abc import ABC, abstractmethod
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from leakline.guard.errors import GatewayConfigError, display_url
from leakline.signals import Signal

if TYPE_CHECKING:
    from leakline.config import Settings

HTTP_TIMEOUT_SECONDS = 10.0


class SignalDeliveryError(Exception):
    """A signal could not be delivered (kept for the operator's log; the exchange is not affected)."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        """The receiver's HTTP status, when it answered one."""


class SignalSink(ABC):
    @abstractmethod
    def emit(self, signal: Signal) -> None:
        """Deliver one signal, or raise `SignalDeliveryError`."""

    def close(self) -> None:  # noqa: B027 - optional hook; most sinks hold nothing
        """Release what the sink holds."""


class HttpSignalSink(SignalSink):
    """Posts to a central leakline, which redacts what it receives with its own `[sanitize] canaries`,
    not this gateway's: each signal is redacted here first, with this gateway's canaries too."""

    def __init__(self, url: str, token: str, *, canaries: tuple[str, ...] = ()) -> None:
        self.url = url
        self._token = token
        self._canaries = canaries

    def emit(self, signal: Signal) -> None:
        from leakline.errors import LeaklineError
        from leakline.incidents.ingest import redact_signal

        try:
            signal = redact_signal(signal, canaries=self._canaries).signal
        except LeaklineError as exc:  # a detector failed: not sent unchecked (kept for a retry instead)
            raise SignalDeliveryError(f"not sent: {exc.message}") from None
        body = signal.model_dump_json().encode("utf-8")
        request = urllib.request.Request(  # noqa: S310 - sink_for() only accepts http(s) URLs
            self.url,
            data=body,
            method="POST",
            headers={"content-type": "application/json", "authorization": f"Bearer {self._token}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_SECONDS) as response:  # noqa: S310 - configured URL
                response.read()
        except urllib.error.HTTPError as exc:
            raise SignalDeliveryError(f"{display_url(self.url)}: HTTP {exc.code}", status=exc.code) from None
        except (urllib.error.URLError, OSError) as exc:
            raise SignalDeliveryError(f"{display_url(self.url)}: {exc}") from None


class InProcessSignalSink(SignalSink):
    """The incident engine of this process (its database from `[database]`), opened on first use."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._runtime: Any = None

    def emit(self, signal: Signal) -> None:
        from leakline.errors import LeaklineError
        from leakline.incidents import ingest, runtime

        # A wrong [database] or incidents setting fails every signal the same way: one log line each (the
        # caller writes the signal's own audit record regardless), not a traceback that also skips it.
        try:
            if self._runtime is None:
                self._runtime = runtime.start(self._settings)
            ingest.receive(self._runtime, signal, now=datetime.now(UTC))
        except LeaklineError as exc:
            raise SignalDeliveryError(f"the incident engine cannot take it: {exc.message}") from exc
        except Exception as exc:
            raise SignalDeliveryError(f"the incident engine cannot take it: {type(exc).__name__}") from exc

    def close(self) -> None:
        if self._runtime is not None:
            self._runtime.recorder.close()
            self._runtime = None


def sink_for(settings: Settings) -> SignalSink:
    gateway = settings.gateway
    if gateway.signals_url:
        if not gateway.signals_url.startswith(("http://", "https://")):
            raise GatewayConfigError(
                f"{settings.source or 'leakline.toml'}: gateway.signals_url: expected an http(s) URL"
            )
        token = os.environ.get(gateway.signals_token_env or "", "")
        if not token:
            raise GatewayConfigError(
                f"{settings.source or 'leakline.toml'}: gateway.signals_token_env: "
                "names no set environment variable (a bearer token is required for signals_url)"
            )
        return HttpSignalSink(gateway.signals_url, token, canaries=tuple(settings.sanitize.canaries))
    return InProcessSignalSink(settings)
