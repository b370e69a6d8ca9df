"""Redaction of secrets and personal details in anything torchsetup prints or logs."""

from __future__ import annotations

import re

# scheme://user:password@host or scheme://token@host
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<cred>[^/@\s:]+(?::[^/@\s]*)?)@")
# ?token=... &password=... &api_key=...
_QUERY_SECRETS = re.compile(
    r"(?P<key>[?&](?:token|access_token|auth|password|passwd|secret|api[_-]?key|key|sig|signature)=)[^&\s#]+",
    re.IGNORECASE,
)
_GPU_UUID = re.compile(r"\b(GPU|MIG)-[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b")

REDACTED = "***"


def redact_url_credentials(text: str) -> str:
    """Replace credentials in URLs (user:pass@, token@, ?token=) with ***."""
    text = _URL_CREDENTIALS.sub(lambda m: f"{m.group('scheme')}{REDACTED}@", text)
    return _QUERY_SECRETS.sub(lambda m: f"{m.group('key')}{REDACTED}", text)


def redact_argv(argv: list[str] | tuple[str, ...]) -> list[str]:
    return [redact_url_credentials(a) for a in argv]


def redact_gpu_uuids(text: str) -> str:
    return _GPU_UUID.sub(lambda m: f"{m.group(1)}-<redacted>", text)


def redact_personal(text: str, *, home: str | None = None, user: str | None = None,
                    hostname: str | None = None) -> str:
    """Redact URL credentials, GPU UUIDs, the home directory, the user name and the host name."""
    text = redact_url_credentials(text)
    text = redact_gpu_uuids(text)
    if home and len(home) > 1:
        text = text.replace(home, "~")
    if user and len(user) > 1:
        text = re.sub(rf"(?<=[/\\]){re.escape(user)}(?=[/\\]|$)", "<user>", text)
    if hostname and len(hostname) > 1:
        text = re.sub(rf"\b{re.escape(hostname)}\b", "<host>", text)
    return text
