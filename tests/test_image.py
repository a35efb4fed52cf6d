"""stencilc.image: folders of real PNG/TIFF files in, one file per image out, all or nothing.
Oracle: scipy.ndimage per image (and per channel), on the images imageio reads back."""
from __future__ import annotations

import os

import imageio.v3 as iio
import numpy as np
import png
import pytest
import scipy.ndimage as ndi

from conftest import load_source
from stencilc import image
from stencilc import stencil_ufunc
from stencilc.image import ImageFileError, imread, imsave

CROSS = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]])

MEAN5 = load_source("""
from stencilc import stencil_ufunc

@stencil_ufunc(boundary="nearest")
def mean5(x):
    return (x[-1, 0] + x[0, -1] + x[0, 0] + x[0, 1] + x[1, 0]) // 5
""").mean5


def expected_mean5(img: np.ndarray) -> np.ndarray:
    """scipy.ndimage's 5-point sum in int64, floor-divided, per channel."""
    planes = img[..., None] if img.ndim == 2 else img
    out = np.stack([ndi.correlate(planes[..., c].astype(np.int64), CROSS, mode="nearest") // 5
                    for c in range(planes.shape[-1])], axis=-1)
    return out.reshape(img.shape).astype(img.dtype)


def write_folder(folder, shape, dtype, names=("img1", "img2", "img10"), ext=".png"):
    rng = np.random.default_rng(len(shape) * 100 + np.dtype(dtype).itemsize)
    high = np.iinfo(dtype).max if np.dtype(dtype).kind in "ui" else 1
    folder.mkdir(exist_ok=True)
    written = {}
    for name in names:
        img = rng.integers(0, high, size=shape, endpoint=True).astype(dtype)
        if img.dtype == np.uint16 and img.ndim == 3:   # Pillow cannot write 16-bit colour
            png.from_array(img.reshape(shape[0], -1), "RGB;16").save(folder / f"{name}{ext}")
        else:
            iio.imwrite(folder / f"{name}{ext}", img)
        written[name] = img
    return written


@pytest.mark.parametrize("shape, dtype", [((13, 17), np.uint8), ((13, 17), np.uint16),
                                          ((13, 17, 3), np.uint8), ((13, 17, 3), np.uint16)],
                         ids=["grey8", "grey16", "rgb8", "rgb16"])
def test_folder_through_a_kernel_and_back(tmp_path, shape, dtype):
    originals = write_folder(tmp_path / "in", shape, dtype)
    stack = imread(tmp_path / "in" / "*.png")
    assert stack.shape == (3,) + shape and stack.dtype == dtype
    assert stack.chunks[0] == (1, 1, 1)                      # one chunk per file
    result = MEAN5(stack, axes=[(1, 2), (1, 2)])
    names = [f"{n}.png" for n in ("img1", "img2", "img10")]  # natural order: 2 before 10
    paths = imsave(result, tmp_path / "out", names=names, progress=False)
    for name, path in zip(("img1", "img2", "img10"), paths):
        back = imread([path])[0].compute()   # 16-bit colour: imageio/Pillow would narrow it
        if back.dtype == np.uint8 or back.ndim == 2:
            np.testing.assert_array_equal(back, iio.imread(path))
        assert back.dtype == dtype
        np.testing.assert_array_equal(back, expected_mean5(originals[name]))


def test_natural_order_and_lists(tmp_path):
    originals = write_folder(tmp_path, (4, 5), np.uint8, names=("a10", "a9", "a100"))
    stack = imread(str(tmp_path))
    np.testing.assert_array_equal(stack.compute(),
                                  np.stack([originals[n] for n in ("a9", "a10", "a100")]))
    listed = imread([tmp_path / "a100.png", tmp_path / "a9.png"])
    np.testing.assert_array_equal(listed[0].compute(), originals["a100"])


def test_channel_axis(tmp_path):
    originals = write_folder(tmp_path, (6, 7, 3), np.uint8)
    stack = imread(tmp_path / "*.png", channel_axis=1)
    assert stack.shape == (3, 3, 6, 7)
    np.testing.assert_array_equal(stack[0].compute(), np.moveaxis(originals["img1"], -1, 0))
    paths = imsave(stack, tmp_path / "out", channel_axis=0, progress=False)
    np.testing.assert_array_equal(iio.imread(paths[0]), originals["img1"])


