"""A colour photograph, smoothed per channel with ``axes=``.

An RGB image is (H, W, 3): the kernel's two core axes must be H and W, not W and the
channels. ``axes=[(0, 1), (0, 1)]`` says so, with NumPy's gufunc meaning; a stack (N, H, W, 3)
takes ``axes=[(1, 2), (1, 2)]``, lazily on Dask too. Checked against scipy.ndimage per channel.
"""
import dask.array as da
import numpy as np
from scipy import ndimage
from skimage import data

from stencilc import stencil_ufunc


@stencil_ufunc(boundary="mirror")
def box5(x):
    return (x[-2, 0] + x[-1, 0] + x[0, 0] + x[1, 0] + x[2, 0] +
            x[0, -2] + x[0, -1] + x[0, 1] + x[0, 2]) // 9


def main() -> None:
    photo = data.astronaut()                          # (512, 512, 3) uint8
    smoothed = box5(photo, axes=[(0, 1), (0, 1)])
    cross = np.zeros((5, 5), np.int32)
    cross[2, :] = cross[:, 2] = 1
    for c in range(3):
        total = ndimage.correlate(photo[..., c].astype(np.int32), cross, mode="mirror")
        np.testing.assert_array_equal(smoothed[..., c], (total // 9).astype(np.uint8))
    stack = da.from_array(np.stack([photo, photo[::-1]]), chunks=(1, 200, 200, 3))
    lazy = box5(stack, axes=[(1, 2), (1, 2)])
    np.testing.assert_array_equal(lazy[0].compute(), smoothed)
    print(f"smoothed each channel of a {photo.shape} photograph; a Dask stack "
          f"{stack.shape} in {stack.numblocks} blocks gives the same; equal to scipy.ndimage")


if __name__ == "__main__":
    main()
