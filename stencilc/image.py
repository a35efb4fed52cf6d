"""Folders of images as lazy Dask stacks, and stacks back to one file per image.

``imread`` reads nothing but each file's header until the stack is computed, one chunk per
file; ``imsave`` writes every image in parallel through Dask, all or nothing. Together with a
stencil kernel they are the seed's pipeline::

    from stencilc.image import imread, imsave
    stack = imread("frames/*.png")            # (N, H, W) or (N, H, W, C), lazy
    imsave(smooth(stack, axes=[(1, 2), (1, 2)]), "smoothed/")

PNG and most formats are read with imageio's v3 API (Pillow underneath), TIFF with tifffile
through imageio. Pillow reads and writes 16-bit colour PNGs as 8-bit (values lost), so those
go through pypng, which keeps every PNG bit depth. Written files are PNG where PNG holds the dtype exactly (uint8 and uint16,
grey or 2-4 channels), TIFF otherwise; a conversion that would lose values is refused, never
done silently (docs/images.md).
"""
from __future__ import annotations

import contextlib
import glob as globbing
import os
import re
import uuid
import warnings
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

__all__ = ["imread", "imsave", "ImageFileError", "list_files", "natural_sorted",
           "output_format", "default_extension"]

#: extensions imsave writes, by format; PNG only for the dtypes it holds exactly
PNG_EXTENSIONS = (".png",)
TIFF_EXTENSIONS = (".tif", ".tiff")
PNG_DTYPES = (np.dtype(np.uint8), np.dtype(np.uint16))

#: imread's graph keys -> the file each reads, so imsave can refuse to write over its inputs
_SOURCES: dict[str, str] = {}
#: imread's stacks (the name of their stacking layer) -> their files in axis-0 order, so
#: imsave can keep the inputs' format and refuse names given in another order
_STACK_FILES: dict[str, list[str]] = {}

#: what imread reads from a folder or a glob pattern; other files are skipped with a warning
IMAGE_EXTENSIONS = frozenset({".png", ".tif", ".tiff", ".jpg", ".jpeg", ".bmp", ".gif",
                              ".webp", ".jp2", ".j2k", ".ppm", ".pgm", ".pbm", ".pnm", ".tga"})


class ImageFileError(ValueError):
    """An image file that cannot be read, or that does not fit the stack; ``path`` names it."""

    def __init__(self, message: str, path: str | os.PathLike):
        super().__init__(message)
        self.path = os.fspath(path)

    def __reduce__(self):   # raised on a dask.distributed worker, re-raised on the client
        return type(self), (self.args[0], self.path)


def natural_sorted(paths: Iterable[str]) -> list[str]:
    """``paths`` with runs of digits compared as numbers: ``img2`` before ``img10``."""
    def key(path: str):
        return [int(part) if part.isdigit() else part.lower()
                for part in re.split(r"(\d+)", os.fspath(path))]
    return sorted((os.fspath(p) for p in paths), key=key)


def list_files(files: str | os.PathLike | Sequence[str | os.PathLike]) -> list[str]:
    """The image files ``files`` names (a glob pattern, a directory, or a list), in
    :func:`imread`'s order; ``FileNotFoundError`` if there are none."""
    if isinstance(files, (str, os.PathLike)):
        pattern = os.fspath(files)
        if os.path.isdir(pattern):     # a folder's name is literal: frames[1] is no pattern
            pattern = os.path.join(globbing.escape(pattern), "*")
        elif os.path.isfile(pattern):
            return [pattern]
        found = [p for p in globbing.glob(pattern) if os.path.isfile(p)]
        paths = [p for p in found if os.path.splitext(p)[1].lower() in IMAGE_EXTENSIONS]
        skipped = natural_sorted(set(found) - set(paths))
        if not paths:
            also = f" (only files that are not images: {_listed(skipped)})" if skipped else ""
            raise FileNotFoundError(f"no image files match {os.fspath(files)!r}{also}")
        if skipped:
            warnings.warn(f"imread: skipped {len(skipped)} file(s) without an image "
                          f"extension in {os.fspath(files)!r}: {_listed(skipped)}",
                          UserWarning, stacklevel=3)
        return natural_sorted(paths)
    paths = [os.fspath(p) for p in files]
    if not paths:
        raise ValueError("imread() needs at least one file")
    for p in paths:
        if not os.path.isfile(p):
            raise FileNotFoundError(f"no such image file: {p!r}")
    return paths


