"""images: scikit-learn's 1,797 handwritten digits as PNG files read into pixel vectors (baseline: a
bare Pillow loop), exported with their sprite and read back (baseline: the same export without
images), and the map's payload with its atlas at 10k and 100k digits and 10k photo crops (baseline:
the payload without images)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from benchmarks.measure import Config, Row, add, log, size_label, timed


def write_digit_files(folder: Path) -> tuple[Path, np.ndarray]:
    """scikit-learn's 1,797 handwritten digits as greyscale PNG files, one sub-folder per digit."""
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    pixels = np.round(digits.images * 255 / 16).astype(np.uint8)
    for i, (image, target) in enumerate(zip(pixels, digits.target)):
        (folder / str(target)).mkdir(parents=True, exist_ok=True)
        Image.fromarray(image, "L").save(folder / str(target) / f"{i:04d}.png")
    return folder, pixels


def photo_crops(n: int, side: int, seed: int = 0) -> np.ndarray:
    """(n, side, side, 4) RGBA crops of scikit-learn's two sample photos: colour pictures, offline."""
    from PIL import Image
    from sklearn.datasets import load_sample_images

    photos, rng = load_sample_images().images, np.random.default_rng(seed)
    out = np.full((n, side, side, 4), 255, dtype=np.uint8)
    for i in range(n):
        photo = photos[i % 2]
        y, x = rng.integers(0, photo.shape[0] - 2 * side), rng.integers(0, photo.shape[1] - 2 * side)
        crop = Image.fromarray(photo[y:y + 2 * side, x:x + 2 * side]).resize((side, side), Image.Resampling.BOX)
        out[i, ..., :3] = np.asarray(crop)
    return out


def bench_images(cfg: Config, workdir: Path) -> None:
    """Images as points: the digits read and turned into pixel vectors (baseline: a bare Pillow
    loop over the same files), exported with their sprite and read back (baseline: the same export
    without images), and the map's atlas at 10k and 100k points (baseline: the payload without it)."""
    import pandas as pd
    from PIL import Image

    from embeddings.images import Images
    from embeddings.mapdata import pack_map_data
    from embeddings.pipeline import embed_points, load_input
    from embeddings.projector import write_projector

    folder, pixels = write_digit_files(workdir / "digits")
    files = sorted(folder.rglob("*.png"))
    log("images: 1,797 digits read as pixels vs a bare Pillow loop")
    bare = [timed(lambda: np.stack([np.asarray(Image.open(f)) for f in files]))[0] for _ in range(cfg.repeats)]
    ours = [timed(lambda: embed_points(load_input(folder), "pixels"))[0] for _ in range(cfg.repeats)]
    points = embed_points(load_input(folder), "pixels")
    add(Row("images", "folder of PNGs -> pixel vectors (load_input + embed_points 'pixels')", "1,797 x 8x8",
            None, "s", "Pillow open + asarray of every file", None, runs=ours, baseline_runs=bare, ratio_kind="overhead",
            note="each file checked when read (header, inside the folder), then decoded; vectors equal the pixels"))

    log("images: export with sprite.png vs without, and reading it back")

    def export_cold() -> None:
        points.images._memo.clear()  # the sprite's tiles made afresh, as a first export makes them
        points.write_projector(workdir / "digits-out")

    with_sprite = [timed(export_cold)[0] for _ in range(cfg.repeats)]
    without = [timed(lambda: write_projector(workdir / "digits-plain", points.vectors, points.metadata))[0]
               for _ in range(cfg.repeats)]
    sprite = workdir / "digits-out" / "sprite.png"
    side = Image.open(sprite).size
    add(Row("images", "export with sprite.png (write_projector)", "1,797 x 64", None, "s",
            "the same export without images", None, runs=with_sprite, baseline_runs=without, ratio_kind="overhead",
            note=f"sprite.png {sprite.stat().st_size / 1024:.0f} KiB, {side[0]} x {side[1]} px, 8 x 8 tiles, "
                 "every file decoded again for its tile"))
    back = [timed(lambda: load_input(workdir / "digits-out"))[0] for _ in range(cfg.repeats)]
    plain = [timed(lambda: load_input(workdir / "digits-plain"))[0] for _ in range(cfg.repeats)]
    assert np.array_equal(load_input(workdir / "digits-out").images.tiles[..., 0], points.images.thumbnails((8, 8))[..., 0])
    add(Row("images", "read the export back, sprite cut into tiles (load_input)", "1,797 x 64", None, "s",
            "the same export without images", None, runs=back, baseline_runs=plain, ratio_kind="overhead",
            note="every tile equal to its digit"))

    rng = np.random.default_rng(0)
    for n, what, tiles in ((10_000, "digits", None), (100_000 if not cfg.quick else 20_000, "digits", None),
                           (10_000 if not cfg.quick else 2_000, "photo crops 64 px", "photos")):
        if tiles is None:
            grey = pixels[rng.integers(0, len(pixels), n)]
            tiles = np.concatenate([np.repeat(grey[..., None], 3, -1), np.full((n, 8, 8, 1), 255, np.uint8)], -1)
        else:
            tiles = photo_crops(n, 64)
        coords = rng.normal(size=(n, 2)).astype(np.float32)
        table = pd.DataFrame({"image": [f"{i}.png" for i in range(n)]})
        log(f"images: the map's payload with the atlas of {n:,} {what} vs without")
        plain_runs, plain_payload = [], b""
        for _ in range(cfg.repeats):
            seconds, plain_payload = timed(lambda: pack_map_data(coords, table))
            plain_runs.append(seconds)
        atlas_runs, payload = [], b""
        for _ in range(cfg.repeats):  # a new Images each time: thumbnails made afresh
            seconds, payload = timed(lambda: pack_map_data(coords, table, images=Images.from_tiles(tiles, what)))
            atlas_runs.append(seconds)
        header = json.loads(payload[12:12 + int.from_bytes(payload[8:12], "little")])
        spec = header["images"]
        add(Row("images", f"map payload with the atlas ({what})", size_label(n), None, "s",
                "the payload without images", None, runs=atlas_runs, baseline_runs=plain_runs, ratio_kind="overhead",
                note=f"{len(payload) / 2**20:.1f} MiB vs {len(plain_payload) / 2**20:.1f} MiB; {spec['format']} atlas, "
                     f"{spec['tile'][0]} px tiles, {spec['columns']} columns"))
