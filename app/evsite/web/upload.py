"""Request bodies larger than a form: a bundle streamed to a file, and per-route body limits.

bottle reads a whole request body (into memory or a temporary file) the first
time anything asks for a form field, and the guard does so for the CSRF token
of every POST. A bundle is hundreds of MB: it must go to the data partition in
chunks, counted against a limit of its own, and never through bottle's buffer.
`install_body_limits` adds one before-request hook that:

- for a raw-body route (the body is the data itself, not a form), presents an
  empty form to the guard, which then takes the CSRF token from the
  `X-CSRF-Token` header as it already accepts; an ordinary form post to such a
  route is left alone (and refused by the route);
- holds every other route to the form limit (`[web] max_body_bytes`), on
  Content-Length up front and on chunked bodies as they are read. The server's
  own limit (cheroot's) can so be raised to the bundle limit without raising it
  for every page.

`stream_to_file` then copies the body in 1 MiB chunks, counting bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

from bottle import Bottle, FormsDict, HTTPError, request

from evsite.web.csrf import STATE_CHANGING

CHUNK_BYTES = 1024 * 1024
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class BodyTooLarge(Exception):
    """The body went over its limit."""


class BodyIncomplete(Exception):
    """The body ended before its announced length (the client went away)."""


def is_form(environ: dict[str, Any]) -> bool:
    """True when the request body is an HTML form (urlencoded or multipart)."""
    kind = str(environ.get("CONTENT_TYPE", "")).split(";", 1)[0].strip().lower()
    return kind in FORM_TYPES


def is_chunked(environ: dict[str, Any]) -> bool:
    """True when the body comes with chunked transfer coding (no length up front)."""
    return "chunked" in str(environ.get("HTTP_TRANSFER_ENCODING", "")).lower()


def content_length(environ: dict[str, Any]) -> int | None:
    """The announced body length; None when absent or not a number."""
    text = str(environ.get("CONTENT_LENGTH", "")).strip()
    return int(text) if text.isdigit() else None


class _Limited:
    """A wsgi.input that refuses to deliver more than `limit` bytes."""

    def __init__(self, raw: Any, limit: int) -> None:
        self._raw = raw
        self._left = limit

    def read(self, size: int = -1) -> bytes:
        data: bytes = self._raw.read(size)
        self._left -= len(data)
        if self._left < 0:
            raise HTTPError(413, "Request too large")
        return data

    def readline(self, size: int = -1) -> bytes:
        data: bytes = self._raw.readline(size)
        self._left -= len(data)
        if self._left < 0:
            raise HTTPError(413, "Request too large")
        return data


def install_body_limits(app: Bottle, form_limit: int, raw_body_paths: frozenset[str]) -> None:
    """Add the hook: raw-body routes skip bottle's form parsing; all others keep form_limit."""

    def before_request() -> None:
        environ = request.environ
        if environ.get("REQUEST_METHOD", "GET").upper() not in STATE_CHANGING:
            return
        if environ.get("PATH_INFO", "") in raw_body_paths and not is_form(environ):
            # bottle caches the parsed form under this key: the guard finds it empty and
            # reads the CSRF token from the header instead of reading the body.
            environ["bottle.request.post"] = FormsDict()
            return
        length = content_length(environ)
        if length is not None and length > form_limit:
            raise HTTPError(413, "Request too large")
        if is_chunked(environ) and "wsgi.input" in environ:
            environ["wsgi.input"] = _Limited(environ["wsgi.input"], form_limit)

    app.add_hook("before_request", before_request)


def stream_to_file(
    body: BinaryIO,
    dest: Path,
    *,
    length: int | None,
    limit: int,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Copy a request body into `dest` in chunks; return the bytes written.

    `length` is the announced Content-Length (None for chunked: read to the
    end). Raises BodyTooLarge past `limit` and BodyIncomplete when the body
    ends early; the caller deletes the partial file.
    """
    written = 0
    with open(dest, "wb") as out:
        while length is None or written < length:
            want = CHUNK_BYTES if length is None else min(CHUNK_BYTES, length - written)
            chunk = body.read(want)
            if not chunk:
                break
            written += len(chunk)
            if written > limit:
                raise BodyTooLarge(f"the upload went over {limit} bytes")
            out.write(chunk)
            if progress is not None:
                progress(written)
    if length is not None and written < length:
        raise BodyIncomplete(f"the upload stopped after {written} of {length} bytes")
    return written
