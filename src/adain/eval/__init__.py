"""Evaluation: AdaIN losses, SSIM and time of a decoder against the optimization reference."""
