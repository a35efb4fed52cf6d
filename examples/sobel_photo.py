"""Sobel edges of a real photograph (scikit-image's camera man), computed in float32.

The photograph is uint8; an edge magnitude is not. ``out_dtype=np.float32`` stores it as it
is computed; without it the result would be cut down to uint8 (docs/dtypes.md). Checked
against scipy.ndimage.sobel, bit for bit.
"""
import math
import os

import imageio.v3 as iio
import numpy as np
from scipy import ndimage
from skimage import data

from stencilc import stencil_ufunc


@stencil_ufunc(boundary="reflect", out_dtype=np.float32)
def sobel(x):
    gx = (x[-1, 1] + 2.0 * x[0, 1] + x[1, 1]) - (x[-1, -1] + 2.0 * x[0, -1] + x[1, -1])
    gy = (x[1, -1] + 2.0 * x[1, 0] + x[1, 1]) - (x[-1, -1] + 2.0 * x[-1, 0] + x[-1, 1])
    return math.sqrt(gx * gx + gy * gy)


def main(out_dir: str = "example-output") -> None:
    photo = data.camera()
    edges = sobel(photo)
    assert edges.dtype == np.float32
    as_float = photo.astype(np.float64)
    gx = ndimage.sobel(as_float, axis=1, mode="reflect")
    gy = ndimage.sobel(as_float, axis=0, mode="reflect")
    np.testing.assert_array_equal(edges, np.sqrt(gx * gx + gy * gy).astype(np.float32))
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "sobel_camera.png")
    iio.imwrite(path, (255 * edges / edges.max()).astype(np.uint8))   # scaled for viewing
    print(f"edges of a {photo.shape} {photo.dtype} photograph as {edges.dtype}, max "
          f"{edges.max():.1f}; equal to scipy.ndimage.sobel; picture in {path}")


if __name__ == "__main__":
    main()