def _listed(paths: Sequence[str], most: int = 5) -> str:
    names = [os.path.basename(p) for p in paths[:most]]
    return ", ".join(names) + (f" and {len(paths) - most} more" if len(paths) > most else "")


def _reason(error: BaseException) -> str:
    """A reader's error in one line (imageio appends plugin install hints on later lines)."""
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def _is_deep_colour_png(path: str) -> bool:
    """A PNG with 16-bit samples and colour or alpha: what Pillow would narrow to 8 bits."""
    with open(path, "rb") as file:
        head = file.read(26)
    return head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR" \
        and head[24] == 16 and head[25] in (2, 4, 6)


def _deep_png(path: str, pixels: bool):
    import png
    reader = png.Reader(filename=path)
    if not pixels:
        reader.preamble()
        return (reader.height, reader.width, reader.planes), np.dtype(np.uint16)
    width, height, rows, info = reader.asDirect()
    return np.vstack([np.asarray(row, np.uint16) for row in rows]).reshape(
        height, width, info["planes"])


def _is_tiff(path: str) -> bool:
    with open(path, "rb") as file:
        return file.read(4) in (b"II*\0", b"MM\0*", b"II+\0", b"MM\0+")


def _tiff(path: str, pixels: bool):
    """A TIFF's first series whole (tifffile's series: every page of a z-stack or a
    multi-channel image, the shape imsave wrote), not its first page as imageio reads it."""
    import tifffile
    if pixels:
        return tifffile.imread(path, series=0)
    with tifffile.TiffFile(path) as tiff:
        series = tiff.series[0]
        return tuple(series.shape), np.dtype(series.dtype)


def _properties(path: str) -> tuple[tuple[int, ...], np.dtype]:
    import imageio.v3 as iio
    try:
        if _is_deep_colour_png(path):
            return _deep_png(path, pixels=False)
        if _is_tiff(path):
            return _tiff(path, pixels=False)
        props = iio.improps(path)
    except Exception as error:   # noqa: BLE001 - every reader's own error, reported by file
        raise ImageFileError(f"cannot read image {path!r}: {_reason(error)}", path) \
            from error
    return tuple(props.shape), np.dtype(props.dtype)


