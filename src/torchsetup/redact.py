"""Redaction of secrets and personal details in anything torchsetup prints or logs.

Redaction is for what is *shown* (the terminal, ``--json``, exports, logs, restore files,
``--report``, ``--save-snapshot``), never for what *runs*: a plan is executed with its real
index URL and redacted only on its way to an output.

Everything here is linear in the length of the text (every pattern is anchored at a word start
and has bounded repetition): a 50 MB one-line paste is redacted in well under a second per MB.

In a URL (``scheme://...``) these are redacted:

- the user info: everything before the *last* ``@`` of the authority (pip splits there too),
  so ``user:pa@ss@host`` and ``user:pass word@host`` both lose the whole password;
- the value of every query or fragment parameter (after ``?``, ``&``, ``;`` or ``#``) whose
  name holds token, secret, password, passwd, pwd, signature, sig, key, auth, credential or
  session (``?private_token=``, ``?auth_token=``, ``?X-Amz-Signature=``, ``#token=``, ...);
- a path segment that looks like a token: a known token prefix (``ghp_``, ``glpat-``, ...) or
  24+ characters of letters *and* digits with no dot (``/t/AbC123...xyz/simple``).
"""

from __future__ import annotations

import re

REDACTED = "***"

_SCHEME = r"[A-Za-z][A-Za-z0-9+.\-]{0,31}://"
_SCHEME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-")
# user:pass with up to three spaces in the password, up to the last @ (tried first)
_SPACED_CRED = r"[^\s/?#@]{1,256}:[^\s/?#]{0,256}(?: [^\s/?#]{1,256}){1,3}@(?=[^\s/?#@]{1,256})"
_URL = re.compile(
    rf"(?P<scheme>{_SCHEME})(?P<spaced>{_SPACED_CRED})?(?P<rest>[^\s<>\"'`]{{0,8192}})"
)
_SECRET_KEY = re.compile(
    r"token|secret|passw|pwd|signature|sig\b|sig$|key|auth|credential|session", re.IGNORECASE
)
_TOKEN_PREFIX = re.compile(r"^(?:ghp_|gho_|ghs_|github_pat_|glpat-|xox[abp]-|AKIA|ASIA|sk-)")
_PARAM = re.compile(r"(?P<sep>[?&;#])(?P<key>[A-Za-z0-9_.\-]{1,64})=(?P<value>[^&;#\s]*)")

_GPU_UUID = re.compile(
    r"\b(GPU|MIG)-[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"
)

# /home/alice/..., /Users/alice/..., C:\Users\alice\... (any user: the facts may come from a
# snapshot or report of another machine).
_USER_DIRS = re.compile(r"(?P<base>/home/|/Users/)(?P<name>[^/\s:;,'\")]{1,256})")
_WIN_USER_DIRS = re.compile(r"(?P<base>[A-Za-z]:\\Users\\)(?P<name>[^\\\n\"']{1,256})")
_NOT_PERSONAL = {"<user>", "Shared", "Public", "Default", "runner", "user"}


def _tokenish(segment: str) -> bool:
    if _TOKEN_PREFIX.match(segment) and len(segment) >= 12:
        return True
    if len(segment) < 24 or "." in segment or not re.fullmatch(r"[A-Za-z0-9_\-]+", segment):
        return False
    return any(c.isdigit() for c in segment) and any(c.isalpha() for c in segment)


def _params(text: str) -> str:
    def sub(m: re.Match[str]) -> str:
        if not m.group("value") or not _SECRET_KEY.search(m.group("key")):
            return m.group(0)
        return f"{m.group('sep')}{m.group('key')}={REDACTED}"

    return _PARAM.sub(sub, text)


def _redact_url(m: re.Match[str]) -> str:
    scheme, rest = m.group("scheme"), m.group("rest")
    spaced = m.group("spaced")
    cut = len(rest)
    for ch in "/?#":
        at = rest.find(ch)
        if at != -1 and at < cut:
            cut = at
    authority, tail = rest[:cut], rest[cut:]
    if spaced:
        authority = REDACTED + "@" + authority
    elif "@" in authority:
        authority = REDACTED + "@" + authority.rpartition("@")[2]
    end = len(tail)
    for ch in "?#;":
        at = tail.find(ch)
        if at != -1 and at < end:
            end = at
    path = "/".join(REDACTED if _tokenish(s) else s for s in tail[:end].split("/"))
    return f"{scheme}{authority}{path}{tail[end:]}"


def _urls(text: str) -> str:
    """Every URL redacted: found by its ``://`` (a fast literal search), its scheme read back."""
    out: list[str] = []
    done = 0  # text[:done] is in out
    pos = text.find("://")
    while pos != -1:
        start = pos
        while start > done and pos - start < 32 and text[start - 1] in _SCHEME_CHARS:
            start -= 1
        while start < pos and not text[start].isalpha():  # a scheme starts with a letter
            start += 1
        m = _URL.match(text, start) if start < pos else None
        if m is None:
            pos = text.find("://", pos + 3)
            continue
        out.append(text[done:start])
        out.append(_redact_url(m))
        done = m.end()
        pos = text.find("://", max(done, pos + 3))
    if not out:
        return text
    out.append(text[done:])
    return "".join(out)


def redact_url_credentials(text: str) -> str:
    """Replace credentials in URLs (user:pass@, token@, ?token=, token path segments) with ***."""
    if "://" in text:
        text = _urls(text)
    return _params(text) if "=" in text else text


def redact_argv(argv: list[str] | tuple[str, ...]) -> list[str]:
    return [redact_url_credentials(a) for a in argv]


def redact_gpu_uuids(text: str) -> str:
    if "GPU-" not in text and "MIG-" not in text:
        return text
    return _GPU_UUID.sub(lambda m: f"{m.group(1)}-<redacted>", text)


def _hostname_pattern(hostname: str) -> re.Pattern[str]:
    """The host name as a host name: not inside a longer name, not a package pin (``torch==``),
    a path component or a version (a host named ``torch`` keeps ``[pip3] torch==2.13.0``)."""
    name = re.escape(hostname)
    return re.compile(rf"(?<![\w.\-/=+<>~!\[]){name}(?![\w\-=<>~!]|\.\w|/\w| v?\d)")


def redact_personal(
    text: str, *, home: str | None = None, user: str | None = None, hostname: str | None = None
) -> str:
    """Redact URL credentials, GPU UUIDs, the home directory, the user name and the host name."""
    text = redact_url_credentials(text)
    text = redact_gpu_uuids(text)
    if home and len(home) > 1:
        text = text.replace(home, "~")
    if user and len(user) > 1 and user in text:
        text = re.sub(rf"(?<=[/\\]){re.escape(user)}(?=[/\\]|$)", "<user>", text)
    if hostname and len(hostname) > 1 and hostname in text:
        text = _hostname_pattern(hostname).sub("<host>", text)
    return text


def redact_user_dirs(text: str) -> str:
    """Replace the user name in home-directory paths of any user with <user>."""

    def sub(m: re.Match[str]) -> str:
        return m.group(0) if m.group("name") in _NOT_PERSONAL else f"{m.group('base')}<user>"

    if "/home/" in text or "/Users/" in text:
        text = _USER_DIRS.sub(sub, text)
    if ":\\Users\\" in text:
        text = _WIN_USER_DIRS.sub(sub, text)
    return text


def redact_report(
    text: str, *, home: str | None = None, user: str | None = None, hostname: str | None = None
) -> str:
    """Everything :func:`redact_personal` does, plus user names in any home-directory path."""
    return redact_user_dirs(redact_personal(text, home=home, user=user, hostname=hostname))
