"""The upscaler: a learned 2x super-resolution stage (64 -> 128 px) after the base generator,
trained with the same flow matching (generator/flow.py), conditioned on the degraded half-size
image and its noise level."""
