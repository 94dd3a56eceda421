"""Generic HTTP webhook sink: POST the message as JSON (works with Slack incoming webhooks).

Standard library only (``urllib``), so the core needs no HTTP client dependency.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from urllib.parse import urlparse

from theia_sf.alerts.model import AlertDeliveryError, AlertMessage
from theia_sf.errors import ConfigurationError


class WebhookSink:
    """POST ``{"text": ..., "anomalies": [...], ...}`` to ``url``; any non-2xx fails."""

    def __init__(
        self,
        sink_id: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        timeout: float = 10.0,
    ) -> None:
        parsed = urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ConfigurationError(
                f"alert connection {sink_id!r}: webhook URL {url!r} is not an http(s) URL"
            )
        self.sink_id = sink_id
        self.url = url
        self.headers = dict(headers or {})
        self.timeout = timeout

    def __repr__(self) -> str:
        # The URL may embed a secret token (Slack webhooks): never print it.
        return f"WebhookSink({self.sink_id!r})"

    def send(self, message: AlertMessage) -> None:
        body = json.dumps(message.to_json(), default=str).encode()
        request = urllib.request.Request(
            self.url,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", **self.headers},
        )
        target = f"alert connection {self.sink_id!r} (webhook {urlparse(self.url).netloc})"
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                status = response.status
                response.read()
        except urllib.error.HTTPError as error:
            raise AlertDeliveryError(
                f"{target} answered HTTP {error.code} {error.reason}"
            ) from error
        except TimeoutError as error:
            raise AlertDeliveryError(
                f"{target} did not answer within {self.timeout:g} s"
            ) from error
        except urllib.error.URLError as error:
            if isinstance(error.reason, TimeoutError):
                raise AlertDeliveryError(
                    f"{target} did not answer within {self.timeout:g} s"
                ) from error
            raise AlertDeliveryError(f"{target} is unreachable: {error.reason}") from error
        except OSError as error:
            raise AlertDeliveryError(f"{target} failed: {error}") from error
        if not 200 <= status < 300:
            raise AlertDeliveryError(f"{target} answered HTTP {status}")
