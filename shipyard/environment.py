"""What a child started from an empty environment keeps of this process's: the locale, the time zone, the CA bundle
(and the run marker, so a scan for survivors still finds it). Never a token, a key or a database URL."""

from __future__ import annotations

import os

from shipyard.processes import MARKER

CARRIED = ("LANG", "LANGUAGE", "TZ", "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",
           "NODE_EXTRA_CA_CERTS", MARKER)  # fmt: skip


def carried() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k in CARRIED or k.startswith("LC_")}
