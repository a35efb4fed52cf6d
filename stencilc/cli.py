"""The ``stencilc`` command: apply a kernel to a folder of images, inspect a kernel, list the
targets, run the demo and a quick benchmark. ``stencilc COMMAND --help`` for each.

Exit codes: 0 success; 1 the data (an unreadable or mismatched image, an existing output, a
folder that cannot be written, a format that would lose values, a kernel that fails on the
data); 2 the command line (argparse's code: an unknown option, a bad dtype, target or
boundary; a target this machine cannot run); 3 the kernel file (it cannot be imported, has no
such function, or the function is not a stencil kernel stencilc can compile: the
StencilSyntaxError is printed); 4 a bug in stencilc (any other exception: one line that says
so and where to report it; ``--debug`` prints the traceback). 130 after Ctrl-C.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time
from dataclasses import replace
from typing import Sequence

import numpy as np

EXIT_OK, EXIT_DATA, EXIT_USAGE, EXIT_KERNEL, EXIT_BUG, EXIT_INTERRUPTED = 0, 1, 2, 3, 4, 130
#: where a bug report goes: the project's issue tracker, as docs/troubleshooting.md says
ISSUES = "the stencilc issue tracker (docs/troubleshooting.md, 'Reporting a bug')"
#: what the data or the environment causes, reported as one line with exit code 1: errors
#: stencilc raises on purpose for inputs (NumPy's kinds), and the operating system's
DATA_ERRORS = (ValueError, TypeError, IndexError, OSError)
#: the most entries an axis taken as colour channels by default may have (grey+alpha, RGB,
#: RGBA); a longer last axis needs --channel-axis, so a 1-D kernel never runs across W
MAX_DEFAULT_CHANNELS = 4
STAGES = ("ir", "schedule", "source", "llvm", "asm")


class CommandError(Exception):
    """A failure reported as one line and an exit code, without a traceback."""

    def __init__(self, message: str, code: int):
        super().__init__(message)
        self.code = code


def load_kernel(spec: str, **options):
    """``FILE.py:FUNC`` as a StencilUFunc: a decorated kernel (its options replaced by any
    given here), or a plain function decorated with ``options``."""
    from .errors import StencilError
    from .options import Options
    from .ufunc import StencilUFunc

    path, sep, name = spec.rpartition(":")
    if not sep or not path or not name:
        raise CommandError(f"kernel {spec!r} must be FILE.py:FUNCTION", EXIT_USAGE)
    if not os.path.isfile(path):
        raise CommandError(f"kernel file {path!r} does not exist", EXIT_KERNEL)
    module_name = "stencilc_cli_" + "".join(c if c.isalnum() else "_" for c in
                                            os.path.abspath(path))
    try:
        loader = importlib.util.spec_from_file_location(module_name, path)
        module = importlib.util.module_from_spec(loader)
        sys.modules[module_name] = module
        loader.loader.exec_module(module)
    except SystemExit as error:
        raise CommandError(f"{path!r} called sys.exit({error.code!r}) while being imported; "
                           "a kernel file must only define functions", EXIT_KERNEL) from None
    except StencilError as error:
        raise CommandError(str(error), EXIT_KERNEL) from error
    except Exception as error:   # noqa: BLE001 - the user's module failed to import
        raise CommandError(f"cannot import {path!r}: {type(error).__name__}: {error}",
                           EXIT_KERNEL) from error
    function = getattr(module, name, None)
    if function is None:
        raise CommandError(f"{path!r} has no function {name!r}", EXIT_KERNEL)
    given = {k: v for k, v in options.items() if v is not None or k == "boundary"}
    try:
        if isinstance(function, StencilUFunc):
            if not given:
                return function
            return StencilUFunc(function.py_func, replace(function.options, **given))
        if not callable(function):
            raise CommandError(f"{spec} is a {type(function).__name__}, not a function",
                               EXIT_KERNEL)
        return StencilUFunc(function, Options(**given))
    except StencilError as error:
        raise CommandError(str(error), EXIT_KERNEL) from error
    except (TypeError, ValueError) as error:
        raise CommandError(str(error), EXIT_USAGE) from error


def _dtype(text: str) -> np.dtype:
    from .dtypes import SUPPORTED_DTYPES, SUPPORTED_NAMES
    try:
        dtype = np.dtype(text)
    except TypeError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a NumPy dtype") from None
    if dtype not in SUPPORTED_DTYPES:
        raise argparse.ArgumentTypeError(f"{dtype} is not supported; choose one of "
                                         f"{SUPPORTED_NAMES}")
    return dtype


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _boundary(text: str) -> tuple[str | None, ...]:
    """``--boundary``: one mode, or one per axis separated by commas; ``none`` is None."""
    return tuple(None if mode.strip().lower() == "none" else mode.strip()
                 for mode in text.split(","))


def _kernel_from(args):
    """The kernel the command line names, with the options it gives (an option not given
    keeps the kernel's own)."""
    modes = getattr(args, "boundary", None)
    options = dict(target=getattr(args, "target", None),
                   out_dtype=getattr(args, "out_dtype", None))
    if modes is not None:
        options["boundary"] = modes[0] if len(modes) == 1 else modes
    return load_kernel(args.kernel, **options)


# --- apply ---------------------------------------------------------------------------------

def output_names(inputs: Sequence[str], dtype: np.dtype, image_shape: tuple[int, ...]) -> list:
    """Each input's file name, with the extension :func:`~stencilc.image.default_extension`
    gives where the input's format cannot hold ``dtype`` (a float result of PNG inputs, any
    JPEG input): names change, values never do."""
    from .image import default_extension, output_format
    names = []
    for path in inputs:
        stem, ext = os.path.splitext(os.path.basename(path))
        try:
            output_format(f"x{ext}", dtype, image_shape)
        except ValueError:
            ext = default_extension(dtype, image_shape)
        names.append(stem + ext)
    return names


def command_apply(args) -> int:
    from .image import imread, imsave, list_files

    from .errors import TargetUnavailableError
    from .targets import REGISTRY

    kernel = _kernel_from(args)
    if not REGISTRY[kernel.target].available():    # before any folder is made
        raise TargetUnavailableError(f"{kernel.__name__}: target {kernel.target!r} cannot run "
                                     f"on this machine (it needs {REGISTRY[kernel.target].requires})")
    inputs = list_files(args.inputs)
    stack = imread(inputs)
    image_ndim = stack.ndim - 1
    if kernel.nin != 1:
        raise CommandError(f"{args.kernel} takes {kernel.nin} arguments; stencilc apply runs "
                           "kernels of one image", EXIT_KERNEL)
    d = kernel.ir.ndim
    given = args.channel_axis
    if given is not None and not -image_ndim <= given < image_ndim:
        raise CommandError(f"--channel-axis {given} is out of range for {image_ndim}-D images "
                           f"{tuple(stack.shape[1:])} (axes -{image_ndim} .. "
                           f"{image_ndim - 1})", EXIT_USAGE)
    if image_ndim == d:
        if given is not None:
            raise CommandError(f"--channel-axis {given}: the images are {image_ndim}-D "
                               f"{tuple(stack.shape[1:])}, as many dimensions as "
                               f"{args.kernel} has, so they have no channel axis", EXIT_USAGE)
        core, channel = tuple(range(1, d + 1)), None
    elif image_ndim == d + 1:
        channel = (-1 if given is None else given) % image_ndim
        if given is None and stack.shape[1 + channel] > MAX_DEFAULT_CHANNELS:
            raise CommandError(
                f"the images are {image_ndim}-D {tuple(stack.shape[1:])} and {args.kernel} "
                f"has {d} core dimension(s): is the last axis ({stack.shape[-1]} long) a "
                "colour channel axis? Say which axis holds channels with --channel-axis, or "
                f"use a {image_ndim}-D kernel", EXIT_DATA)
        looks_last = stack.shape[-1] <= MAX_DEFAULT_CHANNELS < stack.shape[1 + channel]
        if given is not None and channel != image_ndim - 1 and looks_last:
            raise CommandError(
                f"--channel-axis {given}: axis {channel} of the images "
                f"{tuple(stack.shape[1:])} has {stack.shape[1 + channel]} entries, but the "
                f"last has {stack.shape[-1]}: these look like colour images with channels "
                "last; drop --channel-axis (or give -1)", EXIT_USAGE)
        core = tuple(1 + k for k in range(image_ndim) if k != channel)
    else:
        raise CommandError(f"the images are {image_ndim}-D {tuple(stack.shape[1:])}, but "
                           f"{args.kernel} has {d} core dimension(s)", EXIT_DATA)
    result = kernel(stack, axes=[core] * (1 + kernel.nout))
    results = result if kernel.nout > 1 else (result,)
    started = time.perf_counter()
    written = []
    for k, r in enumerate(results):
        image_shape = tuple(r.shape[1:])
        if channel is not None and channel != image_ndim - 1:
            image_shape = image_shape[:channel] + image_shape[channel + 1:] + \
                (image_shape[channel],)
        names = output_names(inputs, r.dtype, image_shape)
        target = args.outdir if kernel.nout == 1 else os.path.join(args.outdir, f"output{k}")
        written += imsave(r, target, names=names, overwrite=args.overwrite,
                          progress=not args.quiet,
                          channel_axis=None if channel in (None, image_ndim - 1) else channel)
    elapsed = time.perf_counter() - started
    pixels = stack.size // (stack.shape[1 + channel] if channel is not None else 1)
    print(f"wrote {len(written)} file(s) to {args.outdir} in {elapsed:.2f} s "
          f"({pixels / elapsed / 1e6:.1f} Mpx/s, reading and writing included)")
    return EXIT_OK


# --- inspect, targets, demo, bench ---------------------------------------------------------

def command_inspect(args) -> int:
    kernel = _kernel_from(args)
    if args.stage == "ir":
        print(kernel.inspect_ir())
        return EXIT_OK
    dtypes = [d for text in args.dtype for d in text.split(",")] if args.dtype else []
    if not dtypes:
        raise CommandError("--dtype is needed for this stage, e.g. --dtype int8", EXIT_USAGE)
    if len(dtypes) == 1:
        dtypes *= kernel.nin
    try:
        dtypes = [np.dtype(d) for d in dtypes]
        show = {"schedule": lambda *d: str(kernel.schedule(*d)),
                "source": kernel.inspect_source, "llvm": kernel.inspect_llvm,
                "asm": kernel.inspect_asm}[args.stage]
        print(show(*dtypes))
    except (TypeError, ValueError) as error:
        raise CommandError(str(error), EXIT_USAGE) from error
    return EXIT_OK


def command_targets(args) -> int:
    from .targets import REGISTRY, threading_report
    print(f"{'target':10s} {'aliases':10s} {'usable here':12s} description / needs")
    for name, target in REGISTRY.items():
        usable = "yes" if target.available() else "no"
        aliases = ",".join(getattr(target, "aliases", ())) or "-"
        print(f"{name:10s} {aliases:10s} {usable:12s} {target.description}")
        print(f"{'':34s} needs: {target.requires}")
    print(f"\nparallel: {threading_report()}")
    return EXIT_OK


def command_demo(args) -> int:
    from .demo import run_demo
    run_demo(args.out, count=args.images, repeats=args.repeats)
    return EXIT_OK


def command_bench(args) -> int:
    from .demo import run_bench
    run_bench(count=args.images, size=args.size, repeats=args.repeats)
    return EXIT_OK


# --- the parser ----------------------------------------------------------------------------

def _kernel_options(parser: argparse.ArgumentParser, out_dtype: bool = True) -> None:
    from .targets import REGISTRY
    parser.add_argument("--target", "-t", help="compile for this target (default: the "
                        f"kernel's own, else cpu); one of {', '.join(REGISTRY)}")
    parser.add_argument("--boundary", "-b", type=_boundary,
                        help="boundary mode: none, constant, nearest, reflect, mirror, wrap, or "
                             "one per axis separated by commas (nearest,wrap)")
    if out_dtype:
        parser.add_argument("--out-dtype", type=_dtype, help="output dtype, e.g. float32 "
                            "(default: the input's)")


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="stencilc", description="Compile plain stencil functions into fast generalized "
        "ufuncs, and run them over folders of images.",
        epilog="exit codes: 0 success, 1 data error (images, outputs), 2 command-line error, "
               "3 kernel file error, 4 a bug in stencilc (report it; --debug shows the "
               "traceback), 130 interrupted")
    top.add_argument("--debug", action="store_true",
                     help="print the full traceback of any error (for bug reports)")
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    apply = sub.add_parser(
        "apply", help="apply a kernel to every image of a folder, one output file per image",
        description="Read INPUT_GLOB lazily (one Dask chunk per image), apply the kernel "
        "FUNC from KERNEL_FILE.py to every image (per channel for colour images), and write one "
        "file per image into OUTDIR with the input's name. The dtype is kept: PNG where PNG "
        "holds it, .tif otherwise. Nothing is written unless every image succeeds.",
        epilog="example: stencilc apply kernels.py:smooth 'frames/*.png' smoothed/")
    apply.add_argument("kernel", metavar="KERNEL_FILE.py:FUNC")
    apply.add_argument("inputs", metavar="INPUT_GLOB",
                       help="a glob pattern (quote it) or a directory")
    apply.add_argument("outdir", metavar="OUTDIR")
    _kernel_options(apply)
    apply.add_argument("--channel-axis", type=int, default=None, metavar="K",
                       help="the axis of each image that holds colour channels (default: the "
                            "last, if the images have one more dimension than the kernel and "
                            f"it has at most {MAX_DEFAULT_CHANNELS} entries)")
    apply.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    apply.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    apply.set_defaults(run=command_apply)

    inspect = sub.add_parser("inspect", help="show a kernel's IR, schedule, generated source, "
                             "LLVM IR or machine code", description="Show one stage of compiling "
                             "FUNC from FILE.py for the given argument dtypes.")
    inspect.add_argument("kernel", metavar="FILE.py:FUNC")
    inspect.add_argument("--dtype", "-d", action="append", metavar="D",
                         help="argument dtype(s): one for every argument, or one per argument "
                              "(repeat, or separate with commas)")
    inspect.add_argument("--stage", "-s", choices=STAGES, default="source")
    _kernel_options(inspect)
    inspect.set_defaults(run=command_inspect)

    targets = sub.add_parser("targets", help="list the targets, whether each runs here, and "
                             "what it needs", description="The target registry.")
    targets.set_defaults(run=command_targets)

    demo = sub.add_parser("demo", help="the seed's pipeline on real photographs, and a speed "
                          "table", description="Write scikit-image's sample photographs as "
                          "PNGs, smooth them through Dask with a progress bar, time stencilc "
                          "against the seed's numba.stencil+guvectorize, scipy.ndimage and "
                          "np.copyto in the same run, and write a before/after PNG.")
    demo.add_argument("--out", default="demo-output", help="folder for the images "
                      "(default: ./demo-output)")
    demo.add_argument("--images", type=_positive, default=24, help="how many 512x512 images")
    demo.add_argument("--repeats", type=_positive, default=5, help="timed runs per contender")
    demo.set_defaults(run=command_demo)

    bench = sub.add_parser("bench", help="a quick speed table on a random int8 stack",
                           description="Time the seed's smoothing on random int8 images "
                           "(the post's data) against its baselines, in this run. The full "
                           "suite is benchmarks/ (make bench).")
    bench.add_argument("--images", type=_positive, default=16)
    bench.add_argument("--size", type=_positive, default=512)
    bench.add_argument("--repeats", type=_positive, default=5)
    bench.set_defaults(run=command_bench)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``stencilc`` command; returns its exit code."""
    args = parser().parse_args(argv)
    prefix = f"stencilc {args.command}"
    try:
        return args.run(args)
    except KeyboardInterrupt:
        print(f"{prefix}: interrupted; nothing was written", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as error:   # noqa: BLE001 - every error is one line and a code
        code, message = classify(error)
        if args.debug:
            import traceback
            traceback.print_exc()
        print(f"{prefix}: {message}", file=sys.stderr)
        return code


def classify(error: BaseException) -> tuple[int, str]:
    """The exit code and the one line for ``error``: what the user can fix (the command line,
    the kernel file, the data) says what is wrong; anything else is a bug of stencilc's."""
    from .errors import StencilError, StencilInternalError, TargetUnavailableError
    from .image import ImageFileError

    if isinstance(error, CommandError):
        return error.code, f"error: {error}"
    if isinstance(error, TargetUnavailableError):
        return EXIT_USAGE, f"error: {error}; run it with --target cpu (or parallel)"
    if isinstance(error, StencilError) and not isinstance(error, StencilInternalError):
        return EXIT_KERNEL, f"error: {error}"
    if isinstance(error, (ImageFileError, *DATA_ERRORS)):
        return EXIT_DATA, f"error: {error}"
    return EXIT_BUG, (f"internal error: {type(error).__name__}: {error}. This is a bug in "
                      f"stencilc; please report it to {ISSUES} with the command line "
                      "(--debug prints the traceback)")


if __name__ == "__main__":
    sys.exit(main())
