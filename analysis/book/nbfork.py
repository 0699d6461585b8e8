"""Execute notebooks in forked copies of a prepared Python process, with the outputs a kernel gives.

Starting a Jupyter kernel and importing a review's libraries costs about 1.3 s per notebook on
the project machine, more than most chapters spend computing. This module removes that cost
without changing what a page shows:

* a fresh Python process (the "zygote", :class:`Zygote`) is prepared as a kernel would be: it
  creates ipykernel's shell, selects the inline matplotlib backend through ``MPLBACKEND``, then
  imports the libraries the chapters use, once (``modules``);
* each notebook then runs in its own ``os.fork()`` of that process, so it starts from a clean
  copy of the prepared interpreter (nothing one chapter does can leak into another) and
  several notebooks run at the same time, one per core;
* inside the fork, the shell executes the code cells; displays and results are encoded with
  ipykernel's own ``json_clean``/``encode_images``, streams are flushed the way ipykernel
  flushes them, execution counts start at 1, and the notebook's folder is the working folder.

The result is a notebook whose outputs are those a kernel would have produced; the test suite
checks this against ``nbclient`` and ``ipykernel`` on synthetic notebooks, and checks that the
whole website comes out byte-identical to a build with a kernel per chapter. A notebook whose
execution fails here (an error in a cell, a timeout, a crash) is reported as failed and left
to the ordinary kernel executor, which reports the error the usual way.

Only POSIX systems have ``fork``; elsewhere :func:`fork_available` is False and callers fall
back to kernels. Nothing here knows about any particular book.
"""

from __future__ import annotations

import contextlib
import copy
import importlib
import io
import json
import os
import selectors
import signal
import sys
import time
import traceback
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "CellError",
    "Job",
    "Outcome",
    "Warm",
    "Zygote",
    "execute_notebook",
    "fork_available",
    "preload",
    "prewarm",
    "run_forked",
]

#: Cells with this tag are not executed (nbclient's default ``skip_cells_with_tag``).
SKIP_TAG = "skip-execution"
#: The backend ipykernel selects through ``MPLBACKEND`` when none is set.
INLINE_BACKEND = "module://matplotlib_inline.backend_inline"


class CellError(RuntimeError):
    """A code cell raised; ``index`` is the cell's position in the notebook."""

    def __init__(self, index: int, message: str) -> None:
        super().__init__(f"cell {index}: {message}")
        self.index = index


@dataclass(frozen=True)
class Job:
    """One notebook to execute: a key for the caller, the notebook (nbformat v4) and its folder."""

    key: str
    notebook: Any
    cwd: Path


@dataclass(frozen=True)
class Outcome:
    """What became of a :class:`Job`: the executed notebook, or why there is none."""

    key: str
    notebook: Any | None
    seconds: float
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.notebook is not None and self.error is None


def fork_available() -> bool:
    """True where ``os.fork`` exists (Linux, macOS, other POSIX systems)."""
    return hasattr(os, "fork")


def preload(modules: Iterable[str]) -> list[str]:
    """Import ``modules`` into this process so that forks inherit them; return any that failed.

    IPython's shell and ipykernel's JSON helpers are always imported. A module that cannot be
    imported is not an error here (the notebook that needs it will fail, and fall back).
    """
    failed = []
    for name in ("IPython.core.interactiveshell", "ipykernel.jsonutil", *modules):
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - reported to the caller, never raised
            failed.append(name)
    return failed


# --------------------------------------------------------------------------- outputs of one cell
class _Sink:
    """Collects the outputs of the cell being executed, as nbformat output dicts.

    Streams are buffered and flushed the way ipykernel flushes them: stdout then stderr, before
    any display, result or clear, on an explicit ``flush()`` and at the end of the cell.
    """

    def __init__(self) -> None:
        self.outputs: list[dict[str, Any]] = []
        self.clear_pending = False
        self.display_ids: dict[str, list[dict[str, Any]]] = {}
        self.pending = {"stdout": "", "stderr": ""}

    def start_cell(self) -> None:
        self.outputs, self.clear_pending = [], False
        self.pending = {"stdout": "", "stderr": ""}

    def _append(self, out: dict[str, Any]) -> None:
        if self.clear_pending:
            self.outputs.clear()
            self.clear_pending = False
        self.outputs.append(out)

    def stream(self, name: str, text: str) -> None:
        self.pending[name] += text

    def flush(self) -> None:
        for name in ("stdout", "stderr"):
            text, self.pending[name] = self.pending[name], ""
            if text:
                self._append({"output_type": "stream", "name": name, "text": text})

    def display(self, data: dict, metadata: dict, transient: Mapping | None, update: bool) -> None:
        self.flush()
        display_id = (transient or {}).get("display_id")
        if update:
            for out in self.display_ids.get(display_id, []):
                out["data"], out["metadata"] = data, metadata
            return
        out = {"output_type": "display_data", "data": data, "metadata": metadata}
        self._append(out)
        if display_id:
            self.display_ids.setdefault(display_id, []).append(out)

    def execute_result(self, count: int, data: dict, metadata: dict) -> None:
        self.flush()
        self._append({"output_type": "execute_result", "execution_count": count,
                      "data": data, "metadata": metadata})

    def clear(self, wait: bool) -> None:
        self.flush()
        if wait:
            self.clear_pending = True
        else:
            self.outputs.clear()


