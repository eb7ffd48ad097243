"""PyTorch's CPU autocast op lists (aten/src/ATen/autocast_mode.cpp, AutocastCPU): which ops
run in the autocast dtype, which in float32, which in their widest input type."""

from __future__ import annotations

LOWER = "lower_precision_fp"  # floating inputs (not float64) cast to the autocast dtype
FP32 = "fp32"  # floating inputs (not float64) cast to float32
PROMOTE = "promote"  # floating inputs (not float64) cast to the widest of them
NATIVE = "native"  # nothing cast, and ops inside run without autocast (Note [native ops])
LOWER_INSIDE = "lower_inside"  # computed as LOWER, the result in the inputs' type (bilinear)

# Note [native ops]
# PyTorch's autocast casts at the op the user calls and turns itself off while the op runs, so
# a listed op's own pieces are never cast again. An op outside the lists runs unchanged; when it
# is a composite (einsum, tensordot, inner, chain_matmul, linalg.multi_dot) its listed pieces are
# cast as they run, which adjit's composites do by calling the listed functions. Some ops that
# PyTorch runs as one native kernel (mv, dot, addmv, addr, bilinear, ...) adjit writes over
# listed ones (matmul): those are NATIVE here, so autocast stays off inside them as it does in
# PyTorch (checked op by op against PyTorch in tests/test_cpu_autocast.py). PyTorch's bilinear
# (native _trilinear) makes its products through autocast's bmm and writes them into a result of
# its inputs' type: the values of bilinear in the autocast dtype, given in float32.

CPU_POLICY: dict[str, str] = {
    **dict.fromkeys(
        """
        conv1d conv2d conv3d bmm mm linalg_vecdot baddbmm addmm addbmm linear _convolution matmul
        conv_tbc conv_transpose1d conv_transpose2d conv_transpose3d prelu
        scaled_dot_product_attention mkldnn_rnn_layer
        """.split(),  # noqa: SIM905 - a word list reads best as words
        LOWER,
    ),
    **dict.fromkeys(
        """
        avg_pool3d binary_cross_entropy grid_sampler polar prod quantile nanquantile stft cdist
        trace view_as_complex cholesky cholesky_inverse cholesky_solve inverse lu_solve orgqr
        ormqr pinverse max_pool3d max_unpool2d max_unpool3d adaptive_avg_pool3d mse_loss
        cosine_embedding_loss nll_loss hinge_embedding_loss poisson_nll_loss smooth_l1_loss
        cross_entropy_loss l1_loss huber_loss margin_ranking_loss soft_margin_loss
        triplet_margin_loss multi_margin_loss ctc_loss kl_div multilabel_margin_loss
        binary_cross_entropy_with_logits fft_fft fft_ifft fft_fft2 fft_ifft2 fft_fftn fft_ifftn
        fft_rfft fft_irfft fft_rfft2 fft_irfft2 fft_rfftn fft_irfftn fft_hfft fft_ihfft
        linalg_cond linalg_matrix_rank linalg_solve linalg_cholesky linalg_svdvals
        linalg_eigvals linalg_eigvalsh linalg_inv linalg_householder_product linalg_tensorinv
        linalg_tensorsolve geqrf qr svd triangular_solve fractional_max_pool2d
        fractional_max_pool3d adaptive_max_pool3d linalg_qr linalg_cholesky_ex linalg_svd
        linalg_eig linalg_eigh linalg_lstsq linalg_inv_ex reflection_pad1d reflection_pad2d
        replication_pad1d replication_pad2d replication_pad3d
        """.split(),  # noqa: SIM905 - a word list reads best as words
        FP32,
    ),
    **dict.fromkeys(["stack", "cat", "index_copy"], PROMOTE),
    **dict.fromkeys(["mv", "dot", "addmv", "addr"], NATIVE),
    "bilinear": LOWER_INSIDE,
}