def test_mismatched_folder_names_the_file(tmp_path):
    write_folder(tmp_path, (6, 7), np.uint8, names=("a1", "a2"))
    iio.imwrite(tmp_path / "a3.png", np.zeros((6, 8), np.uint8))
    with pytest.raises(ImageFileError, match=r"'.*a3\.png' is \(6, 8\) uint8, but the first "
                                             r"image '.*a1\.png' is \(6, 7\) uint8") as info:
        imread(tmp_path / "*.png")
    assert info.value.path.endswith("a3.png")


def test_corrupt_file_names_the_file_and_nothing_is_written(tmp_path):
    write_folder(tmp_path / "in", (30, 40), np.uint8, names=("a1", "a2"))
    (tmp_path / "in" / "a3.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(ImageFileError, match=r"cannot read image '.*a3\.png'"):
        imread(tmp_path / "in" / "*.png")
    # a file whose header reads but whose pixels do not: found while computing
    good = (tmp_path / "in" / "a2.png").read_bytes()
    stack = imread([tmp_path / "in" / "a1.png", tmp_path / "in" / "a2.png"])
    (tmp_path / "in" / "a2.png").write_bytes(good[:len(good) // 2])
    with pytest.raises(ImageFileError, match=r"a2\.png"):
        imsave(MEAN5(stack), tmp_path / "out", progress=False)
    assert os.listdir(tmp_path / "out") == []


def test_existing_outputs_are_refused_unless_overwrite(tmp_path):
    write_folder(tmp_path / "in", (5, 5), np.uint8)
    stack = imread(tmp_path / "in" / "*.png")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "0001.png").write_bytes(b"keep me")
    with pytest.raises(FileExistsError, match=r"0001\.png.*overwrite=True"):
        imsave(stack, tmp_path / "out", progress=False)
    assert sorted(os.listdir(tmp_path / "out")) == ["0001.png"]
    assert (tmp_path / "out" / "0001.png").read_bytes() == b"keep me"
    imsave(stack, tmp_path / "out", overwrite=True, progress=False)
    np.testing.assert_array_equal(iio.imread(tmp_path / "out" / "0001.png"), stack[1].compute())


def test_never_writes_over_an_input(tmp_path):
    write_folder(tmp_path, (5, 5), np.uint8)
    stack = imread(tmp_path / "*.png")
    with pytest.raises(ValueError, match="one of the files this stack is read from"):
        imsave(MEAN5(stack), tmp_path, names=["img1.png", "img2.png", "img10.png"],
               overwrite=True, progress=False)


def test_unwritable_directory(tmp_path):
    write_folder(tmp_path / "in", (5, 5), np.uint8)
    stack = imread(tmp_path / "in" / "*.png")
    (tmp_path / "blocker").write_bytes(b"a file where a folder should be")
    with pytest.raises(PermissionError, match="cannot write into"):
        imsave(stack, tmp_path / "blocker" / "out", progress=False)
    if os.geteuid() != 0:           # root writes into read-only folders anyway
        (tmp_path / "ro").mkdir(mode=0o555)
        with pytest.raises(PermissionError, match="cannot write into"):
            imsave(stack, tmp_path / "ro", progress=False)
        assert os.listdir(tmp_path / "ro") == []


def test_a_failed_write_leaves_nothing_behind(tmp_path, monkeypatch):
    stack = np.arange(3 * 4 * 5, dtype=np.uint8).reshape(3, 4, 5)
    real_write = image._write

    def failing(img, path, kind):
        if img[0, 0] == 20:      # the second image
            raise OSError("disk full")
        real_write(img, path, kind)
    monkeypatch.setattr(image, "_write", failing)
    with pytest.raises(OSError, match="disk full"):
        imsave(stack, tmp_path / "out", progress=False)
    assert os.listdir(tmp_path / "out") == []


@pytest.mark.parametrize("dtype", [np.float32, np.int16, np.float64, np.int8])
def test_dtypes_png_cannot_hold_go_to_tiff(tmp_path, dtype):
    stack = (np.random.default_rng(3).normal(size=(2, 6, 7)) * 50).astype(dtype)
    paths = imsave(stack, tmp_path, progress=False)
    assert all(p.endswith(".tif") for p in paths)
    for path, img in zip(paths, stack):
        back = iio.imread(path)
        assert back.dtype == dtype
        np.testing.assert_array_equal(back, img)
    with pytest.raises(ValueError, match=f"PNG cannot hold {np.dtype(dtype)} values"):
        imsave(stack, tmp_path / "x_{:02d}.png", progress=False)


def test_lossy_formats_are_refused(tmp_path):
    with pytest.raises(ValueError, match="lossy formats such as JPEG are refused"):
        imsave(np.zeros((1, 4, 4), np.uint8), tmp_path / "x{}.jpg", progress=False)
    assert os.listdir(tmp_path) == []


def test_progress_bar(tmp_path, capsys):
    imsave(np.zeros((2, 4, 4), np.uint8), tmp_path)
    assert "100% Completed" in capsys.readouterr().out


def _old_and_new(tmp_path):
    out = tmp_path / "out"
    old = np.zeros((3, 4, 5), np.uint8)
    imsave(old, out, progress=False)
    return out, old, np.full((3, 4, 5), 7, np.uint8)


def _read_all(out):
    return [iio.imread(out / name) for name in sorted(os.listdir(out))
            if name.endswith(".png") and (out / name).is_file()]


def test_overwrite_checks_every_target_before_replacing_any(tmp_path):
    """Issue 25 item 6: a folder in the way of the third output was found only after the
    first two were replaced, and the error named a hidden temporary file."""
    out, old, new = _old_and_new(tmp_path)
    os.remove(out / "0002.png")
    os.mkdir(out / "0002.png")
    with pytest.raises(IsADirectoryError, match=r"0002\.png' is a folder"):
        imsave(new, out, overwrite=True, progress=False)
    assert [a.tolist() for a in _read_all(out)[:2]] == [old[0].tolist(), old[1].tolist()]
    assert sorted(os.listdir(out)) == ["0000.png", "0001.png", "0002.png"]


@pytest.mark.parametrize("failure", [OSError(28, "No space left on device"), KeyboardInterrupt()])
def test_a_failed_or_interrupted_rename_restores_every_replaced_file(tmp_path, monkeypatch,
                                                                      failure):
    out, old, new = _old_and_new(tmp_path)
    real = os.replace
    renamed = []

    def third_fails(src, dst):
        if ".partial" in str(src):
            renamed.append(dst)
            if len(renamed) == 3:
                raise failure
        return real(src, dst)

    monkeypatch.setattr(image.os, "replace", third_fails)
    with pytest.raises(type(failure)) as info:
        imsave(new, out, overwrite=True, progress=False)
    if isinstance(failure, OSError):
        assert "0002.png" in str(info.value) and ".partial" not in str(info.value)
    monkeypatch.setattr(image.os, "replace", real)
    assert sorted(os.listdir(out)) == ["0000.png", "0001.png", "0002.png"]   # nothing hidden
    np.testing.assert_array_equal(np.stack(_read_all(out)), old)


def test_stale_partial_files_of_a_killed_run_are_removed(tmp_path):
    out, old, new = _old_and_new(tmp_path)
    stale = out / ".0001.0123456789ab.partial.png"
    stale.write_bytes(b"half an image")
    unrelated = out / ".notes.txt"
    unrelated.write_text("mine")
    imsave(new, out, overwrite=True, progress=False)
    assert not stale.exists() and unrelated.exists()
    np.testing.assert_array_equal(np.stack(_read_all(out)), new)


def test_folder_names_with_glob_and_format_characters(tmp_path):
    """Issue 25 item 8: a folder named frames[1] found no images; an output folder named
    out_{date} or out{1} was taken as a file-name pattern."""
    frames = tmp_path / "frames[1]"
    stack = np.arange(2 * 4 * 5, dtype=np.uint8).reshape(2, 4, 5)
    imsave(stack, frames, progress=False)
    np.testing.assert_array_equal(imread(frames).compute(), stack)
    for name in ("out_{date}", "out{1}", "out{", "out{}x}"):
        written = imsave(stack, tmp_path / name, progress=False)
        assert [os.path.dirname(p) for p in written] == [str(tmp_path / name)] * 2
        np.testing.assert_array_equal(imread(tmp_path / name).compute(), stack)
    written = imsave(stack, tmp_path / "pattern" / "f_{:03d}.png", progress=False)
    assert [os.path.basename(p) for p in written] == ["f_000.png", "f_001.png"]


ROUND_TRIPS = [  # (stack shape, dtype, channel_axis given to imsave and imread)
    ((2, 9, 11), np.uint8, None), ((2, 9, 11, 3), np.uint8, None),
    ((2, 9, 11, 4), np.uint16, None), ((2, 9, 11), np.float32, None),
    ((2, 9, 11, 5), np.uint16, None), ((2, 9, 11, 8), np.float32, None),
    ((2, 5, 9, 11), np.float32, 1), ((2, 10, 9, 11), np.uint16, None),
    ((2, 3, 9, 11), np.int16, 1)]


@pytest.mark.parametrize("shape, dtype, channel_axis", ROUND_TRIPS, ids=str)
def test_everything_imsave_writes_imread_reads_back_equal(tmp_path, shape, dtype, channel_axis):
    """Issue 21 bug 1: multi-page TIFFs (z-stacks, 5-channel, 8-band float32, channels first)
    were announced with their first page's shape and failed on compute."""
    rng = np.random.default_rng(sum(shape))
    stack = rng.integers(0, 200, shape).astype(dtype)
    imsave(stack, tmp_path / "out", progress=False,
           channel_axis=None if channel_axis is None else channel_axis - 1)
    back = imread(tmp_path / "out", channel_axis=-1 if channel_axis is None else channel_axis)
    assert back.shape == stack.shape and back.dtype == stack.dtype
    np.testing.assert_array_equal(back.compute(), stack)


def test_a_folder_of_z_stacks_through_a_3d_kernel(tmp_path):
    import tifffile
    rng = np.random.default_rng(21)
    volumes = [rng.integers(0, 4000, (10, 16, 20)).astype(np.uint16) for _ in range(3)]
    (tmp_path / "cells").mkdir()
    for k, v in enumerate(volumes):
        tifffile.imwrite(tmp_path / "cells" / f"cell{k}.tif", v)
    stack = imread(tmp_path / "cells")
    assert stack.shape == (3, 10, 16, 20)
    kernel = load_source("def blur(x):\n    return (x[-1, 0, 0] + x[1, 0, 0] + x[0, 0, 0]) // 3\n")
    result = stencil_ufunc(boundary="nearest")(kernel.blur)(stack)
    weights = np.zeros((3, 1, 1), np.int64) + 1
    for got, v in zip(result.compute(), volumes):
        np.testing.assert_array_equal(got, ndi.correlate(v.astype(np.int64), weights,
                                                         mode="nearest") // 3)
    written = imsave(result, tmp_path / "blurred", progress=False)
    assert all(p.endswith(".tif") for p in written)      # bug 8: the input's format kept


def test_names_in_another_order_than_imread_are_refused(tmp_path):
    """Issue 21 bug 5: names=sorted(glob(...)) (img10 before img2) mislabelled the outputs."""
    import glob
    originals = write_folder(tmp_path / "in", (6, 7), np.uint8,
                             names=tuple(f"img{k}" for k in range(12)))
    stack, files = imread(tmp_path / "in", return_files=True)
    result = stack + 1
    with pytest.raises(ValueError, match="another order.*return_files=True"):
        imsave(result, tmp_path / "out", names=sorted(glob.glob(str(tmp_path / "in" / "*"))),
               progress=False)
    written = imsave(result, tmp_path / "out", names=files, progress=False)
    for path in written:
        name = os.path.splitext(os.path.basename(path))[0]
        np.testing.assert_array_equal(iio.imread(path), originals[name] + 1)


def test_uint16_tiff_inputs_stay_tiff(tmp_path):
    """Issue 21 bug 8: imsave wrote uint16 TIFF inputs' results as PNG (10x slower)."""
    write_folder(tmp_path / "in", (6, 7), np.uint16, ext=".tif")
    written = imsave(imread(tmp_path / "in"), tmp_path / "out", progress=False)
    assert [os.path.splitext(p)[1] for p in written] == [".tif"] * 3


def test_one_colour_image_is_not_taken_for_a_stack(tmp_path):
    """Issue 21 bug 6: imsave(rgb) of one (160, 120, 3) image wrote 160 files of 120x3."""
    rgb = np.zeros((160, 120, 3), np.uint8)
    with pytest.raises(ValueError, match=r"looks like one colour image.*image\[None\]"):
        imsave(rgb, tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()
    assert len(imsave(rgb[None], tmp_path / "out", progress=False)) == 1


def test_files_without_an_image_extension_are_skipped_with_a_warning(tmp_path):
    """Issue 21 bug 7: a README.txt in the folder failed with imageio's 'Could not find a
    backend', while .DS_Store was skipped: one rule now, image extensions only."""
    originals = write_folder(tmp_path / "in", (6, 7), np.uint8)
    (tmp_path / "in" / "README.txt").write_text("notes")
    (tmp_path / "in" / ".DS_Store").write_bytes(b"\0\0")
    with pytest.warns(UserWarning, match="skipped 1 file.*README.txt"):
        stack = imread(tmp_path / "in")
    np.testing.assert_array_equal(stack.compute(), np.stack([originals[n] for n in
                                                             ("img1", "img2", "img10")]))
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a.txt").write_text("x")
    with pytest.raises(FileNotFoundError, match="only files that are not images: a.txt"):
        imread(tmp_path / "notes")
