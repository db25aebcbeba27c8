"""Images in, vectors out: an image model's vectors, or the raw pixels.

- A CLIP-style model through sentence-transformers on torch (a hub id or a local folder: its image tower
  encodes PIL images; its text tower encodes typed texts into the same space, which is how a
  typed query or a custom axis lands among images: ``embeddings.pipeline.embed_query``). Vectors
  are cached per (model fingerprint, ``image``, sha256 of the image file's bytes), so a renamed
  file is still a cache hit and a fully cached run loads no model.
- ``pixels`` (``PIXELS_MODEL``): each image's pixels, flattened, as the projector's MNIST demo
  does: values in [0, 1], one per pixel when every image is greyscale, else red, green and blue
  per pixel; images of another size than the most common one are resized to it (a smaller
  value is the mean of the pixels it covers), and an image
  larger than ``PIXEL_BOX`` on a side is shrunk (aspect kept), so 10k photos do not make 10k
  vectors of millions of values. Transparent pixels count as black (colour times alpha).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from embeddings.checks import ProgressFn, StopFn, report
from embeddings.choices import PIXELS_MODEL
from embeddings.encode import CHUNK_BATCHES, Embeddings, Stopped, _cache
from embeddings.errors import InputError, ModelError
from embeddings.images import Images
from embeddings.models import LoadedModel, fingerprint, load_model
from embeddings.options import EncodeOptions

IMAGE_REPRESENTATION = "image"  # the vector cache's representation for an image model's vectors
IMAGE_BATCH_SIZE = 32  # images per model call when the options name none
PIXEL_BOX = 32  # pixel vectors: images larger than this on a side are shrunk to fit (CIFAR's size)


def encode_images(
    images: Images,
    options: EncodeOptions | str | None = None,
    *,
    progress: ProgressFn | None = None,
    stop: StopFn | None = None,
    **option_overrides: Any,
) -> Embeddings:
    """One vector per image, in order: the raw pixels (model ``pixels``) or an image model's."""
    options = EncodeOptions.of(options if options is not None else PIXELS_MODEL, **option_overrides)
    if options.model.origin == "pixels":
        vectors, shape = pixel_vectors(images, progress=progress, stop=stop)
        return Embeddings(vectors, PIXELS_MODEL, f"{PIXELS_MODEL}:{shape[0]}x{shape[1]}x{shape[2]}", "image",
                          backend=PIXELS_MODEL)
    if options.model.origin == "bundled":
        image_model(options)  # refused at once: the bundled model reads text only
    return _model_vectors(images, options, progress, stop)


# ---------------------------------------------------------------- pixels


def pixel_shape(images: Images) -> tuple[int, int]:
    """(width, height) every image's pixels are read at: the most common size, within PIXEL_BOX."""
    w, h = images.common_size()
    if max(w, h) > PIXEL_BOX:
        scale = PIXEL_BOX / max(w, h)
        w, h = max(1, round(w * scale)), max(1, round(h * scale))
    return w, h


def pixel_vectors(
    images: Images, *, progress: ProgressFn | None = None, stop: StopFn | None = None
) -> tuple[np.ndarray, tuple[int, int, int]]:
    """(n, h * w * channels) float32 in [0, 1], and (w, h, channels): 1 channel when every image
    is grey, else 3 (red, green, blue of each pixel, row by row)."""
    from PIL import Image

    w, h = pixel_shape(images)
    n = len(images)
    colour = np.empty((n, h, w, 3), dtype=np.uint8)
    report(progress, 0, n)
    for i in range(n):
        if stop is not None and i % 256 == 0 and stop():
            raise Stopped("stopped before the pixels were read")
        image = images.rgba(i)
        if image.size != (w, h):
            # Smaller: each value the mean of the pixels it covers (box filter); larger: bilinear.
            image = image.resize((w, h), Image.Resampling.BOX if image.size[0] > w else Image.Resampling.BILINEAR)
        rgba = np.asarray(image, dtype=np.uint16)
        colour[i] = (rgba[..., :3] * rgba[..., 3:] + 127) // 255  # over black: colour times alpha
        if i % 256 == 255:
            report(progress, i + 1, n)
    grey = bool((colour[..., 0] == colour[..., 1]).all() and (colour[..., 1] == colour[..., 2]).all())
    values = colour[..., 0] if grey else colour
    vectors = values.reshape(n, -1).astype(np.float32) / np.float32(255.0)
    report(progress, n, n)
    return vectors, (w, h, 1 if grey else 3)


