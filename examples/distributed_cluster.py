"""The same kernel on a dask.distributed cluster: worker processes receive the kernel by
pickle (its code and IR, not a module import) and compile it there (or load it from the
shared disk cache). Checked against the NumPy result in this process.
"""
import dask.array as da
import numpy as np
from distributed import Client, LocalCluster

from stencilc import stencil_ufunc


@stencil_ufunc(boundary="reflect")
def sharpen(x):
    return 5 * x[0, 0] - x[-1, 0] - x[1, 0] - x[0, -1] - x[0, 1]


def main(workers: int = 2) -> None:
    image = np.random.default_rng(3).normal(size=(4, 300, 400)).astype(np.float32)
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        lazy = sharpen(da.from_array(image, chunks=(1, 150, 200)))
        result = client.compute(lazy).result()
        ran_on = len(client.scheduler_info()["workers"])
    np.testing.assert_array_equal(result, sharpen(image))
    print(f"{lazy.npartitions} blocks on {ran_on} worker processes equal the NumPy result")


if __name__ == "__main__":
    main()