class _Stream(io.TextIOBase):
    """``sys.stdout``/``sys.stderr`` stand-in that turns writes into stream outputs."""

    def __init__(self, name: str, sink: _Sink) -> None:
        self.name, self._sink = name, sink

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def write(self, text: str) -> int:
        self._sink.stream(self.name, str(text))
        return len(text)

    def flush(self) -> None:
        self._sink.flush()


def _shell(sink: _Sink) -> Any:
    """A fresh ipykernel shell whose displays, results and errors go to ``sink``, not to sockets.

    The class is ipykernel's own ``ZMQInteractiveShell`` (same environment variables, warning
    filters, magics and compiler), so libraries that ask whether they run in a Jupyter kernel
    (pandas' frame width, for one) get the same answer; only the socket-facing parts are
    replaced.
    """
    from ipykernel.compiler import XCachingCompiler
    from ipykernel.displayhook import ZMQShellDisplayHook
    from ipykernel.jsonutil import encode_images, json_clean
    from ipykernel.zmqshell import ZMQDisplayPublisher
    from ipykernel.zmqshell import ZMQInteractiveShell as KernelShell
    from traitlets.config import Config

    class Publisher(ZMQDisplayPublisher):
        def publish(self, data, metadata=None, source=None, *, transient=None, update=False,
                    **kwargs):
            content = json_clean({"data": encode_images(data), "metadata": metadata or {}})
            sink.display(content["data"], content["metadata"], transient, update)

        def clear_output(self, wait=False):
            sink.clear(wait)

    class Hook(ZMQShellDisplayHook):
        def start_displayhook(self):
            self._result = None

        def write_output_prompt(self):
            pass

        def write_format_data(self, format_dict, md_dict=None):
            self._result = (json_clean(encode_images(format_dict)), md_dict or {})

        def finish_displayhook(self):
            if self._result and self._result[0]:
                sink.execute_result(self.prompt_count, *self._result)

    class ZMQInteractiveShell(KernelShell):  # the kernel's class name, as libraries test it
        def enable_gui(self, gui=None):
            pass

        def _showtraceback(self, etype, evalue, stb):
            self._last_traceback = stb

    config = Config()
    config.HistoryManager.enabled = False
    return ZMQInteractiveShell.instance(config=config, display_pub_class=Publisher,
                                        displayhook_class=Hook, compiler_class=XCachingCompiler)


def _enable_inline_matplotlib() -> None:
    """Select matplotlib's inline backend the way ipykernel does: through ``MPLBACKEND``.

    Set before anything imports matplotlib, so that, as in a kernel, matplotlib_inline registers
    its figure flush and applies its rcParams (72 dpi, transparent figure background, ...) when
    a worker first loads the backend, i.e. when its notebook first creates a figure.
    """
    os.environ["MPLBACKEND"] = INLINE_BACKEND


class Warm:
    """A process prepared like a fresh kernel: shell, output capture, inline matplotlib, imports.

    Created once in the zygote process; every notebook worker forked from it inherits the shell
    before it has run a cell, as a kernel's shell is when a notebook starts.
    """

    def __init__(self, modules: Iterable[str] = (), calls: Iterable[tuple[str, str]] = ()) -> None:
        _enable_inline_matplotlib()
        self.sink = _Sink()
        sys.stdout, sys.stderr = _Stream("stdout", self.sink), _Stream("stderr", self.sink)
        self.shell = _shell(self.sink)
        with self.shell.builtin_trap:  # imports see get_ipython(), as they do inside a cell
            self.failed_imports = preload(modules)
            self.failed_calls = prewarm(calls)
        self.sink.start_cell()


