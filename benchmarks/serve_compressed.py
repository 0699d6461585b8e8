"""Serve a built site on 127.0.0.1 with gzip compression, as a web host would (for the Lighthouse benchmark).

Usage::

    .venv/bin/python benchmarks/serve_compressed.py [--dir _build/html] [--port 8000]

Python's ``http.server`` sends every file as it is on disk. Every static host a site like this one is
published on (GitHub Pages, Netlify, nginx, Apache) compresses text before sending it, and a
browser's download time, and so Lighthouse's performance score, depends on it. This server answers a
request whose ``Accept-Encoding`` includes ``gzip`` for a text file (HTML, CSS, JavaScript, JSON, SVG,
XML, plain text) with the file gzip-compressed (level 6, zlib's default) and
``Content-Encoding: gzip``; anything else (images, fonts already compressed) as it is. It adds
``Cache-Control: max-age=600``, as GitHub Pages does, and speaks HTTP/1.1 (connections kept open between
requests; ``http.server`` speaks HTTP/1.0 and opens one per request). It listens on 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import gzip
import http.server
import io
import os
from functools import partial
from pathlib import Path
from typing import ClassVar

#: Content types sent compressed (their main type, or the whole type).
COMPRESSED = ("text/", "application/javascript", "application/json", "image/svg+xml", "application/xml")
#: gzip level: zlib's default.
LEVEL = 6


class CompressingHandler(http.server.SimpleHTTPRequestHandler):
    """``SimpleHTTPRequestHandler`` that gzips text answers the client accepts compressed.

    HTTP/1.1, so a browser keeps its connections open between requests, as it does with any web host.
    """

    protocol_version = "HTTP/1.1"

    extensions_map: ClassVar[dict[str, str]] = {**http.server.SimpleHTTPRequestHandler.extensions_map,
                      ".js": "application/javascript", ".svg": "image/svg+xml",
                      ".woff2": "font/woff2", ".json": "application/json"}  # fmt: skip

    def send_head(self) -> io.BytesIO | None:  # type: ignore[override]
        path = Path(self.translate_path(self.path))
        if path.is_dir() and self.path.split("?")[0].endswith("/"):
            path = path / "index.html"
        ctype = self.guess_type(str(path))
        wants_gzip = "gzip" in self.headers.get("Accept-Encoding", "")
        if not (path.is_file() and wants_gzip and ctype.startswith(COMPRESSED)):
            return super().send_head()  # directories (redirect), 404s, images and fonts as they are
        body = gzip.compress(path.read_bytes(), compresslevel=LEVEL, mtime=0)
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Vary", "Accept-Encoding")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        return io.BytesIO(body)

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "max-age=600")
        super().end_headers()

    def log_message(self, format: str, *args: object) -> None:
        if os.environ.get("SERVE_VERBOSE"):
            super().log_message(format, *args)


def make_server(directory: Path, port: int = 0) -> http.server.ThreadingHTTPServer:
    """A threading server for ``directory`` on 127.0.0.1:``port`` (0: any free port), not yet serving."""
    handler = partial(CompressingHandler, directory=str(directory))
    return http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=Path("_build/html"))
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    server = make_server(args.dir, args.port)
    print(f"serving {args.dir} compressed on http://127.0.0.1:{server.server_address[1]}/", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
