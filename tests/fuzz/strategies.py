"""Hypothesis strategies for hostile input: values for every option, files, tool output."""

from __future__ import annotations

import string

from hypothesis import strategies as st

ESCAPES = [
    "\x1b[2J",
    "\x1b]0;owned\x07",
    "\x1b]8;;http://evil.example\x1b\\",
    "\x1b]52;c;ZXZpbA==\x07",
    "\x9b31m",
    "\r",
    "\x00",
    "\x7f",
    "\n",
]
SECRET = st.text(string.ascii_letters + string.digits, min_size=8, max_size=12).map(
    lambda s: "Zq9" + s
)


def secret_url(secret: str) -> st.SearchStrategy[str]:
    """An index URL carrying ``secret`` in one of the forms pip and mirrors accept."""
    return st.sampled_from(
        [
            f"http://user:{secret}@127.0.0.1:9/simple",
            f"http://user:{secret}@x@127.0.0.1:9/simple",
            f"https://{secret}@mirror.example/simple",
            f"https://mirror.example/simple?private_token={secret}",
            f"https://mirror.example/simple?auth_token={secret}",
            f"https://s3.example/simple?X-Amz-Signature={secret}",
            f"https://mirror.example/simple#token={secret}",
            f"https://mirror.example/simple;token={secret}",
            f"https://mirror.example/t/{secret}{secret}{secret}0/simple",
        ]
    )


hostile_text = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["", " ", "-", "--", "-e", "--pre", "nan", "inf", "1e308", "-1", "0"]),
    st.sampled_from(ESCAPES).map(lambda e: f"2.4{e}x"),
    st.integers(min_value=1, max_value=9).map(lambda d: str(d) * 4400),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.text(string.digits + ".", min_size=1, max_size=30),
    st.just("x" * 5000),
)

version_like = st.one_of(
    st.sampled_from(["2.13.0", "2.4", ">=2.3,<2.5", "2.0.1", "1.0", "99.0", "2.4.1+cpu"]),
    hostile_text,
)
