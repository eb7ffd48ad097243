"""Pure Graph -> Graph passes: the adjoint, pruning, cleanup, symbolic simplification."""
