"""TinyDiT: a small pixel-space Diffusion Transformer trained with flow matching."""