def prewarm(calls: Iterable[tuple[str, str]]) -> list[str]:
    """Call each ``("module:function", argument)`` in this process, so that forks inherit its work.

    For work every notebook would repeat (loading and checking the same data): the function is
    expected to keep its result where the notebooks look for it (a cache) and to keep nothing
    that would make a notebook's outputs differ from a run without it. Returns the calls that
    raised or returned False; neither is an error here.
    """
    failed = []
    for spec, argument in calls:
        module, _, name = spec.partition(":")
        try:
            if getattr(importlib.import_module(module), name)(argument) is False:
                failed.append(spec)
        except Exception:  # noqa: BLE001 - reported to the caller, never raised
            failed.append(spec)
    return failed


def execute_notebook(notebook: Any, cwd: Path | str, warm: Warm | None = None) -> Any:
    """Execute the code cells of ``notebook`` in this process; return it with outputs.

    Meant to run in a disposable process (a fork): it changes the working directory, ``sys.path``,
    ``sys.stdout``/``sys.stderr`` and matplotlib's backend, as a kernel started in ``cwd`` would
    have them, and does not restore them.

    Parameters
    ----------
    notebook : nbformat.NotebookNode
        An nbformat v4 notebook (not modified; a copy is executed).
    cwd : path
        The folder the notebook runs in (the kernel's working directory).
    warm : Warm, optional
        A prepared process state whose shell has not run a cell yet; made here when omitted.

    Returns
    -------
    nbformat.NotebookNode
        A copy with ``outputs`` and ``execution_count`` set on every executed code cell and
        ``metadata.language_info`` set to ipykernel's.

    Raises
    ------
    CellError
        When a cell raises; no notebook is returned in that case.
    """
    from ipykernel.ipkernel import IPythonKernel

    nb = copy.deepcopy(notebook)
    os.chdir(cwd)
    sys.path.insert(0, str(Path(cwd).resolve()))
    warm = warm or Warm()
    shell, sink = warm.shell, warm.sink
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or not cell.source.strip():
            continue
        if SKIP_TAG in cell.get("metadata", {}).get("tags", []):
            continue
        sink.start_cell()
        result = shell.run_cell(cell.source, store_history=True)
        sink.flush()
        cell.execution_count = result.execution_count
        if not result.success:
            error = result.error_in_exec or result.error_before_exec
            raise CellError(index, f"{type(error).__name__}: {error}")
        cell.outputs = _as_nodes(sink.outputs)
    nb.metadata["language_info"] = json.loads(json.dumps(IPythonKernel.language_info))
    return nb


def _as_nodes(outputs: list[dict[str, Any]]) -> list[Any]:
    import nbformat

    return [nbformat.from_dict(out) for out in outputs]


# --------------------------------------------------------------------------- forked processes
def _fork(body: Any) -> tuple[int, int]:
    """Fork; the child runs ``body(write_fd)`` and exits. Returns (pid, read end of the pipe)."""
    sys.stdout.flush()
    sys.stderr.flush()
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        code = 0
        try:
            body(write_fd)
        except BaseException:  # noqa: BLE001 - a child must never return into the caller
            code = 1
        finally:
            os._exit(code)
    os.close(write_fd)
    return pid, read_fd


def _send(write_fd: int, payload: Any) -> None:
    with os.fdopen(write_fd, "wb") as pipe:
        pipe.write(json.dumps(payload).encode())


def _worker(job: Job, warm: Warm) -> Any:
    """Body of a notebook worker: execute and send ``{notebook, error, seconds}``."""

    def body(write_fd: int) -> None:
        start = time.perf_counter()
        try:
            payload = {"notebook": execute_notebook(job.notebook, job.cwd, warm), "error": None}
        except CellError as exc:
            payload = {"notebook": None, "error": str(exc)}
        except BaseException as exc:  # noqa: BLE001 - reported to the parent
            text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            payload = {"notebook": None, "error": text}
        payload["seconds"] = time.perf_counter() - start
        _send(write_fd, payload)

    return body


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def _schedule(jobs: Sequence[Job], warm: Warm, workers: int, timeout: float | None) -> dict[str, Any]:
    """Run ``jobs`` in workers forked from this (warm) process; payloads keyed by job."""
    pending = list(jobs)
    running: dict[int, tuple[Job, int, list[bytes], float]] = {}  # read fd -> state
    done: dict[str, Any] = {}
    selector = selectors.DefaultSelector()
    try:
        while pending or running:
            while pending and len(running) < workers:
                job = pending.pop(0)
                pid, fd = _fork(_worker(job, warm))
                running[fd] = (job, pid, [], time.perf_counter())
                selector.register(fd, selectors.EVENT_READ)
            wait = None if timeout is None else max(0.05, _next_deadline(running, timeout))
            for key, _ in selector.select(wait):
                job, pid, chunks, started = running[key.fd]
                data = os.read(key.fd, 1 << 20)
                if data:
                    chunks.append(data)
                    continue
                selector.unregister(key.fd)
                os.close(key.fd)
                del running[key.fd]
                os.waitpid(pid, 0)
                done[job.key] = _decode(chunks, time.perf_counter() - started)
            for fd, (job, pid, _, started) in list(running.items()):
                if timeout is not None and time.perf_counter() - started > timeout:
                    selector.unregister(fd)
                    os.close(fd)
                    del running[fd]
                    _kill(pid)
                    os.waitpid(pid, 0)
                    done[job.key] = {"notebook": None, "seconds": timeout,
                                     "error": f"timed out after {timeout:g} s"}
    finally:
        for fd, (_, pid, _, _) in running.items():
            selector.unregister(fd)
            os.close(fd)
            _kill(pid)
            os.waitpid(pid, 0)
        selector.close()
    return done