def _read(path: str, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    import imageio.v3 as iio
    try:
        if _is_deep_colour_png(path):
            image = _deep_png(path, pixels=True)
        elif _is_tiff(path):
            image = np.asarray(_tiff(path, pixels=True))
        else:
            image = np.asarray(iio.imread(path))
    except Exception as error:   # noqa: BLE001
        raise ImageFileError(f"cannot read image {path!r}: {_reason(error)}", path) \
            from error
    if image.shape != shape or image.dtype != dtype:
        raise ImageFileError(f"image {path!r} changed since the stack was made: it is now "
                             f"{image.shape} {image.dtype}, not {shape} {dtype}", path)
    return image


def imread(files: str | os.PathLike | Sequence[str | os.PathLike], *,
           channel_axis: int = -1, return_files: bool = False) -> Any:
    """A lazy Dask stack of the images ``files`` names: a glob pattern, a directory (every
    file in it), or a list of paths.

    Files are sorted naturally (``img2`` before ``img10``; a list keeps its order) and become
    axis 0, one chunk per file. Every file's shape and dtype are read from its header up front,
    and an unreadable file, or one whose shape or dtype differs from the first, is an
    :class:`ImageFileError` naming it. Colour images keep their channels on one axis:
    ``channel_axis`` of the stack (default last: ``(N, H, W, C)``); grey images have none.
    A TIFF is read whole (its first series: every page of a z-stack, every band), so
    whatever :func:`imsave` writes reads back equal. A folder or pattern takes files with an
    image extension (:data:`IMAGE_EXTENSIONS`) and warns about the others it skips.

    With ``return_files=True`` the result is ``(stack, files)``: the files in axis-0 order,
    the ``names`` to give :func:`imsave` to write each result under its input's name.
    """
    import dask
    import dask.array as da
    from dask.base import tokenize

    paths = list_files(files)
    shape, dtype = _properties(paths[0])
    for path in paths[1:]:
        other_shape, other_dtype = _properties(path)
        if (other_shape, other_dtype) != (shape, dtype):
            raise ImageFileError(
                f"image {path!r} is {other_shape} {other_dtype}, but the first image "
                f"{paths[0]!r} is {shape} {dtype}; a stack needs one shape and dtype (read "
                "them separately, or convert them first)", path)
    images = []
    for path in paths:
        stat = os.stat(path)
        key = f"imread-{tokenize(os.path.abspath(path), stat.st_mtime_ns, stat.st_size)}"
        _SOURCES[key] = os.path.realpath(path)
        task = dask.delayed(_read, pure=True)(path, shape, dtype, dask_key_name=key)
        images.append(da.from_delayed(task, shape, dtype=dtype))
    stack = da.stack(images)
    _STACK_FILES[stack.name] = [os.path.realpath(p) for p in paths]
    if len(shape) == 3 and channel_axis not in (-1, stack.ndim - 1):
        stack = da.moveaxis(stack, -1, channel_axis)
    return (stack, paths) if return_files else stack


def output_format(path: str | os.PathLike, dtype: np.dtype, image_shape: tuple[int, ...]) -> str:
    """``"png"`` or ``"tiff"``: the format ``path`` names, if it holds images of ``dtype`` and
    ``image_shape`` without loss; otherwise a ``ValueError`` that says what to do."""
    ext = os.path.splitext(os.fspath(path))[1].lower()
    dtype = np.dtype(dtype)
    if ext in TIFF_EXTENSIONS:
        return "tiff"
    if ext in PNG_EXTENSIONS:
        channels = image_shape[2] if len(image_shape) == 3 else 1
        if dtype not in PNG_DTYPES:
            raise ValueError(f"PNG cannot hold {dtype} values: writing {os.fspath(path)!r} "
                             "would convert them and lose values. Write TIFF (.tif) instead, "
                             "or convert explicitly first (e.g. out_dtype=np.uint8, or "
                             "np.clip(a, 0, 255).astype(np.uint8))")
        if len(image_shape) not in (2, 3) or not 1 <= channels <= 4:
            raise ValueError(f"PNG holds 2-D images with 1 to 4 channels, not shape "
                             f"{image_shape} ({os.fspath(path)!r}); write TIFF (.tif) instead")
        return "png"
    raise ValueError(f"imsave writes PNG (.png) and TIFF (.tif, .tiff), not {ext or 'no'} "
                     f"extension ({os.fspath(path)!r}); lossy formats such as JPEG are refused "
                     "so that no value changes silently")


def default_extension(dtype: np.dtype, image_shape: tuple[int, ...]) -> str:
    """``".png"`` where PNG holds images of ``dtype`` and ``image_shape`` exactly, else
    ``".tif"``."""
    try:
        output_format("x.png", dtype, image_shape)
        return ".png"
    except ValueError:
        return ".tif"


def _write(image: np.ndarray, path: str, kind: str) -> None:
    image = np.asarray(image)
    if kind == "tiff":
        import tifffile
        photometric = "rgb" if image.ndim == 3 and image.shape[2] in (3, 4) else "minisblack"
        tifffile.imwrite(path, image, photometric=photometric)
    elif image.dtype == np.uint16 and image.ndim == 3 and image.shape[2] > 1:
        import png
        height, width, planes = image.shape
        writer = png.Writer(width, height, bitdepth=16, greyscale=planes <= 2,
                            alpha=planes in (2, 4))
        with open(path, "wb") as file:
            writer.write(file, image.reshape(height, width * planes))
    else:
        import imageio.v3 as iio
        iio.imwrite(path, image, extension=".png")


def _write_block(block: np.ndarray, path: str, kind: str, channel_axis: int | None) -> str:
    image = block[0]
    if channel_axis is not None:
        image = np.moveaxis(image, channel_axis, -1)
    try:
        _write(image, path, kind)
    except BaseException:
        if os.path.exists(path):
            os.remove(path)
        raise
    return path


def _source_files(array: Any) -> list[str] | None:
    """The files of the one :func:`imread` stack ``array`` is computed from, in axis-0 order,
    if there is exactly one such stack and it has as many images as ``array``."""
    stacks = [_STACK_FILES[n] for n in _layer_names(array) if n in _STACK_FILES]
    if len(stacks) != 1 or len(stacks[0]) != array.shape[0]:
        return None
    return stacks[0]


def _check_name_order(names: Sequence[str], sources: Sequence[str] | None) -> None:
    """Names that are the inputs' names in another order would label each result with
    another image's name (``sorted(glob(...))`` puts img10 before img2; imread does not)."""
    if sources is None:
        return
    given = [Path(os.fspath(n)).stem for n in names]
    read = [Path(p).stem for p in sources]
    if sorted(given) == sorted(read) and given != read:
        k = next(i for i, (a, b) in enumerate(zip(given, read)) if a != b)
        raise ValueError(f"imsave: names are the input files' names in another order: image "
                         f"{k} was read from {os.path.basename(sources[k])!r} but would be "
                         f"written as {os.path.basename(os.fspath(names[k]))!r}. imread sorts "
                         "naturally (img2 before img10); pass names=files from "
                         "imread(..., return_files=True) or stencilc.image.list_files(...)")


def _output_paths(target: str, count: int, names: Sequence[str] | None, dtype: np.dtype,
                  image_shape: tuple[int, ...], sources: Sequence[str] | None = None
                  ) -> list[str]:
    if is_name_pattern(target):
        return [os.path.join(os.path.dirname(target), os.path.basename(target).format(k, index=k))
                for k in range(count)]
    if names is not None:
        if len(names) != count:
            raise ValueError(f"imsave: {len(names)} names for {count} images")
        return [os.path.join(target, os.path.basename(os.fspath(n))) for n in names]
    width = max(4, len(str(count - 1)))
    extension = default_extension(dtype, image_shape)
    if sources:    # the inputs' format where it holds the results (TIFF stays TIFF)
        kept = os.path.splitext(sources[0])[1]
        try:
            output_format(f"x{kept}", dtype, image_shape)
            extension = kept
        except ValueError:
            pass
    return [os.path.join(target, f"{k:0{width}d}{extension}") for k in range(count)]


def is_name_pattern(target: str) -> bool:
    """Whether ``target`` names files by a pattern (``out/frame_{:04d}.tif``): its last part
    has replacement fields, each ``{}``, ``{0}`` or ``{index}`` with any format spec, and it is
    not an existing folder. Any other braces are part of a folder's name (``out_{date}``)."""
    import string
    base = os.path.basename(target)
    if "{" not in base or os.path.isdir(target):
        return False
    try:
        fields = [field for _, field, _, _ in string.Formatter().parse(base)
                  if field is not None]
    except ValueError:         # unbalanced braces: a name
        return False
    return bool(fields) and all(field in ("", "0", "index") for field in fields)


def _inputs_of(array: Any) -> set[str]:
    """The files :func:`imread` tasks in ``array``'s graph read. Each such task is a layer of
    its own, so the layer names suffice; a plain graph (no layers) is searched key by key."""
    return {_SOURCES[name] for name in _layer_names(array) if name in _SOURCES}


def _layer_names(array: Any) -> set[str]:
    """The names of the layers of ``array``'s graph (of its keys, for a plain graph): how
    :func:`imread`'s tasks and stacks are found in whatever was computed from them."""
    graph = array.__dask_graph__()
    names = graph.layers.keys() if hasattr(graph, "layers") else \
        {key[0] if isinstance(key, tuple) else key for key in graph.keys()}
    return {name for name in names if isinstance(name, str)}


def _check_directory(directory: str) -> None:
    try:
        os.makedirs(directory, exist_ok=True)
        probe = os.path.join(directory, f".stencilc-probe-{uuid.uuid4().hex}")
        with open(probe, "wb"):
            pass
        os.remove(probe)
    except OSError as error:
        raise PermissionError(f"imsave: cannot write into {directory!r}: "
                              f"{error.strerror or error}") from error


def imsave(array: Any, target: str | os.PathLike, *, names: Sequence[str] | None = None,
           overwrite: bool = False, progress: bool = True,
           channel_axis: int | None = None) -> list[str]:
    """Write each image of ``array`` (axis 0 counts images) to its own file; returns the paths.

    ``target`` is a directory (files ``0000.png``, ``0001.png``, ... or ``names``) or a
    pattern with a ``{}`` field (``"out/frame_{:04d}.tif"``). The dtype is kept: PNG where it
    holds the dtype exactly (uint8, uint16), TIFF otherwise; a format that would change values
    is a ``ValueError``. ``channel_axis`` says which axis of each image holds the channels, if
    not the last. Images are computed and written in parallel through Dask (with a progress
    bar unless ``progress=False``), each first to a temporary name in the same folder; only
    when every image is written are they renamed into place, so a failure leaves nothing
    behind. Existing files are refused unless ``overwrite=True``; a file that ``array`` was
    read from (by :func:`imread`) is never written over.

    Results of one :func:`imread` stack keep its files' format where it holds their dtype
    (uint16 TIFFs stay TIFF). ``names`` that are the input files' names in another order
    (``sorted(glob(...))`` against imread's natural order) are a ``ValueError``: pass the
    ``files`` of ``imread(..., return_files=True)``. A 3-D array that looks like one colour
    image ``(H, W, 3)`` is a ``ValueError`` (write ``image[None]``).
    """
    import dask
    import dask.array as da

    if not hasattr(array, "ndim"):
        array = np.asarray(array)
    if array.ndim < 3:
        raise ValueError(f"imsave: axis 0 counts the images, so the array needs at least 3 "
                         f"dimensions, got shape {array.shape} (a single image: image[None])")
    if array.ndim == 3 and array.shape[-1] in (3, 4) and channel_axis is None \
            and array.shape[0] > 4:
        raise ValueError(f"imsave: shape {array.shape} looks like one colour image (H, W, "
                         f"{array.shape[-1]}), but axis 0 counts the images: it would write "
                         f"{array.shape[0]} files of {array.shape[1]}x{array.shape[2]}. "
                         "Write one image with image[None]; for grey images 3 or 4 pixels "
                         "wide, pass stack[..., None]")
    if not isinstance(array, da.Array):
        array = da.from_array(np.asarray(array), chunks=(1,) + array.shape[1:])
    dtype = np.dtype(array.dtype)
    image_shape = tuple(array.shape[1:])
    if channel_axis is not None:
        written = list(image_shape)
        written.append(written.pop(channel_axis))
        image_shape = tuple(written)
    target = os.fspath(target)
    sources = _source_files(array)
    if names is not None:
        _check_name_order(names, sources)
    paths = _output_paths(target, array.shape[0], names, dtype, image_shape, sources)
    kinds = [output_format(p, dtype, image_shape) for p in paths]
    sources = _inputs_of(array)
    for path in paths:
        if os.path.realpath(path) in sources:
            raise ValueError(f"imsave: {path!r} is one of the files this stack is read from; "
                             "write the results somewhere else")
    if len(set(map(os.path.realpath, paths))) != len(paths):
        raise ValueError("imsave: two images would be written to the same file")
    existing = [p for p in paths if os.path.exists(p)]
    if existing and not overwrite:
        more = f" and {len(existing) - 1} more" if len(existing) > 1 else ""
        raise FileExistsError(f"imsave: {existing[0]!r}{more} already exist(s); pass "
                              "overwrite=True (--overwrite) to replace them")
    for directory in sorted({os.path.dirname(os.path.abspath(p)) for p in paths}):
        _check_directory(directory)
    folders = [p for p in paths if os.path.isdir(p)]
    if folders:
        raise IsADirectoryError(f"imsave: {folders[0]!r} is a folder, where an image would be "
                                "written; choose other names or move the folder")
    _remove_stale_partials(paths)
    token = uuid.uuid4().hex[:12]
    temporary = [_hidden(p, token, "partial") for p in paths]
    blocks = array.rechunk((1,) + tuple(-1 for _ in image_shape)).to_delayed().ravel()
    writes = [dask.delayed(_write_block)(block, tmp, kind, channel_axis)
              for block, tmp, kind in zip(blocks, temporary, kinds)]
    try:
        _compute(writes, progress)
        _commit(temporary, paths, token)
    except BaseException:
        for tmp in temporary:
            if os.path.exists(tmp):
                os.remove(tmp)
        raise
    return paths


def _hidden(path: str, token: str, what: str) -> str:
    """The hidden name beside ``path`` that one run of imsave uses for it while writing
    (``.frame.<token>.partial.png``) or while replacing it (``.replaced``)."""
    return os.path.join(os.path.dirname(path),
                        f".{Path(path).stem}.{token}.{what}{Path(path).suffix}")


def _remove_stale_partials(paths: Sequence[str]) -> None:
    """Temporary files an earlier run left for these outputs (it was killed: kill -9, a power
    cut) are removed; nothing else is touched."""
    for path in paths:
        stem, suffix = Path(path).stem, Path(path).suffix
        pattern = re.compile(re.escape(f".{stem}.") + r"[0-9a-f]{12}\.partial" +
                             re.escape(suffix) + "$")
        folder = os.path.dirname(path) or "."
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        for name in names:
            if pattern.match(name):
                with contextlib.suppress(OSError):
                    os.remove(os.path.join(folder, name))


def _commit(temporary: Sequence[str], paths: Sequence[str], token: str) -> None:
    """Every written file renamed into place, or none: a file being replaced is first moved
    aside, and put back if any later rename fails or is interrupted (Ctrl-C); the replaced
    files are deleted only once every new one is in place."""
    moved: list[tuple[str, str | None]] = []     # (path, where its old file went)
    try:
        for tmp, path in zip(temporary, paths):
            aside = None
            if os.path.lexists(path):
                aside = _hidden(path, token, "replaced")
                os.replace(path, aside)
            moved.append((path, aside))
            try:
                os.replace(tmp, path)
            except OSError as error:
                raise OSError(error.errno, f"imsave: cannot write {path!r}: "
                              f"{error.strerror or error}") from error
    except BaseException:
        for path, aside in reversed(moved):
            with contextlib.suppress(OSError):
                if aside is None:
                    os.remove(path)
                else:
                    os.replace(aside, path)
        raise
    for _, aside in moved:
        if aside is not None:
            with contextlib.suppress(OSError):
                os.remove(aside)


def _compute(tasks: list, progress: bool) -> None:
    """Run ``tasks``; if one fails, wait for the others that already run before raising, so
    the caller's clean-up sees every file they write."""
    import dask
    import dask.threaded
    from dask.base import get_scheduler

    client = _distributed_client()
    if client is not None:
        from distributed import progress as show, wait
        futures = client.compute(tasks)
        if progress:
            show(futures)
        wait(futures)
        client.gather(futures)
        return
    bar = _progress_bar() if progress else contextlib.nullcontext()
    if get_scheduler() is not dask.threaded.get:   # synchronous: nothing runs on after an error
        with bar:
            dask.compute(*tasks)
        return
    from concurrent.futures import ThreadPoolExecutor
    pool = ThreadPoolExecutor(dask.config.get("num_workers", None) or os.cpu_count())
    try:
        with bar:
            dask.compute(*tasks, scheduler="threads", pool=pool)
    finally:
        pool.shutdown(wait=True)


def _progress_bar():
    from dask.diagnostics import ProgressBar
    return ProgressBar()


def _distributed_client():
    import sys
    if "distributed" not in sys.modules:
        return None
    from distributed import default_client
    try:
        return default_client()
    except ValueError:
        return None