# ---------------------------------------------------------------- an image model


def reads_images(model: LoadedModel) -> bool:
    """True when the sentence-transformers model has an image tower (CLIP and the like)."""
    supports = getattr(model.st, "supports", None)
    if callable(supports):
        return bool(supports("image"))
    return type(model.st[0]).__name__ == "CLIPModel"  # sentence-transformers before 5.4


def image_model(options: EncodeOptions) -> LoadedModel:
    """The options' model, loaded, or one ModelError line when it cannot read images (the bundled
    text model is known to read text only, so it is refused without loading it)."""
    if options.model.origin == "bundled" or not reads_images(load_model(options.model, device=options.device)):
        raise ModelError(f"model {options.model.raw}: reads text only, not images; use an image model such as a "
                         f"CLIP model (a hub id or a local folder), or the model {PIXELS_MODEL!r} for the raw pixels")
    return load_model(options.model, device=options.device)


def _model_vectors(images: Images, options: EncodeOptions, progress: ProgressFn | None,
                   stop: StopFn | None) -> Embeddings:
    spec, batch_size = options.model, options.batch_size or IMAGE_BATCH_SIZE
    n = len(images)
    store = _cache(options.cache)
    fp = fingerprint(spec) if store is not None else None
    digests = [images.digest(i) for i in range(n)] if store is not None else [bytes([0]) * 32] * n
    found = store.get_hashed(fp, IMAGE_REPRESENTATION, digests) if store is not None and fp else {}
    missing: dict[bytes, list[int]] = {}
    for i in range(n):
        if i not in found:
            missing.setdefault(digests[i] if store is not None else i.to_bytes(8, "little"), []).append(i)
    model: LoadedModel | None = None
    out: np.ndarray | None = None
    done = len(found)
    report(progress, done, n)
    if missing:
        model = image_model(options)
        fp = model.fingerprint
        keys = list(missing)
        step = batch_size * CHUNK_BATCHES
        for start in range(0, len(keys), step):
            if stop is not None and stop():
                raise Stopped("stopped before the images were encoded")
            chunk = keys[start : start + step]
            pictures = [images.rgb(missing[key][0]) for key in chunk]
            vectors = np.asarray(model.st.encode(pictures, batch_size=batch_size, convert_to_numpy=True,
                                                 show_progress_bar=False), dtype=np.float32)
            if out is None:
                out = np.empty((n, vectors.shape[1]), dtype=np.float32)
            for key, vector in zip(chunk, vectors):
                out[missing[key]] = vector
            if store is not None:
                store.put_hashed(fp, IMAGE_REPRESENTATION, ((key, v, None) for key, v in zip(chunk, vectors)))
            done += sum(len(missing[key]) for key in chunk)
            report(progress, done, n)
    if out is None:
        out = np.empty((n, next(iter(found.values()))[0].shape[-1]), dtype=np.float32)
    for i, (vector, _) in found.items():
        out[i] = vector
    if options.normalize:
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        out = (out / np.where(norms > 0, norms, 1.0)).astype(np.float32)
    return Embeddings(out, spec.name, fp or "", "image", None, None, cached=len(found),
                      backend="torch" if model is not None else "")


def check_image_options(options: EncodeOptions, source: str) -> None:
    """Images have one vector each, computed here: level text (the default) or image, engine local,
    on torch (the backends convert text models)."""
    if options.level not in ("text", "image"):
        raise InputError(f"{source}: holds images, one vector each; level {options.level!r} reads texts")
    if options.engine != "local":
        raise InputError(f"{source}: images are encoded by the local engine; engine {options.engine!r} encodes texts")
    if options.backend not in ("auto", "torch") or options.quantize != "none":
        raise InputError(f"{source}: images are encoded on torch; the backend {options.backend!r} and quantize "
                         f"{options.quantize!r} apply to text models")
