"""Redaction of secrets and personal details in anything torchsetup prints or logs."""

from __future__ import annotations

import re

# scheme://user:password@host or scheme://token@host
_URL_CREDENTIALS = re.compile(
    r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<cred>[^/@\s:]+(?::[^/@\s]*)?)@"
)
# ?token=... &password=... &api_key=...
_QUERY_SECRETS = re.compile(
    r"(?P<key>[?&](?:token|access_token|auth|password|passwd|secret|api[_-]?key|key|sig|signature)=)[^&\s#]+",
    re.IGNORECASE,
)
_GPU_UUID = re.compile(
    r"\b(GPU|MIG)-[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"
)

# /home/alice/..., /Users/alice/..., C:\Users\alice\... (any user: the facts may come from a
# snapshot or report of another machine).
_USER_DIRS = re.compile(
    r"(?P<base>/home/|/Users/)(?P<name>[^/\s:;,'\")]+)"
    r"|(?P<winbase>[A-Za-z]:\\Users\\)(?P<winname>[^\\\n\"']+)"
)
_NOT_PERSONAL = {"<user>", "Shared", "Public", "Default", "runner", "user"}

REDACTED = "***"


def redact_url_credentials(text: str) -> str:
    """Replace credentials in URLs (user:pass@, token@, ?token=) with ***."""
    text = _URL_CREDENTIALS.sub(lambda m: f"{m.group('scheme')}{REDACTED}@", text)
    return _QUERY_SECRETS.sub(lambda m: f"{m.group('key')}{REDACTED}", text)


def redact_argv(argv: list[str] | tuple[str, ...]) -> list[str]:
    return [redact_url_credentials(a) for a in argv]


def redact_gpu_uuids(text: str) -> str:
    return _GPU_UUID.sub(lambda m: f"{m.group(1)}-<redacted>", text)


def redact_personal(
    text: str, *, home: str | None = None, user: str | None = None, hostname: str | None = None
) -> str:
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


def redact_user_dirs(text: str) -> str:
    """Replace the user name in home-directory paths of any user with <user>."""

    def sub(m: re.Match[str]) -> str:
        name = m.group("name") or m.group("winname")
        base = m.group("base") or m.group("winbase")
        return m.group(0) if name in _NOT_PERSONAL else f"{base}<user>"

    return _USER_DIRS.sub(sub, text)


def redact_report(
    text: str, *, home: str | None = None, user: str | None = None, hostname: str | None = None
) -> str:
    """Everything :func:`redact_personal` does, plus user names in any home-directory path."""
    return redact_user_dirs(redact_personal(text, home=home, user=user, hostname=hostname))
