"""Code generators: StencilIR -> source text of numba functions."""
