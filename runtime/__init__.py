"""What executes: the Tensor, the eager autograd engine, buffers and (later) compiled kernels."""
