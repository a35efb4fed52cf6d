"""The stencilc command: apply on folders of real PNGs (grey and RGB, uint8 and uint16) equals
scipy.ndimage per image; every failure is one clear line, a documented exit code, and no
partial output. Runs main() in-process (the console script itself is checked once)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest

from stencilc.cli import EXIT_BUG, EXIT_DATA, EXIT_KERNEL, EXIT_OK, EXIT_USAGE, main
from stencilc.image import imread
from test_image import expected_mean5, write_folder

KERNEL_FILE = '''
from stencilc import stencil_ufunc

@stencil_ufunc(boundary="nearest")
def mean5(x):
    return (x[-1, 0] + x[0, -1] + x[0, 0] + x[0, 1] + x[1, 0]) // 5

def gradient(x):   # 0.5 * first: uint8 - uint8 would wrap around before abs()
    return abs(0.5 * x[0, 1] - 0.5 * x[0, -1]) + abs(0.5 * x[1, 0] - 0.5 * x[-1, 0])

def broken(x):
    return x[undefined_name, 0]
'''


@pytest.fixture
def kernels(tmp_path) -> Path:
    path = tmp_path / "kernels.py"
    path.write_text(KERNEL_FILE)
    return path


def run(*argv) -> int:
    return main([str(a) for a in argv])


@pytest.mark.parametrize("shape, dtype", [((11, 14), np.uint8), ((11, 14), np.uint16),
                                          ((11, 14, 3), np.uint8), ((11, 14, 3), np.uint16)],
                         ids=["grey8", "grey16", "rgb8", "rgb16"])
def test_apply_equals_scipy_per_image(tmp_path, kernels, shape, dtype, capsys):
    originals = write_folder(tmp_path / "in", shape, dtype)
    assert run("apply", f"{kernels}:mean5", tmp_path / "in" / "*.png", tmp_path / "out") \
        == EXIT_OK
    assert "100% Completed" in capsys.readouterr().out
    assert sorted(os.listdir(tmp_path / "out")) == sorted(f"{n}.png" for n in originals)
    for name, img in originals.items():
        back = imread([tmp_path / "out" / f"{name}.png"])[0].compute()
        assert back.dtype == dtype
        np.testing.assert_array_equal(back, expected_mean5(img))


def test_apply_float_output_goes_to_tiff(tmp_path, kernels):
    originals = write_folder(tmp_path / "in", (9, 12), np.uint8)
    assert run("apply", f"{kernels}:gradient", tmp_path / "in", tmp_path / "out",
               "--out-dtype", "float32", "--boundary", "reflect", "-q") == EXIT_OK
    p = np.pad(originals["img2"].astype(np.float64), 1, mode="symmetric")
    expected = (np.abs(0.5 * p[1:-1, 2:] - 0.5 * p[1:-1, :-2])
                + np.abs(0.5 * p[2:, 1:-1] - 0.5 * p[:-2, 1:-1])).astype(np.float32)
    back = iio.imread(tmp_path / "out" / "img2.tif")
    assert back.dtype == np.float32
    np.testing.assert_array_equal(back, expected)


def _failure(capsys, code, *argv, words):
    assert run(*argv) == code
    err = capsys.readouterr().err
    assert err.startswith(f"stencilc {argv[0]}: error:") and words in err, err
    assert "Traceback" not in err


def test_data_errors_name_the_file_and_write_nothing(tmp_path, kernels, capsys):
    write_folder(tmp_path / "in", (9, 12), np.uint8)
    out = tmp_path / "out"
    (tmp_path / "in" / "img5.png").write_bytes(b"\x89PNG corrupt")
    _failure(capsys, EXIT_DATA, "apply", f"{kernels}:mean5", tmp_path / "in", out,
             words="img5.png")
    (tmp_path / "in" / "img5.png").unlink()
    iio.imwrite(tmp_path / "in" / "img5.png", np.zeros((9, 13), np.uint8))
    _failure(capsys, EXIT_DATA, "apply", f"{kernels}:mean5", tmp_path / "in", out,
             words="img5.png' is (9, 13) uint8")
    assert not out.exists() or os.listdir(out) == []
    (tmp_path / "in" / "img5.png").unlink()
    (tmp_path / "blocker").write_text("a file")
    _failure(capsys, EXIT_DATA, "apply", f"{kernels}:mean5", tmp_path / "in",
             tmp_path / "blocker" / "out", words="cannot write into")
    out.mkdir(exist_ok=True)
    (out / "img2.png").write_bytes(b"keep")
    _failure(capsys, EXIT_DATA, "apply", f"{kernels}:mean5", tmp_path / "in", out,
             words="already exist")
    assert os.listdir(out) == ["img2.png"] and (out / "img2.png").read_bytes() == b"keep"
    assert run("apply", f"{kernels}:mean5", tmp_path / "in", out, "--overwrite", "-q") == 0
    assert sorted(os.listdir(out)) == ["img1.png", "img10.png", "img2.png"]
    _failure(capsys, EXIT_DATA, "apply", f"{kernels}:mean5", tmp_path / "nothing" / "*.png",
             out, words="no image files match")


def test_kernel_and_usage_errors(tmp_path, kernels, capsys):
    write_folder(tmp_path / "in", (9, 12), np.uint8)
    _failure(capsys, EXIT_KERNEL, "apply", f"{kernels}:broken", tmp_path / "in",
             tmp_path / "o", words="name 'undefined_name' is not defined")
    _failure(capsys, EXIT_KERNEL, "apply", f"{kernels}:missing", tmp_path / "in",
             tmp_path / "o", words="has no function 'missing'")
    _failure(capsys, EXIT_KERNEL, "apply", f"{tmp_path}/nofile.py:f", tmp_path / "in",
             tmp_path / "o", words="does not exist")
    _failure(capsys, EXIT_USAGE, "apply", f"{kernels}:mean5", tmp_path / "in",
             tmp_path / "o", "--boundary", "edge", words="did you mean boundary='nearest'")
    _failure(capsys, EXIT_USAGE, "apply", f"{kernels}:mean5", tmp_path / "in",
             tmp_path / "o", "--target", "tpu", words="not a registered target")
    with pytest.raises(SystemExit) as info:
        run("apply", f"{kernels}:mean5", tmp_path / "in", tmp_path / "o", "--out-dtype", "f99")
    assert info.value.code == EXIT_USAGE
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("command", [[], ["apply"], ["inspect"], ["targets"], ["demo"],
                                     ["bench"]])
def test_help_everywhere(command, capsys):
    with pytest.raises(SystemExit) as info:
        run(*command, "--help")
    assert info.value.code == 0
    assert "usage: stencilc" in capsys.readouterr().out


def test_inspect_and_targets(kernels, capsys):
    assert run("inspect", f"{kernels}:mean5", "--stage", "ir") == EXIT_OK
    assert "x@[-1, 0]" in capsys.readouterr().out
    assert run("inspect", f"{kernels}:mean5", "--dtype", "int16") == EXIT_OK
    assert "argument dtypes x: int16" in capsys.readouterr().out
    _failure(capsys, EXIT_USAGE, "inspect", f"{kernels}:mean5", words="--dtype is needed")
    assert run("inspect", f"{kernels}:mean5", "--stage", "schedule", "-d", "uint8") == EXIT_OK
    assert capsys.readouterr().out.startswith("schedule of mean5 for x: uint8")
    assert run("targets") == EXIT_OK
    listing = capsys.readouterr().out
    assert all(name in listing for name in ("cpu", "parallel", "cuda"))
    import numba     # issue 24: the threading layer parallel runs on, as numba reports it
    assert f"numba threading layer {numba.threading_layer()!r}" in listing
    assert f"({numba.get_num_threads()} threads;" in listing


def test_bench_and_demo_are_checked_against_the_seed(tmp_path, capsys):
    assert run("bench", "--images", "2", "--size", "40", "--repeats", "1") == EXIT_OK
    table = capsys.readouterr().out
    assert "seed: numba.stencil + guvectorize" in table and " NO" not in table
    assert table.count(" yes") == 5
    assert run("demo", "--out", tmp_path, "--images", "2", "--repeats", "1") == EXIT_OK
    shown = capsys.readouterr().out
    assert "100% Completed" in shown and " NO" not in shown and shown.count(" yes") == 5
    picture = iio.imread(tmp_path / "before_after.png")
    assert picture.shape == (512, 2 * 512 + 8)
    # issue 21 item 10: the "after" half is the README's boundary="nearest" smoothing (it had
    # boundary=None's black frame): the first photograph smoothed as scipy.ndimage does it
    import scipy.ndimage as ndi
    first = picture[:, :512].astype(np.int64)
    expected = ndi.correlate(first, np.ones((3, 3), np.int64), mode="nearest") // 9
    np.testing.assert_array_equal(picture[:, 520:], expected)
    assert len(os.listdir(tmp_path / "smoothed")) == 2


def test_console_script_is_installed():
    script = Path(sys.executable).parent / "stencilc"
    assert shutil.which(str(script)), "pip install -e . installs the stencilc command"
    done = subprocess.run([str(script), "targets"], capture_output=True, text=True, check=False)
    assert done.returncode == 0 and "cpu" in done.stdout


def test_jpeg_inputs_are_written_losslessly(tmp_path, kernels):
    img = np.random.default_rng(5).integers(0, 256, size=(9, 12), dtype=np.uint8)
    (tmp_path / "in").mkdir()
    iio.imwrite(tmp_path / "in" / "photo.jpg", img)
    assert run("apply", f"{kernels}:mean5", tmp_path / "in", tmp_path / "out", "-q") == 0
    assert os.listdir(tmp_path / "out") == ["photo.png"]     # not JPEG again: no loss
    np.testing.assert_array_equal(iio.imread(tmp_path / "out" / "photo.png"),
                                  expected_mean5(iio.imread(tmp_path / "in" / "photo.jpg")))


def test_per_axis_boundary_with_none_on_the_command_line(tmp_path, kernels):
    originals = write_folder(tmp_path / "in", (9, 12), np.uint8)
    assert run("apply", f"{kernels}:mean5", tmp_path / "in", tmp_path / "out", "--boundary",
               "None,nearest", "-q") == EXIT_OK
    expected = expected_mean5(originals["img1"])   # nearest along axis 1, as scipy computes
    expected[[0, -1], :] = 0                        # axis 0 under numba.stencil's rule: cval
    np.testing.assert_array_equal(iio.imread(tmp_path / "out" / "img1.png"), expected)


def test_boundary_none_on_the_command_line(tmp_path, kernels):
    originals = write_folder(tmp_path / "in", (9, 12), np.uint8)
    assert run("apply", f"{kernels}:mean5", tmp_path / "in", tmp_path / "out", "--boundary",
               "none", "-q") == EXIT_OK
    expected = expected_mean5(originals["img1"])            # interior as scipy computes it
    expected[[0, -1], :] = 0                                 # numba.stencil's border: cval
    expected[:, [0, -1]] = 0
    np.testing.assert_array_equal(iio.imread(tmp_path / "out" / "img1.png"), expected)


ONE_D = '''
def row_diff(x):
    return x[1] - x[-1]
'''


def test_channel_axis_and_kernel_dimensions_are_validated(tmp_path, kernels, capsys):
    """Issue 25 item 7: --channel-axis 7 on (H, W, 3) images was taken modulo 3 (24-channel
    TIFFs, exit 0); a 1-D kernel on grey images ran across W as if it held channels."""
    write_folder(tmp_path / "rgb", (11, 14, 3), np.uint8)
    write_folder(tmp_path / "grey", (11, 14), np.uint8)
    (tmp_path / "one_d.py").write_text(ONE_D)
    cases = [(f"{kernels}:mean5", "rgb", ["--channel-axis", "7"], EXIT_USAGE, "out of range"),
             (f"{kernels}:mean5", "rgb", ["--channel-axis", "-4"], EXIT_USAGE, "out of range"),
             (f"{kernels}:mean5", "grey", ["--channel-axis", "0"], EXIT_USAGE,
              "no channel axis"),
             # issue 21 item 6: channels-last colour images with --channel-axis 0 wrote
             # (H, 3, W) files of H "channels"
             (f"{kernels}:mean5", "rgb", ["--channel-axis", "0"], EXIT_USAGE,
              "look like colour images with channels last"),
             (f"{tmp_path / 'one_d.py'}:row_diff", "grey", [], EXIT_DATA, "--channel-axis")]
    for kernel, folder, extra, code, words in cases:
        capsys.readouterr()
        assert run("apply", kernel, tmp_path / folder, tmp_path / "out", *extra) == code, extra
        assert words in capsys.readouterr().err
        assert not (tmp_path / "out").exists()
    # saying which axis holds the "channels" runs the 1-D kernel along the other one
    assert run("apply", f"{tmp_path / 'one_d.py'}:row_diff", tmp_path / "grey",
               tmp_path / "out", "--channel-axis", "0", "--out-dtype", "int16") == EXIT_OK


def test_a_kernel_file_that_exits_on_import_is_a_kernel_error(tmp_path, capsys):
    (tmp_path / "exits.py").write_text("import sys\nsys.exit(0)\n")
    write_folder(tmp_path / "in", (5, 6), np.uint8)
    assert run("apply", f"{tmp_path / 'exits.py'}:k", tmp_path / "in", tmp_path / "out") \
        == EXIT_KERNEL
    assert "called sys.exit(0)" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("argv, words", [
    (["bench", "--images", "0"], "must be at least 1"),
    (["demo", "--repeats", "0"], "must be at least 1"),
    (["apply", "k.py:f", "in", "out", "--out-dtype", "float16"], "float16 is not supported"),
])
def test_bad_numbers_and_dtypes_are_usage_errors(argv, words, capsys):
    """Issue 25 item 14: these exited 1 or printed internal messages."""
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == EXIT_USAGE
    assert words in capsys.readouterr().err


def test_no_gpu_is_one_line_and_a_usage_error(tmp_path, kernels, capsys):
    """Issue 21 bug 2: --target cuda (or a cuda kernel) on a machine without a GPU printed a
    full traceback."""
    from stencilc.targets import REGISTRY
    if REGISTRY["cuda"].available():
        pytest.skip("the cuda target runs here")
    write_folder(tmp_path / "in", (6, 7), np.uint8)
    assert run("apply", f"{kernels}:mean5", tmp_path / "in", tmp_path / "out",
               "--target", "cuda") == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot run on this machine" in err and "--target cpu" in err
    assert "Traceback" not in err and not (tmp_path / "out").exists()


def test_a_bug_says_so_and_debug_shows_the_traceback(tmp_path, kernels, capsys, monkeypatch):
    """Issue 21 bug 2: a stencilc bug (here: an AttributeError planted in imsave) read as a
    data error (exit 1). It is exit 4, says it is a bug and where to report it; --debug adds
    the traceback. Data errors stay exit 1."""
    from stencilc import image

    def broken(*args, **kwargs):
        raise AttributeError("'NoneType' object has no attribute 'shape'")

    write_folder(tmp_path / "in", (6, 7), np.uint8)
    monkeypatch.setattr(image, "imsave", broken)
    assert run("apply", f"{kernels}:mean5", tmp_path / "in", tmp_path / "out") == EXIT_BUG
    err = capsys.readouterr().err
    assert "internal error: AttributeError" in err and "bug in stencilc" in err
    assert "Traceback" not in err
    assert run("--debug", "apply", f"{kernels}:mean5", tmp_path / "in", tmp_path / "out") \
        == EXIT_BUG
    assert "Traceback" in capsys.readouterr().err
    monkeypatch.undo()
    (tmp_path / "in" / "img1.png").write_bytes(b"not a png")
    assert run("apply", f"{kernels}:mean5", tmp_path / "in", tmp_path / "out") == EXIT_DATA


def test_apply_on_a_folder_of_z_stacks(tmp_path, capsys):
    """Issue 21 bug 1 through the command: 3-D TIFF volumes, a 3-D kernel, each output the
    input's name and format, equal to scipy.ndimage."""
    import scipy.ndimage as ndi
    import tifffile
    (tmp_path / "k.py").write_text("def blur(x):\n    return (x[-1, 0, 0] + x[0, 0, 0] + "
                                   "x[1, 0, 0]) // 3\n")
    (tmp_path / "cells").mkdir()
    rng = np.random.default_rng(1)
    volumes = {f"cell{k}": rng.integers(0, 5000, (10, 16, 20)).astype(np.uint16)
               for k in range(3)}
    for name, v in volumes.items():
        tifffile.imwrite(tmp_path / "cells" / f"{name}.tif", v)
    assert run("apply", f"{tmp_path / 'k.py'}:blur", tmp_path / "cells", tmp_path / "out",
               "--boundary", "nearest", "-q") == EXIT_OK
    for name, v in volumes.items():
        got = tifffile.imread(tmp_path / "out" / f"{name}.tif")
        expected = ndi.correlate(v.astype(np.int64), np.ones((3, 1, 1), np.int64),
                                 mode="nearest") // 3
        np.testing.assert_array_equal(got, expected)
