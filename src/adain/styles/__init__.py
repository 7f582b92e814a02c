"""Styles: their statistics (what AdaIN needs of a style), style banks and where banks are found."""

from adain.styles.bank import BANK_PREFIX, StyleBank
from adain.styles.library import resolve_style
from adain.styles.statistics import StyleInput, StyleStatistics, compute_style_statistics, resize_style

__all__ = [
    "BANK_PREFIX",
    "StyleBank",
    "StyleInput",
    "StyleStatistics",
    "compute_style_statistics",
    "resize_style",
    "resolve_style",
]
