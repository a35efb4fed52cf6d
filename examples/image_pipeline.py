"""The reference post's "aspirational result": a folder of images read lazily, every image
smoothed by one decorated function, the results written out, one file per image.

    stack = imread("frames/*.png")      # lazy, one Dask chunk per file
    imsave(smooth(stack), "smoothed/")  # computed in parallel, written all or nothing

The frames are scikit-image's sample photographs; the results are checked against the post's
own numba.stencil + guvectorize code.
"""
import os

import numpy as np

from stencilc import stencil_ufunc
from stencilc.demo import sample_images, seed_smooth
from stencilc.image import imread, imsave


@stencil_ufunc
def smooth(x):
    return (x[-1, -1] + x[-1, 0] + x[-1, 1] +
            x[ 0, -1] + x[ 0, 0] + x[ 0, 1] +
            x[ 1, -1] + x[ 1, 0] + x[ 1, 1]) // 9


def main(out_dir: str = "example-output/image_pipeline", count: int = 4) -> None:
    frames = os.path.join(out_dir, "frames")
    imsave(np.stack(sample_images(count)), frames, overwrite=True, progress=False)

    stack = imread(os.path.join(frames, "*.png"))           # the aspirational part
    written = imsave(smooth(stack), os.path.join(out_dir, "smoothed"), overwrite=True)

    expected = seed_smooth(np.uint8)(stack.compute())
    for path, image in zip(written, expected):
        np.testing.assert_array_equal(imread([path])[0].compute(), image)
    print(f"smoothed {len(written)} images into {os.path.dirname(written[0])}/, "
          "equal to the seed's numba.stencil + guvectorize")


if __name__ == "__main__":
    main()