def _decode(chunks: list[bytes], seconds: float) -> Any:
    try:
        return json.loads(b"".join(chunks))
    except ValueError:
        return {"notebook": None, "seconds": seconds, "error": "the process exited without a result"}


def _next_deadline(running: Mapping[int, tuple[Job, int, list[bytes], float]], timeout: float) -> float:
    now = time.perf_counter()
    return min(started + timeout - now for (_, _, _, started) in running.values())


#: Bootstraps a zygote in a fresh interpreter: this file is loaded by path, so nothing of the
#: package it belongs to is imported before the shell exists (as in a kernel).
_BOOT = (
    "import sys; sys.path[:] = [p for p in sys.path if p]; import importlib.util as u; "
    "s = u.spec_from_file_location('_nbfork_zygote', sys.argv[1]); m = u.module_from_spec(s); "
    "sys.modules[s.name] = m; s.loader.exec_module(m); m._zygote_main()"
)


#: Environment variable through which a process that started a :class:`Zygote` hands it to a child
#: process (:meth:`Zygote.handoff`, :meth:`Zygote.adopt`).
HANDOFF_ENV = "NBFORK_ZYGOTE"


class Zygote:
    """A fresh Python process, prepared like a kernel, from which notebook workers are forked.

    :meth:`start` launches it and lets it prepare (:class:`Warm`) while the caller goes on (a
    Sphinx build reads its configuration and environment meanwhile); :meth:`run` hands it the
    jobs and waits for the outcomes; it then exits. A fresh interpreter, not a fork of the
    caller, so that no module is imported before the shell exists (libraries such as pandas
    and matplotlib decide at import time whether they run in a Jupyter kernel).

    A process may start one and hand it to a child process it launches (:meth:`handoff`, then
    :meth:`adopt` in the child): a build driver starts the preparation before the documentation
    tool it runs has even imported itself. The child compares :attr:`header` (what the process was
    asked to import, call and set) with what it wants, and uses the process only when they agree.
    """

    def __init__(self, stdin: Any, stdout: Any, pid: int, header: Mapping[str, Any],
                 process: Any = None) -> None:
        self._stdin, self._stdout, self._pid, self._process = stdin, stdout, pid, process
        self.header = dict(header)

    @staticmethod
    def make_header(modules: Iterable[str] = (), calls: Iterable[tuple[str, str]] = (),
                    env: Mapping[str, str | None] | None = None) -> dict[str, Any]:
        """What a zygote is asked to do: import ``modules``, set (or, for None, remove) the variables
        of ``env``, then make the :func:`prewarm` ``calls``."""
        return {"modules": list(modules), "calls": [list(c) for c in calls],
                "env": {str(k): v for k, v in sorted((env or {}).items())}}

    @classmethod
    def start(cls, modules: Iterable[str] = (), calls: Iterable[tuple[str, str]] = (),
              env: Mapping[str, str | None] | None = None) -> Zygote:
        """Launch the process: it imports ``modules``, sets ``env``, then makes the :func:`prewarm` ``calls``."""
        import subprocess

        if not fork_available():
            raise RuntimeError("os.fork is not available on this platform")
        header = cls.make_header(modules, calls, env)
        process = subprocess.Popen(
            [sys.executable, "-c", _BOOT, str(Path(__file__).resolve())],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        process.stdin.write(json.dumps(header).encode() + b"\n")
        process.stdin.flush()
        return cls(process.stdin, process.stdout, process.pid, header, process)

    def handoff(self) -> tuple[str, tuple[int, int]]:
        """The token a child process passes to :meth:`adopt` (put it in :data:`HANDOFF_ENV`) and the two
        file descriptors the child must inherit (``pass_fds``).

        After the child started, the caller closes its own copies (:meth:`release`) and, once the
        child ended, :meth:`close` (which stops the process if the child did not use it).
        """
        fds = (self._stdin.fileno(), self._stdout.fileno())
        token = json.dumps({"pid": self._pid, "stdin": fds[0], "stdout": fds[1], "header": self.header})
        return token, fds

    def release(self) -> None:
        """Close this process's ends of the pipes (the child that adopted the zygote holds its own)."""
        for stream in (self._stdin, self._stdout):
            if stream is not None and not stream.closed:
                stream.close()

    @classmethod
    def adopt(cls, token: str) -> Zygote | None:
        """The zygote a parent process handed over (:meth:`handoff`), or None when ``token`` is not one."""
        try:
            data = json.loads(token)
            stdin = os.fdopen(int(data["stdin"]), "wb")
            stdout = os.fdopen(int(data["stdout"]), "rb")
            return cls(stdin, stdout, int(data["pid"]), data["header"])
        except (ValueError, KeyError, TypeError, OSError):
            return None

    def run(self, jobs: Sequence[Job], workers: int = 2, timeout: float | None = None) -> list[Outcome]:
        """Execute ``jobs``, at most ``workers`` at a time; one :class:`Outcome` per job, in order."""
        jobs = list(jobs)
        if len({job.key for job in jobs}) != len(jobs):
            raise ValueError("Zygote.run: job keys must be unique")
        request = {"workers": max(1, int(workers)), "timeout": timeout,
                   "jobs": [{"key": j.key, "notebook": j.notebook, "cwd": str(j.cwd)} for j in jobs]}
        try:
            self._stdin.write(json.dumps(request).encode() + b"\n")
            self._stdin.close()
            out = self._stdout.read()
            self._stdout.close()
            if self._process is not None:
                self._process.wait()
            result = json.loads(out) if out else {}
        except (OSError, ValueError) as exc:
            result = {"error": f"{type(exc).__name__}: {exc}"}
        done = result.get("done", {})
        why = result.get("error") or "the preparing process exited without a result"
        return [_outcome(job.key, done.get(job.key), why) for job in jobs]

    def close(self) -> None:
        """Stop the process if it is still preparing or waiting for jobs; close the pipes."""
        if self._process is not None:
            if self._process.poll() is None:
                self._process.kill()
                self._process.wait()
        elif not self._stdout.closed:  # adopted: the parent that started it waits for it
            with contextlib.suppress(OSError):
                os.kill(self._pid, signal.SIGKILL)
        self.release()


def _zygote_main() -> None:
    """Entry point of the zygote process (see :data:`_BOOT`)."""
    results = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything written to fd 1 (a subprocess, C code) goes to stderr, not the results
    header = json.loads(sys.stdin.buffer.readline() or b"{}")
    for name, value in (header.get("env") or {}).items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = str(value)
    try:
        warm = Warm(header.get("modules", ()), [tuple(c) for c in header.get("calls", ())])
    except BaseException as exc:  # noqa: BLE001 - reported to the parent
        _write(results, {"done": {}, "error": f"preparing failed: {type(exc).__name__}: {exc}"})
        return
    import gc

    gc.freeze()  # what every fork inherits is never collected there, nor copied by the collector's writes
    line = sys.stdin.buffer.readline()
    if not line:
        return
    import nbformat

    request = json.loads(line)
    jobs = [Job(j["key"], nbformat.from_dict(j["notebook"]), Path(j["cwd"])) for j in request["jobs"]]
    done = _schedule(jobs, warm, request["workers"], request["timeout"])
    _write(results, {"done": done, "failed_imports": warm.failed_imports})


def _write(stream: Any, payload: Any) -> None:
    stream.write(json.dumps(payload).encode())
    stream.flush()


def run_forked(jobs: Sequence[Job], workers: int = 2, timeout: float | None = None,
               modules: Iterable[str] = ()) -> list[Outcome]:
    """Execute ``jobs`` in workers forked from a new :class:`Zygote` that imported ``modules``."""
    zygote = Zygote.start(modules)
    try:
        return zygote.run(jobs, workers, timeout)
    finally:
        zygote.close()


def _outcome(key: str, payload: Mapping[str, Any] | None, why: str) -> Outcome:
    import nbformat

    if payload is None:
        return Outcome(key, None, 0.0, why)
    if payload.get("error") or payload.get("notebook") is None:
        return Outcome(key, None, float(payload.get("seconds", 0.0)), payload.get("error") or why)
    return Outcome(key, nbformat.from_dict(payload["notebook"]), float(payload["seconds"]))
